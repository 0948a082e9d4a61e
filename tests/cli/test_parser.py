"""Every bad input of the command line: exit status 2, one line on stderr that names the value,
no traceback, and the folders exactly as they were (nothing created, nothing changed)."""

import json
import os

import numpy as np
import pytest

from chainrule import cli

QUICK = ["--dataset", "moons", "--epochs", "1", "--quiet"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished moons run (one epoch) that the cases below must leave untouched."""
    out = tmp_path_factory.mktemp("runs") / "moons"
    assert cli.main(["train", *QUICK, "--out", str(out)]) == 0
    return out


def _snapshot(*folders):
    state = {}
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            for name in dirs + files:
                path = os.path.join(root, name)
                stat = os.stat(path)
                state[path] = (stat.st_size, stat.st_mtime_ns, stat.st_mode)
    return state


def _files(tmp_path):
    """Inputs for predict, configs for --config, a damaged run folder."""
    arrays = {"strings": np.array(["a", "b"]), "complex": np.ones((2, 2), complex),
              "empty": np.zeros((0, 2), np.float32), "shape": np.zeros((3, 5), np.float32),
              "nan": np.array([[np.nan, 1.0]], np.float32)}
    for name, array in arrays.items():
        np.save(tmp_path / f"{name}.npy", array)
    np.savez(tmp_path / "archive.npz", x=np.zeros((2, 2)))
    (tmp_path / "text.npy").write_text("1,2\n3,4\n")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "bool.toml").write_text('dataset = "moons"\nbatch_norm = "no"\n')
    (tmp_path / "seed.toml").write_text('dataset = "moons"\nseed = -1\n')
    (tmp_path / "inf.toml").write_text('dataset = "moons"\nlr = inf\n')
    (tmp_path / "a_file").write_text("")
    return tmp_path


CASES = [
    # (argv with {run}/{tmp}, what the line must contain)
    (["train", *QUICK, "--lr", "inf"], "--lr inf is not accepted: expected a finite number"),
    (["train", *QUICK, "--lr", "nan"], "--lr nan is not accepted"),
    (["train", *QUICK, "--lr", "-1"], "--lr -1.0 is not accepted"),
    (["train", *QUICK, "--weight-decay", "inf"], "--weight-decay inf"),
    (["train", *QUICK, "--l1", "nan"], "--l1 nan"),
    (["train", *QUICK, "--dropout", "1"], "--dropout 1.0"),
    (["train", *QUICK, "--mixup", "inf"], "--mixup inf"),
    (["train", *QUICK, "--clip-grad-norm", "nan"], "--clip-grad-norm nan"),
    (["train", *QUICK, "--val-fraction", "inf"], "--val-fraction inf"),
    (["train", *QUICK, "--seed", "-1"], "--seed -1 is not accepted"),
    (["train", *QUICK, "--seed", "x"], "expected a whole number, got 'x'"),
    (["train", *QUICK, "--epochs", "-3"], "--epochs -3"),
    (["train", *QUICK, "--batch-size", "-1"], "--batch-size -1"),
    (["train", *QUICK, "--early-stopping", "0"], "--early-stopping 0"),
    (["train", *QUICK, "--pca", "0"], "--pca 0"),
    (["train", *QUICK, "--hidden", "10,,10"], "--hidden: expected comma-separated"),
    (["train", *QUICK, "--hidden", "0"], "--hidden 0 is not accepted"),
    (["train", *QUICK, "--channels", "4"], "--channels 4 does not apply"),
    (["train", "--dataset", "digits", "--model", "resnet", "--hidden", "8", "--epochs", "1"],
     "--hidden 8 does not apply"),
    (["train", "--dataset", "digits", "--model", "resnet", "--no-bias"],
     "--no-bias does not apply"),
    (["train", "--dataset", "digits", "--model", "cnn", "--hidden", "8,8"], "one dense layer"),
    (["train", "--dataset", "mnist1d", "--model", "gru", "--channels", "4"],
     "--channels 4 does not apply: gru has no convolution channels"),
    (["train", "--dataset", "mnist1d", "--model", "lstm", "--batch-norm"],
     "--batch-norm does not apply: lstm has no batch normalization"),
    (["train", "--dataset", "mnist1d", "--model", "gru", "--init", "he"],
     "--init he does not apply"),
    (["train", "--dataset", "mnist1d", "--model", "gru", "--activation", "relu"],
     "--activation relu does not apply: gru's gates use sigmoid and tanh"),
    (["train", "--dataset", "mnist1d", "--model", "rnn", "--activation", "gelu"],
     "an rnn's activation is tanh or relu"),
    (["train", "--dataset", "mnist1d", "--model", "lstm", "--hidden", "6,6"], "one hidden size"),
    (["train", "--dataset", "moons", "--model", "gru", "--epochs", "1"],
     "--model gru needs images (C, H, W) or signals (C, L)"),
    (["train", *QUICK, "--data-dir", "{tmp}"], "--data-dir"),
    (["train", *QUICK, "--val-fraction", "0", "--early-stopping", "2"], "no validation split"),
    (["train", *QUICK, "--val-fraction", "0", "--scheduler", "plateau"], "no validation split"),
    (["train", *QUICK, "--optimizer", "adamax"], "invalid choice: 'adamax'"),
    (["train", *QUICK, "--optimizer", "lbfgs", "--weight-decay", "0.1"], "--weight-decay"),
    (["train", "--optimizer", "newton", "--epochs", "1"], "--optimizer lbfgs"),
    (["train", "--optimizer", "bfgs", "--epochs", "1"], "--optimizer lbfgs"),
    (["train", "--config", "{tmp}/bool.toml"], "batch_norm = 'no' is not accepted"),
    (["train", "--config", "{tmp}/seed.toml"], "seed = -1 is not accepted"),
    (["train", "--config", "{tmp}/inf.toml"], "lr = inf is not accepted"),
    (["train", "--config", "{tmp}/none.toml"], "cannot read it"),
    (["train", *QUICK, "--out", "{run}"], "already exists and is not empty; a run folder is "
     "never overwritten"),
    (["train", *QUICK, "--out", "{tmp}/a_file"], "is a file"),
    (["train", *QUICK, "--out", "{tmp}/a_file/run"], "cannot write to --out"),
    (["train", "--resume", "{run}"], "already trained 1 of 1 epochs"),
    (["train", "--resume", "{run}", "--epochs", "2", "--lr", "0.5"], "cannot change lr"),
    (["train", "--resume", "{run}", "--epochs", "2", "--lr", "inf"], "--lr inf"),
    (["train", "--resume", "{run}", "--hidden", "7"], "cannot change hidden"),
    (["predict", "{run}", "{tmp}/strings.npy"], "holds <U1 values"),
    (["predict", "{run}", "{tmp}/complex.npy"], "holds complex128 values"),
    (["predict", "{run}", "{tmp}/empty.npy"], "empty array"),
    (["predict", "{run}", "{tmp}/archive.npz"], ".npz archive"),
    (["predict", "{run}", "{tmp}/shape.npy"], "takes samples of shape (2,)"),
    (["predict", "{run}", "{tmp}/nan.npy"], "NaN or infinite"),
    (["predict", "{run}", "{tmp}/missing.npy"], "does not exist"),
    (["predict", "{run}", "{tmp}/text.npy"], "is not a .npy file of numbers (chainrule never"),
    (["predict", "{run}", "{tmp}/objects.npy"], "is not a .npy file of numbers (chainrule never"),
    (["evaluate", "{tmp}"], "not a run folder"),
    (["lab", "activations", "--out", "{tmp}/a_file"], "is a file"),
    (["lab", "activations", "--out", "{tmp}/a_file/lab"], "cannot write to --out"),
    (["lab", "activations", "--seed", "-1"], "--seed"),
]


@pytest.mark.parametrize("argv, expected", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_leaves_everything_as_it_was(
        argv, expected, run, tmp_path, capsys, monkeypatch):
    tmp = _files(tmp_path)
    monkeypatch.chdir(tmp)
    argv = [a.replace("{run}", str(run)).replace("{tmp}", str(tmp)) for a in argv]
    before = _snapshot(run, tmp)
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert expected in lines[0], lines[0]
    assert "Warning" not in captured.err + captured.out
    assert _snapshot(run, tmp) == before  # also: no runs/ folder created in the working dir


def test_damaged_config_json_in_evaluate(run, tmp_path, capsys):
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for name in ("model.safetensors", "checkpoint.safetensors"):
        (damaged / name).write_bytes((run / name).read_bytes())
    for text in ("{not json", json.dumps({"config": {"lr": 1}, "model": {}}), "[1, 2]"):
        (damaged / "config.json").write_text(text)
        assert cli.main(["evaluate", str(damaged)]) == 2
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
        assert "damaged" in lines[0] or "configuration" in lines[0], lines[0]
