"""pytest runs every notebook in nbs/ as a test, with nbdev's own notebook runner (what nbdev-test does per notebook).

Cells marked with a flag from `tst_flags` (`slow`, `cuda`, `mpi`) are skipped unless the flag is forced:
`--flags "slow mpi"` forces exactly those; by default `mpi` is forced when mpi4py and mpiexec work here and `cuda`
when a GPU is usable, so `pytest` runs every test this machine can run.
"""
import shutil


def pytest_addoption(parser):
    parser.addoption("--flags", default=None,
                     help="space-separated notebook test flags to run (default: mpi and cuda where available)")


def detected_flags():
    flags = []
    try:
        import mpi4py  # noqa: F401
        if shutil.which("mpiexec"): flags.append("mpi")
    except ImportError:
        pass
    try:
        from accel_nb.backend import gpu_available
        if gpu_available(): flags.append("cuda")
    except Exception:
        pass
    return flags


def pytest_configure(config):
    opt = config.getoption("--flags")
    config.nb_flags = detected_flags() if opt is None else opt.split()


def pytest_report_header(config):
    return f"notebook flags forced: {config.nb_flags or 'none'} (cells marked with other tst_flags are skipped)"
