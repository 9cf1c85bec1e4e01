"""Fault probes for tests/test_faults.py: each probe injects one process-level fault, then reports as one JSON line on
stdout what the user saw (the error, how long it took) and what was left behind (processes, /dev/shm entries).

Run as `python tests/fault_probes.py PROBE [ARGS]`, normally inside a private mount namespace with its own small
/dev/shm (see `isolated` in test_faults.py), so that "nothing left in /dev/shm" can be checked exactly even while
other tests run in parallel.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

SHM = Path("/dev/shm")
ISOLATED = os.environ.get("ACCEL_NB_PRIVATE_SHM") == "1"   # /dev/shm is ours alone: it must end up empty


def alive(pids):
    "The pids that still run (zombies count as gone)."
    out = []
    for p in pids:
        try:
            if Path(f"/proc/{p}/stat").read_text().split()[2] != "Z": out.append(p)
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return out


def shm_left(names=()):
    "Entries of /dev/shm left behind: all of them when isolated, else those among `names`."
    if ISOLATED: return sorted(p.name for p in SHM.iterdir())
    return [n for n in names if (SHM / n).exists()]


def settle(pids, names=(), seconds=10.0):
    "Wait up to `seconds` for the processes and segments to go; returns (pids alive, entries left, seconds waited)."
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if not alive(pids) and not shm_left(names): break
        time.sleep(0.05)
    return alive(pids), shm_left(names), round(time.monotonic() - t0, 2)


def report(**kw):
    print(json.dumps(kw), flush=True)


def kill_mid_collective(trials="6"):
    "A worker SIGKILLed at a random moment of a loop of all-reduces: WorkerError within seconds, nothing left."
    import accel_nb.parallel as par
    rng = np.random.default_rng(int.from_bytes(os.urandom(4), "little"))
    for trial in range(int(trials)):
        pg = par.ProcessGroup(2)
        names, pids = [s.name for s in pg._shared], list(pg.pids)
        at = float(rng.uniform(0.1, 1.0))
        timer = threading.Timer(at, os.kill, (pids[1], signal.SIGKILL))
        timer.start()
        t0 = time.monotonic()
        try:
            pg.run(par._allreduce_loop, 10**9)
            error = None
        except par.WorkerError as e:
            error = str(e).splitlines()[0]
        seconds = time.monotonic() - t0 - at
        timer.join()
        left_pids, left_shm, _ = settle(pids, names, 5)
        report(trial=trial, error=error, seconds_after_kill=round(seconds, 3), left_pids=left_pids, left_shm=left_shm)


PARENT = """
import numpy as np, sys, time
from accel_nb.parallel import ProcessGroup, _on_rank
pg = ProcessGroup(2)
x = pg.share(np.ones(1000))
print(' '.join(s.name for s in pg._shared), '|', ' '.join(map(str, pg.pids)), flush=True)
pg.run(_on_rank, 0, time.sleep, 120)
"""


def parent_killed(sig="SIGKILL"):
    "The parent of a group dies (SIGKILL or SIGTERM, no cleanup runs): its workers and segments must follow."
    proc = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    names, pids = proc.stdout.readline().split("|")
    names, pids = names.split(), [int(p) for p in pids.split()]
    time.sleep(0.5)
    proc.send_signal(getattr(signal, sig))
    proc.communicate(timeout=30)
    left_pids, left_shm, waited = settle(pids, names, 15)
    report(signal=sig, left_pids=left_pids, left_shm=left_shm, seconds=waited)


def small_shm():
    "Under a 64 MiB /dev/shm: errors that name the limit (never SIGBUS), and collectives that still work."
    import accel_nb.parallel as par
    out = {}
    with par.ProcessGroup(2) as pg:
        try:
            pg.share(np.ones(10_000_000)); out["share"] = "accepted"
        except par.ShmSpaceError as e:
            out["share"] = str(e)
    real = par.shm_space
    par.shm_space = lambda path=par.SHM_DIR: None      # skip the first check: the reservation must catch it
    try:
        try:
            par.SharedArray.create(20_000_000, np.float64); out["reserve"] = "accepted"
        except par.ShmSpaceError as e:
            out["reserve"] = str(e)
    finally:
        par.shm_space = real
    with par.ProcessGroup(4) as pg:
        res = pg.run(par._allreduce_ranks, 4_000_000, "float32")
        want = (4 * (np.arange(4_000_000) % 7) + 10).astype(np.float32)
        out["allreduce_4x4M"] = all(np.array_equal(r, want) for r in res)
    try:
        par.ProcessGroup(4, scratch_bytes=2**24); out["scratch"] = "accepted"
    except par.ShmSpaceError as e:
        out["scratch"] = str(e)
    _, out["left_shm"], _ = settle([], [], 5)
    report(**out)


MISMATCH = """
import sys, numpy as np
from accel_nb.distributed import MPIComm
case = sys.argv[1]
with MPIComm(timeout=5) as c:
    if case == "ops": c.allreduce(np.ones(3)) if c.rank == 0 else c.barrier()
    elif case == "sizes": c.allreduce(np.ones(3 + c.rank))
    elif case == "dtypes": c.allreduce(np.ones(3, np.float32 if c.rank else np.float64))
    elif case == "skip": c.barrier() if c.rank == 0 else None
