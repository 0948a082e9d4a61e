"""A rank that raises or dies ends the whole job within bounded time, with one line that names
it; a wrong command line under mpiexec is reported once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.distributed.mpi import ENV, ROOT, mpiexec, require_mpi

BOUND = 30.0  # seconds: the limit from the failure to the end of the job


def _job_pid(marker: str, rank: int) -> int | None:
    """The process of the job marked ``marker`` whose MPI rank is ``rank`` (from /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            variables = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"CHAINRULE_TEST_JOB={marker}".encode() in variables \
                and f"PMI_RANK={rank}".encode() in variables:
            return int(entry.name)
    return None


def test_a_rank_that_raises_stops_the_job_with_one_line_naming_it(tmp_path_factory):
    launcher = mpiexec()
    require_mpi(tmp_path_factory)
    started = time.monotonic()
    done = subprocess.run([launcher, "-n", "2", sys.executable,
                           str(ROOT / "tests/distributed/raising_worker.py")], env=ENV,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - started
    assert done.returncode != 0
    assert elapsed < BOUND
    lines = [line for line in done.stderr.splitlines() if "chainrule.distributed" in line]
    assert lines == ["chainrule.distributed: rank 1 of 2 failed with ValueError: the data of "
                     "rank 1 is broken; stopping the other processes"], done.stderr
    assert "Traceback" in done.stderr and "MPI_Abort" not in done.stderr


def test_a_killed_rank_ends_the_job_with_a_line_naming_it(tmp_path, tmp_path_factory):
    require_mpi(tmp_path_factory)
    marker = uuid.uuid4().hex
    process = subprocess.Popen(
        [sys.executable, "-m", "chainrule", "train", "--nproc", "2", "--dataset", "digits",
         "--model", "mlp", "--hidden", "16", "--epochs", "1000", "--quiet", "--out", "run"],
        cwd=tmp_path, env=dict(ENV, CHAINRULE_TEST_JOB=marker), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        victim = None
        while time.monotonic() < deadline and not (tmp_path / "run" / "config.json").exists():
            time.sleep(0.1)  # rank 0 writes config.json when both ranks are set up
        victim = _job_pid(marker, 1)
        assert victim is not None, "rank 1 of the job was not found"
        time.sleep(0.5)  # into the training steps
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        stdout, stderr = process.communicate(timeout=60)
        elapsed = time.monotonic() - killed
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode != 0
    assert elapsed < BOUND
    assert stderr.strip().splitlines()[-1] == (
        f"chainrule train: error: rank 1 (pid {victim} on {os.uname().nodename}) ended "
        "abnormally (Killed (signal 9)); the other processes were stopped"), stderr
    assert "BAD TERMINATION" not in stdout  # mpiexec's banner is replaced by that line


def test_a_wrong_command_line_under_mpiexec_is_reported_once(tmp_path, tmp_path_factory):
    launcher = mpiexec()
    require_mpi(tmp_path_factory)
    started = time.monotonic()
    done = subprocess.run([launcher, "-n", "2", sys.executable, "-m", "chainrule", "train",
                           "--dataset", "spirals", "--channels", "8"], cwd=tmp_path, env=ENV,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert time.monotonic() - started < BOUND
    assert done.stderr.strip().splitlines() == [
        "chainrule train: error: --channels 8 does not apply: mlp has no convolution channels "
        "(use --hidden for its widths); drop it"], done.stderr
    assert not any(tmp_path.iterdir())
