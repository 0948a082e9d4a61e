"""Starting ``mpiexec -n 2`` from the tests: skipped, with the reason, only where MPI cannot
start; one launch per worker script even under pytest-xdist (the first test process to need it
runs it, under a file lock, and the others read its results)."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chainrule.distributed import find_mpiexec

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           PYTHONUNBUFFERED="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")


def mpiexec() -> str:
    """The mpiexec to use, or a skip saying why there is none."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        pytest.skip("mpi4py is not installed (python3 -m pip install 'chainrule[distributed]')")
    found = find_mpiexec()
    if found is None:
        pytest.skip("no mpiexec beside this Python or on PATH (pip install mpich)")
    return found


def shared_folder(tmp_path_factory, name: str) -> Path:
    """A folder that every xdist worker of this session sees under the same name."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    folder = base / f"mpi-{name}"
    folder.mkdir(exist_ok=True)
    return folder


def _can_start(launcher: str, tmp_path_factory) -> str | None:
    """None when ``mpiexec -n 2`` can run two processes that meet; otherwise why not."""
    folder = shared_folder(tmp_path_factory, "probe")
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = folder / "probe.json"
        if not record.exists():
            probe = "from mpi4py import MPI; MPI.COMM_WORLD.Barrier()"
            try:
                done = subprocess.run([launcher, "-n", "2", sys.executable, "-c", probe],
                                      env=ENV, capture_output=True, text=True, timeout=60,
                                      stdin=subprocess.DEVNULL)
                reason = None if done.returncode == 0 else (
                    f"exit status {done.returncode}: {done.stderr.strip()[-300:]}")
            except (OSError, subprocess.TimeoutExpired) as error:
                reason = str(error)
            record.write_text(json.dumps({"reason": reason}))
        return json.loads(record.read_text())["reason"]


def require_mpi(tmp_path_factory) -> None:
    """Skip, with the reason, where mpiexec cannot start two processes."""
    reason = _can_start(mpiexec(), tmp_path_factory)
    if reason is not None:
        pytest.skip(f"mpiexec -n 2 cannot start two processes here ({reason})")


def run_once(tmp_path_factory, name: str, script: str, timeout: float = 240) -> Path:
    """Run ``mpiexec -n 2 python SCRIPT FOLDER`` once per session; returns the folder, which
    holds the script's files. Skips only when mpiexec cannot start two processes at all."""
    launcher = mpiexec()
    require_mpi(tmp_path_factory)
    folder = shared_folder(tmp_path_factory, name)
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = folder / "run.json"
        if not record.exists():
            done = subprocess.run([launcher, "-n", "2", sys.executable, str(ROOT / script),
                                   str(folder)], env=ENV, capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
            record.write_text(json.dumps({"status": done.returncode, "stdout": done.stdout,
                                          "stderr": done.stderr}))
    result = json.loads(record.read_text())
    assert result["status"] == 0, result["stderr"][-3000:]
    return folder
