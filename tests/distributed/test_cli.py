"""``chainrule train`` in two processes: ``--nproc 2`` and ``mpiexec -n 2`` write one run folder
from rank 0, and a checkpoint of a two-process run resumes in two processes bit for bit."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main
from tests.distributed.mpi import ENV, mpiexec, require_mpi

RUN = ["train", "--dataset", "moons", "--hidden", "16", "--batch-norm", "--seed", "3"]


def _chainrule(*args, cwd, launcher=()):
    return subprocess.run([*launcher, sys.executable, "-m", "chainrule", *args], cwd=cwd,
                          env=ENV, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    require_mpi(tmp_path_factory)
    folder = tmp_path_factory.mktemp("cli")
    whole = _chainrule(*RUN, "--epochs", "2", "--nproc", "2", "--out", "whole", cwd=folder)
    half = _chainrule(*RUN, "--epochs", "1", "--out", "half", "--quiet", cwd=folder,
                      launcher=(mpiexec(), "-n", "2"))
    resumed = _chainrule("train", "--resume", "half", "--epochs", "2", "--nproc", "2",
                         "--quiet", cwd=folder)
    return folder, whole, half, resumed


def test_two_processes_write_one_run_folder_from_rank_0(runs):
    folder, whole, half, _ = runs
    assert whole.returncode == 0, whole.stderr
    assert half.returncode == 0, half.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["half", "whole"]
    assert whole.stdout.count("mlp on moons:") == 1  # printed by rank 0 only
    assert "2 processes (MPI)" in whole.stdout and "batch 32 per process" in whole.stdout
    assert whole.stdout.count("test accuracy") == 1 and half.stdout.count("test accuracy") == 1
    history = (folder / "whole" / "history.csv").read_text().splitlines()
    assert len(history) == 3  # header and one row per epoch, written once
    document = json.loads((folder / "whole" / "config.json").read_text())
    assert document["outcome"]["status"] == "finished"


def test_a_two_process_checkpoint_resumes_bit_for_bit_in_two_processes(runs):
    folder, _, _, resumed = runs
    assert resumed.returncode == 0, resumed.stderr
    once, twice = cr.load(folder / "whole" / "model.safetensors"), cr.load(
        folder / "half" / "model.safetensors")
    assert sorted(once) == sorted(twice)
    for key in once:
        np.testing.assert_array_equal(once[key], twice[key], err_msg=key)
    lines = [(folder / name / "history.csv").read_text().splitlines() for name in ("whole",
                                                                                   "half")]
    strip = [[row.rsplit(",", 1)[0] for row in rows] for rows in lines]  # all but the time
    assert strip[0] == strip[1]


@pytest.mark.parametrize("flags, message", [
    (["--nproc", "0"], "--nproc 0 is not accepted: expected a number of processes >= 1"),
    (["--hostfile", "hosts"], "--hostfile lists the machines for --nproc; give --nproc N too"),
    (["--nproc", "2", "--hostfile", "missing.txt"], "--hostfile missing.txt: no such file"),
])
def test_bad_process_options_are_one_line_errors(tmp_path, capsys, monkeypatch, flags, message):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--dataset", "moons", "--quiet", *flags]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
    assert not any(tmp_path.iterdir())


def test_nproc_1_trains_in_this_process(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("chainrule.cli.commands._plots", lambda *args: None)
    assert main(["train", "--dataset", "moons", "--epochs", "1", "--quiet", "--nproc", "1",
                 "--out", "run"]) == 0
    assert (tmp_path / "run" / "model.safetensors").is_file()
    assert "2 processes" not in capsys.readouterr().out