"""


def mpi_mismatch(case):
    "Two MPI ranks that call different collectives: the job ends with a CollectiveError (not a hang), nothing left."
    from accel_nb.distributed import _mpi_segments, _run_job, _stale_segments, mpiexec_path
    before = _mpi_segments()
    t0 = time.monotonic()
    r = _run_job([mpiexec_path(), "-n", "2", sys.executable, "-c", MISMATCH, case], timeout=60)
    lines = [l for l in r.stderr.splitlines() if "CollectiveError:" in l]
    lines = [l for l in lines if "aborting all" not in l] or lines   # the reason, not the abort notice (ranks print in any order)
    _, left, _ = settle([], [], 5)
    report(case=case, returncode=r.returncode, seconds=round(time.monotonic() - t0, 2), error=lines[-1] if lines else r.stderr[-500:],
           left_shm=left if ISOLATED else sorted(_stale_segments(before)))


def _job_pids(marker):
    "Processes whose command line contains `marker` (the ranks and mpiexec of one job)."
    out = []
    for p in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker in p.read_bytes().decode(errors="replace"): out.append(int(p.parent.name))
        except OSError:
            pass
    return [p for p in out if p != os.getpid()]


def cli_mpi(mode):
    "`accel-nb train --ranks 2` killed by an injected fault, or interrupted with Ctrl-C (SIGINT): nothing left."
    import tempfile
    from accel_nb.distributed import _mpi_segments, _stale_segments
    before = _mpi_segments()
    marker = tempfile.mktemp(prefix="accel-nb-probe-", suffix=".npy")
    args = [sys.executable, "-m", "accel_nb.cli", "train", "--ranks", "2", "--quiet", "--save-params", marker]
    args += ["--epochs", "3", "--inject-fault", "1:3:kill"] if mode == "kill" else ["--epochs", "1000000"]   # far longer than the test: it must be interrupted
    t0 = time.monotonic()
    # a terminal's Ctrl-C reaches a process whose SIGINT is at its default; a job started in the background by a
    # non-interactive shell (nohup ... &) inherits SIGINT *ignored*, and then Python installs no KeyboardInterrupt handler
    restore = (lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)) if mode == "ctrl-c" else None
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=restore)
    if mode == "ctrl-c":
        while time.monotonic() - t0 < 60 and len(_job_pids(marker)) < 3: time.sleep(0.1)   # mpiexec and 2 ranks
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    seconds = time.monotonic() - t0
    left_pids, _, _ = settle(_job_pids(marker), [], 10)
    _, left, _ = settle([], [], 5)
    left = left if ISOLATED else sorted(_stale_segments(before))   # a concurrent job's live segments are mapped
    report(mode=mode, returncode=proc.returncode, seconds=round(seconds, 2), stderr_tail=err.strip().splitlines()[-1:] if err.strip() else [],
           left_pids=left_pids, left_shm=left)


if __name__ == "__main__":
    globals()[sys.argv[1]](*sys.argv[2:])
