"""Process-level faults (issue 16): workers killed mid-collective, parents that die, a small /dev/shm, mismatched MPI
collectives, MPI jobs from the CLI that abort or are interrupted, and `--out` directories that cannot be written.

Each test runs a probe (tests/fault_probes.py) in a subprocess under a hard timeout, so no fault can hang the suite.
Where the machine allows unprivileged mount namespaces (`unshare -rm`), the probe gets a private /dev/shm (and
`--out` a private tmpfs), so "nothing left in /dev/shm" is checked exactly even while other tests run in parallel
(pytest -n 2); elsewhere the probe checks the entries it knows it created, and the tests that need a small /dev/shm
skip with the reason.
"""
import json
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PROBES = HERE / "fault_probes.py"


@lru_cache(None)
def can_isolate() -> bool:
    "True when `unshare -rm` can give a process its own mounts (a private /dev/shm)."
    if not sys.platform.startswith("linux") or not shutil.which("unshare"): return False
    r = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"], capture_output=True, timeout=30)
    return r.returncode == 0


def mpi_available() -> bool:
    try:
        from accel_nb.backend import requires
        return requires("mpi", quiet=True)
    except Exception:
        return False


def run_probe(*args, shm="256m", timeout=240, need_isolation=False):
    "Run a probe (privately isolated when possible); returns its JSON reports. Fails if it does not end in `timeout` s."
    cmd = [sys.executable, str(PROBES), *args]
    env = None
    if can_isolate():
        cmd = ["unshare", "-rm", "sh", "-c", f'mount -t tmpfs -o size={shm} tmpfs /dev/shm && exec "$@"', "sh", *cmd]
        import os
        env = {**os.environ, "ACCEL_NB_PRIVATE_SHM": "1"}
    elif need_isolation:
        pytest.skip("needs a private /dev/shm (unshare -rm is not permitted here)")
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"probe {args} did not finish within {timeout} s (a hang):\n{e.stderr}")
    reports = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    assert r.returncode == 0 and reports, f"probe {args} failed (exit {r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return reports


def test_worker_sigkill_mid_collective():
    "Issue 16.1: six trials, each a WorkerError naming worker 1 and SIGKILL within seconds; nothing left behind."
    reports = run_probe("kill_mid_collective", "6")
    assert len(reports) == 6
    for rep in reports:
        assert rep["error"] and "worker 1" in rep["error"] and "killed by SIGKILL" in rep["error"], rep
        assert rep["seconds_after_kill"] < 5, rep
        assert rep["left_pids"] == [] and rep["left_shm"] == [], rep


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_parent_killed(sig):
    "Issue 16.2: the workers die with their parent, and its segments are removed (by the resource tracker)."
    rep, = run_probe("parent_killed", sig)
    assert rep["left_pids"] == [] and rep["left_shm"] == [], rep
    assert rep["seconds"] < 10, rep


def test_small_dev_shm():
    "Issue 16.3: a 64 MiB /dev/shm (Docker's default) gives errors naming the limit, never SIGBUS."
    rep, = run_probe("small_shm", shm="64m", need_isolation=True)
    for key in ("share", "reserve", "scratch"):
        assert "of shared memory, but /dev/shm has" in rep[key] and "--shm-size" in rep[key], (key, rep[key])
    assert rep["allreduce_4x4M"] is True and rep["left_shm"] == [], rep


@pytest.mark.skipif(not mpi_available(), reason="needs mpi4py and mpiexec")
@pytest.mark.parametrize("case,expect", [
    ("ops", "rank 0: allreduce of 3 float64 (collective #1); rank 1: barrier (collective #1)"),
    ("sizes", "rank 0: allreduce of 3 float64 (collective #1); rank 1: allreduce of 4 float64 (collective #1)"),
    ("dtypes", "rank 0: allreduce of 3 float64 (collective #1); rank 1: allreduce of 3 float32 (collective #1)"),
    ("skip", "not every rank reached barrier (collective #1) within 5 s")])
def test_mpi_mismatched_collectives(case, expect):
    "Issue 16.8: MPI ranks calling different collectives end the job with a CollectiveError, never a hang."
    rep, = run_probe("mpi_mismatch", case)
    assert rep["returncode"] != 0 and expect in rep["error"], rep
    assert rep["seconds"] < 30 and rep["left_shm"] == [], rep


@pytest.mark.skipif(not mpi_available(), reason="needs mpi4py and mpiexec")
@pytest.mark.parametrize("mode", ["kill", "ctrl-c"])
def test_cli_mpi_job_cleans_up(mode):
    "Issue 16.7: `accel-nb train --ranks 2` killed by a fault, or interrupted: no rank and no MPICH segment left."
    rep, = run_probe("cli_mpi", mode)
    assert rep["left_pids"] == [] and rep["left_shm"] == [], rep
    if mode == "kill": assert rep["returncode"] != 0, rep
    else: assert rep["returncode"] == 130 and rep["stderr_tail"] == ["accel-nb: interrupted"], rep


OUT_CASES = {"read-only": "mount -t tmpfs -o size=64m,ro tmpfs /mnt", "full": "mount -t tmpfs -o size=1m tmpfs /mnt"}


@pytest.mark.parametrize("case", list(OUT_CASES))
def test_tour_out_unwritable(case):
    "Issue 16.10: `accel-nb tour --out` on a read-only or full filesystem is refused before any work, leaving nothing."
    if not can_isolate(): pytest.skip("needs a private mount (unshare -rm is not permitted here)")
    script = f'{OUT_CASES[case]} && {sys.executable} -m accel_nb.cli tour --quick --only rates --out /mnt/tour; echo "rc=$?"; ls -A /mnt'
    r = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=120)
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "rc=2", (r.stdout, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1 and "--out directory /mnt/tour" in r.stderr, r.stderr
    assert lines[1:] == [], lines                       # nothing written, not even the directory
    assert ("Read-only file system" if case == "read-only" else "MiB free") in r.stderr, r.stderr
