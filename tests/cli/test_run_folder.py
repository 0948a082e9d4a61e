"""Run folders that tell the truth: what the "run folder:" line lists exists, config.json says
how the run ended, diverged weights are never the model, nothing is overwritten."""

import json
import os
import stat

import numpy as np

import chainrule as cr
from chainrule import cli
from chainrule.cli import commands
from chainrule.data import datasets

QUICK = ["--dataset", "moons", "--epochs", "1"]


def _document(out):
    return json.loads((out / "config.json").read_text())


def test_zero_epochs_still_writes_history_and_curves(tmp_path, capsys):
    out = tmp_path / "zero"
    assert cli.main(["train", "--dataset", "moons", "--epochs", "0", "--out", str(out)]) == 0
    listed = capsys.readouterr().out.splitlines()[-1]
    for name in ("history.csv", "curves.png", "config.json", "model.safetensors"):
        assert (out / name).is_file() and name in listed
    assert "checkpoint.safetensors" not in listed  # none was written, so none is listed
    assert _document(out)["outcome"]["status"] == "finished"


def test_a_diverging_run_keeps_the_last_finite_weights(tmp_path, capsys):
    out = tmp_path / "nan"
    status = cli.main(["train", *QUICK, "--epochs", "3", "--optimizer", "sgd", "--lr", "1e30",
                       "--scheduler", "none", "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 1 and "Warning" not in captured.err
    outcome = _document(out)["outcome"]
    assert outcome["status"] == "diverged" and "last finite" in captured.out
    weights = cr.load(out / "model.safetensors")
    assert all(np.isfinite(w).all() for w in weights.values())
    assert (out / "history.csv").is_file() and (out / "curves.png").is_file()


def test_early_stopping_line_comes_before_the_result_and_names_the_kept_epoch(tmp_path, capsys):
    out = tmp_path / "early"
    assert cli.main(["train", *QUICK, "--epochs", "40", "--early-stopping", "1", "--lr", "0.3",
                     "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    outcome = _document(out)["outcome"]
    assert outcome["status"] == "early-stopped", outcome
    stop = next(i for i, line in enumerate(lines) if line.startswith("early stopping at epoch"))
    result = next(i for i, line in enumerate(lines) if line.startswith("test accuracy"))
    assert stop < result and f"keeps epoch {outcome['kept_epoch']}'s weights" in lines[stop]


def test_history_has_the_permissions_of_the_other_files(tmp_path):
    out = tmp_path / "run"
    assert cli.main(["train", *QUICK, "--quiet", "--out", str(out)]) == 0
    modes = {name: stat.S_IMODE(os.stat(out / name).st_mode)
             for name in ("history.csv", "config.json", "model.safetensors")}
    assert len(set(modes.values())) == 1, modes


def test_default_names_never_collide(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(commands, "_plots", lambda *args: None)
    for _ in range(2):
        assert cli.main(["train", *QUICK, "--quiet"]) == 0
    assert len(list((tmp_path / "runs").iterdir())) == 2


def test_extending_a_finished_run_replans_the_schedule(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", *QUICK, "--epochs", "2", "--out", str(out)]) == 0
    capsys.readouterr()
    assert cli.main(["train", "--resume", str(out), "--epochs", "4"]) == 0
    text = capsys.readouterr().out
    assert "re-planned over the new total of 4 epochs" in text and "epochs 2 -> 4" in text
    assert _document(out)["config"]["epochs"] == 4
    scheduler = cr.train.read_checkpoint(out / "checkpoint.safetensors")["scheduler"]["state"]
    assert scheduler["T_max"] == 4 and scheduler["last_epoch"] == 4


def test_predict_warns_about_raw_digit_pixels(tmp_path, capsys):
    out = tmp_path / "digits"
    assert cli.main(["train", "--dataset", "digits", "--model", "mlp", "--hidden", "8",
                     "--epochs", "1", "--quiet", "--out", str(out)]) == 0
    train, _ = datasets.digits()
    raw = np.stack([train[i][0] for i in range(3)]) * 16
    np.save(tmp_path / "raw.npy", raw)
    assert cli.main(["predict", str(out), str(tmp_path / "raw.npy")]) == 0
    assert "expects inputs scaled the same way" in capsys.readouterr().err
