"""Execute every notebook in nbs/ as a reader's "Run All" does: a fresh Jupyter kernel per notebook, every cell in
order, top to bottom -- nbdev's flags (`#| slow`, `#| cuda`, `#| mpi`, `#| eval: false`) are NOT honoured, because
Jupyter knows nothing of them. A cell that needs a GPU, MPI or an optional extra must check for it itself
(`accel_nb.backend.requires`) and skip with one line.

The kernel starts in nbs/ (Jupyter's working directory for a notebook); the executed copies are written to a
temporary directory (or --out), never over the committed notebooks. Each notebook runs in its own child process with a
wall-clock limit (--timeout, seconds per notebook), so a hang fails that notebook and the run goes on.

Usage: python tools/run_all.py [--timeout 900] [--out DIR] [--keep-going] [NOTEBOOK ...]   (default: every nbs/*.ipynb, in order)
Prints one line per notebook ("ok" with its time, or FAILED with the cell index, its first source line and the
error), then "N passed, N failed"; exits 1 if any notebook failed.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / "nbs"


def notebooks(names):
    if names: return [Path(n).resolve() for n in names]
    return sorted(p for p in NBS.glob("*.ipynb") if not p.name.startswith("_"))


def check_kernel():
    "The `python3` kernel must run this interpreter (the environment under test), not some other installation."
    from jupyter_client.kernelspec import KernelSpecManager
    argv0 = KernelSpecManager().get_kernel_spec("python3").argv[0]
    # jupyter_client replaces a bare `python`/`python3` with sys.executable when it starts the kernel
    if argv0 not in ("python", "python3", f"python{sys.version_info.major}", sys.executable):
        sys.exit(f"the python3 kernel runs {argv0!r}, not this environment's {sys.executable}: "
                 "run this script from the environment to test (its ipykernel provides the kernel)")


def _first_line(src):
    return next((l for l in src.splitlines() if l.strip() and not l.startswith("#|")), "")[:100]


def execute_one(nb_path, out_path, cell_timeout, keep_going=False):
    "Child process: run one notebook in a fresh kernel; write the executed copy; report failures as JSON on stdout."
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    nb = nbformat.read(nb_path, as_version=4)
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3", allow_errors=keep_going,
                            resources={"metadata": {"path": str(Path(nb_path).parent)}})
    running = {"index": None}
    client.on_cell_execute = lambda cell, cell_index: running.update(index=cell_index)
    failure = None
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
        i = running["index"]
        first = _first_line(nb.cells[i].source) if i is not None else ""
        err = next((o for o in nb.cells[i].get("outputs", []) if o.get("output_type") == "error"), None) \
            if i is not None else None
        if isinstance(e, CellTimeoutError): what = f"the cell ran past --cell-timeout {cell_timeout} s"
        elif err: what = f"{err['ename']}: {err['evalue']}"
        else: what = f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[-1]}"
        failure = [{"cell": i, "first_line": first, "error": what[:500]}]
    finally:
        nbformat.write(nb, out_path)
    if keep_going and failure is None:  # every cell ran; collect the cells that raised
        failure = [{"cell": i, "first_line": _first_line(c.source), "error": f"{o['ename']}: {o['evalue']}"[:500]}
                   for i, c in enumerate(nb.cells) for o in c.get("outputs", []) if o.get("output_type") == "error"] or None
    print(json.dumps(failure))


def run_one(nb, out_dir, timeout, cell_timeout, keep_going=False):
    "Parent: run `execute_one` in a child with a wall-clock limit; return (ok, seconds, message)."
    out_path = Path(out_dir) / nb.name
    cmd = [sys.executable, __file__, "--child", str(nb), str(out_path), str(cell_timeout), str(int(keep_going))]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=nb.parent,
                            start_new_session=True)  # own process group, killed whole on a timeout; the kernel
    # (which jupyter_client starts in a session of its own) exits when its parent dies (ipykernel's parent poller)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return False, time.perf_counter() - t0, f"timed out after {timeout} s (whole notebook)"
    seconds = time.perf_counter() - t0
    lines = out.strip().splitlines()
    try: failure = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        return False, seconds, f"runner exited {proc.returncode}: {err.strip()[-800:]}"
    if failure is None and proc.returncode == 0: return True, seconds, ""
    if failure is None: return False, seconds, f"runner exited {proc.returncode}: {err.strip()[-800:]}"
    return False, seconds, "\n    ".join(f"cell [{f['cell']}] `{f['first_line']}`\n      {f['error']}" for f in failure)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return execute_one(sys.argv[2], sys.argv[3], int(sys.argv[4]), bool(int(sys.argv[5])))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", help="notebooks to run (default: every nbs/*.ipynb, in order)")
    ap.add_argument("--timeout", type=int, default=900, help="wall-clock limit per notebook, seconds (default 900)")
    ap.add_argument("--cell-timeout", type=int, default=600, help="limit per cell, seconds (default 600)")
    ap.add_argument("--keep-going", action="store_true",
                    help="diagnosis: run every cell even after an error and list every failing cell (not Run All's behaviour)")
    ap.add_argument("--out", help="directory for the executed copies (default: a temporary directory, removed)")
    args = ap.parse_args()
    if args.timeout <= 0 or args.cell_timeout <= 0: ap.error("--timeout and --cell-timeout must be positive")
    check_kernel()
    nbs = notebooks(args.notebooks)
    missing = [str(p) for p in nbs if not p.is_file()]
    if missing: ap.error(f"no such notebook: {', '.join(missing)}")
    tmp = None if args.out else tempfile.TemporaryDirectory(prefix="accel_nb-runall-")
    out_dir = Path(args.out) if args.out else Path(tmp.name)
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"Run All in a fresh kernel ({sys.executable}); executed copies in {out_dir}", flush=True)
    passed, failed, t_all = 0, [], time.perf_counter()
    for nb in nbs:
        ok, seconds, msg = run_one(nb, out_dir, args.timeout, args.cell_timeout, args.keep_going)
        name = nb.relative_to(ROOT) if nb.is_relative_to(ROOT) else nb
        if ok: passed += 1; print(f"  ok      {name}  ({seconds:.0f} s)", flush=True)
        else: failed.append(name); print(f"  FAILED  {name}  ({seconds:.0f} s): {msg}", flush=True)
    print(f"Run All: {passed} passed, {len(failed)} failed in {time.perf_counter() - t_all:.0f} s"
          + (f" (failed: {', '.join(map(str, failed))})" if failed else ""))
    if tmp: tmp.cleanup()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
