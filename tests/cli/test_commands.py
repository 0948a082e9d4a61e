"""The command line, through its real entry points: ``python -m chainrule`` in subprocesses
and ``chainrule.cli.main(argv)`` in-process."""

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import cli, models
from chainrule.data.datasets import write_idx
from chainrule.cli import commands, config
from chainrule.data import datasets
from chainrule.optim.registry import OPTIMIZERS as OPTIMIZER_REGISTRY
from chainrule.train import read_checkpoint

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           PYTHONUNBUFFERED="1")
QUICK = ["--dataset", "moons", "--epochs", "1", "--quiet"]


def _python_m(*args, cwd, timeout=120):
    return subprocess.run([sys.executable, "-m", "chainrule", *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def no_plots(monkeypatch):
    """Option tests skip the matplotlib pictures (the main-job test draws them)."""
    monkeypatch.setattr(commands, "_plots", lambda *args: None)


@pytest.fixture(scope="module")
def moons_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "moons"
    assert cli.main(["train", *QUICK, "--epochs", "3", "--out", str(out)]) == 0
    return out


def test_main_job_through_python_m(tmp_path):
    result = _python_m("train", "--epochs", "1", "--out", "run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("cnn on digits: 1,295 train / 143 validation / 359 test samples")
    assert lines[2].split()[:3] == ["epoch", "loss", "acc"]
    assert lines[-2].startswith("test accuracy ") and "1 epochs" in lines[-2]
    run = tmp_path / "run"
    for name in ("model.safetensors", "checkpoint.safetensors", "config.json", "history.csv",
                 "curves.png", "confusion.png"):
        assert (run / name).is_file(), name
    for picture in ("curves.png", "confusion.png"):
        assert (run / picture).read_bytes()[:4] == b"\x89PNG"
    document = json.loads((run / "config.json").read_text())
    assert document["model"]["preset"] == "cnn" and document["config"]["augment"] is True
    assert len((run / "history.csv").read_text().splitlines()) == 2


def test_evaluate_reports_the_test_split(moons_run, capsys):
    assert cli.main(["evaluate", str(moons_run)]) == 0
    text = capsys.readouterr().out
    document = json.loads((moons_run / "config.json").read_text())
    model = models.build(document["model"])
    model.load_state_dict(cr.load(moons_run / "model.safetensors"))
    from chainrule.data import datasets

    _, test = datasets.moons(seed=0)
    predicted = model.eval()(cr.tensor(test.arrays[0])).data.argmax(1)
    accuracy = float(np.mean(predicted == test.arrays[1]))
    assert f"accuracy {100 * accuracy:.2f}%" in text
    assert "confusion matrix (rows: true class" in text
    rows = [line.split() for line in text.splitlines()[-2:]]
    counts = np.array([[int(v) for v in row[1:]] for row in rows])
    assert counts.sum() == len(test)
    assert np.trace(counts) == int(np.sum(predicted == test.arrays[1]))
    for target in ("checkpoint.safetensors", "model.safetensors"):
        assert cli.main(["evaluate", str(moons_run / target)]) == 0
        assert f"accuracy {100 * accuracy:.2f}%" in capsys.readouterr().out


def test_predict_writes_classes_and_probabilities(moons_run, tmp_path, capsys):
    inputs = np.random.default_rng(0).normal(size=(7, 2)).astype(np.float32)
    np.save(tmp_path / "x.npy", inputs)
    assert cli.main(["predict", str(moons_run), str(tmp_path / "x.npy")]) == 0
    model = models.build(json.loads((moons_run / "config.json").read_text())["model"])
    model.load_state_dict(cr.load(moons_run / "model.safetensors"))
    logits = model.eval()(cr.tensor(inputs)).data
    np.testing.assert_array_equal(np.load(tmp_path / "x.predictions.npy"), logits.argmax(1))
    assert "7 predictions written to" in capsys.readouterr().out
    out = tmp_path / "p.npy"
    assert cli.main(["predict", str(moons_run), str(tmp_path / "x.npy"), "--out", str(out),
                     "--probabilities"]) == 0
    probabilities = np.load(out)
    np.testing.assert_allclose(probabilities.sum(1), 1, rtol=1e-5)
    np.testing.assert_array_equal(probabilities.argmax(1), logits.argmax(1))
    np.save(tmp_path / "bad.npy", np.zeros((3, 5), np.float32))
    assert cli.main(["predict", str(moons_run), str(tmp_path / "bad.npy")]) == 2
    assert "takes samples of shape (2,)" in capsys.readouterr().err


@pytest.mark.parametrize("optimizer", list(OPTIMIZER_REGISTRY))
def test_every_optimizer(optimizer, tmp_path, no_plots, capsys):
    args = ["train", *QUICK, "--optimizer", optimizer, "--hidden", "4", "--out", str(tmp_path)]
    assert cli.main(args) == 0
    assert "test accuracy" in capsys.readouterr().out
    config = json.loads((tmp_path / "config.json").read_text())["config"]
    assert config["optimizer"] == optimizer
    second_order = OPTIMIZER_REGISTRY[optimizer].closure
    assert config["batch_size"] == (0 if second_order else 32)
    assert config["scheduler"] == ("none" if second_order else "cosine")


def test_second_order_defaults_yield_to_what_the_user_gives(tmp_path, no_plots):
    args = ["train", "--dataset", "moons", "--optimizer", "gauss-newton", "--hidden", "4",
            "--quiet"]
    assert cli.main([*args, "--out", str(tmp_path / "a")]) == 0
    config = json.loads((tmp_path / "a" / "config.json").read_text())["config"]
    assert (config["batch_size"], config["epochs"], config["scheduler"]) == (0, 30, "none")
    assert cli.main([*args, "--epochs", "2", "--batch-size", "50", "--scheduler", "step",
                     "--out", str(tmp_path / "b")]) == 0
    config = json.loads((tmp_path / "b" / "config.json").read_text())["config"]
    assert (config["batch_size"], config["epochs"], config["scheduler"]) == (50, 2, "step")


@pytest.mark.parametrize("options", [
    ["--activation", "tanh", "--init", "xavier", "--no-bias"],
    ["--activation", "prelu", "--init", "he", "--dropout", "0.2", "--batch-norm"],
    ["--activation", "rrelu", "--init", "normal", "--weight-decay", "1e-3", "--l1", "1e-4",
     "--clip-grad-norm", "1"],
    ["--augment", "--mixup", "--scheduler", "onecycle", "--batch-size", "0"],
    ["--mixup", "0.4", "--scheduler", "step", "--activation", "elu"],
    ["--scheduler", "plateau", "--early-stopping", "1", "--epochs", "3"],
    ["--scheduler", "exponential", "--activation", "leaky_relu", "--val-fraction", "0"],
    ["--scheduler", "none", "--activation", "gelu", "--seed", "3"],
    ["--dataset", "spirals", "--activation", "sigmoid"],
    ["--dataset", "digits", "--model", "mlp", "--pca", "10", "--augment"],
    ["--dataset", "digits", "--model", "resnet", "--channels", "4,8", "--no-augment"],
    ["--dataset", "digits", "--hidden", "16", "--channels", "4,8", "--mixup"],
    ["--dataset", "mnist1d", "--model", "cnn", "--channels", "4", "--batch-size", "256"],
    ["--dataset", "mnist1d", "--model", "gru", "--batch-size", "256"],
    ["--dataset", "mnist1d", "--model", "lstm", "--hidden", "3", "--dropout", "0.2",
     "--batch-size", "512"],
    ["--dataset", "mnist1d", "--model", "rnn", "--activation", "relu", "--no-bias",
     "--batch-size", "512"],
    ["--dataset", "digits", "--model", "gru", "--hidden", "4", "--no-augment"],
])
def test_options(options, tmp_path, no_plots):
    assert cli.main(["train", *QUICK, *options, "--out", str(tmp_path)]) == 0
    history = (tmp_path / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch,train_loss,train_accuracy")
    config = json.loads((tmp_path / "config.json").read_text())["config"]
    for flag, value in zip(options, options[1:] + [None]):
        if flag == "--model":
            assert config["model"] == value
        if flag == "--pca":
            assert (tmp_path / "pca.safetensors").is_file() and config["pca"] == 10


@pytest.mark.parametrize("dataset, folder", [("mnist", "MNIST/raw"), ("fashion-mnist", "")])
def test_idx_datasets_from_data_dir(dataset, folder, tmp_path, no_plots):
    rng = np.random.default_rng(0)
    data = tmp_path / "data" / folder
    data.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", 40), ("t10k", 10)):
        write_idx(data / f"{prefix}-images-idx3-ubyte.gz",
                  rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(data / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n, dtype=np.uint8))
    args = ["train", "--dataset", dataset, "--data-dir", str(tmp_path / "data"), "--epochs",
            "1", "--channels", "4", "--augment", "--quiet", "--out", str(tmp_path / "run")]
    assert cli.main(args) == 0
    assert cli.main(["evaluate", str(tmp_path / "run"), "--data-dir",
                     str(tmp_path / "data")]) == 0


def test_config_file_and_flags_override_it(tmp_path, no_plots):
    config = tmp_path / "train.toml"
    config.write_text('dataset = "moons"\nepochs = 2\nhidden = [6, 6]\nbatch-norm = true\n'
                      'optimizer = "sgd"\nquiet_is_not_a_setting = 1\n')
    assert cli.main(["train", "--config", str(config), "--out", str(tmp_path / "r")]) == 2
    config.write_text('dataset = "moons"\nepochs = 2\nhidden = [6, 6]\nbatch-norm = true\n'
                      'optimizer = "sgd"\n')
    assert cli.main(["train", "--config", str(config), "--epochs", "1", "--quiet", "--out",
                     str(tmp_path / "r")]) == 0
    saved = json.loads((tmp_path / "r" / "config.json").read_text())["config"]
    assert (saved["epochs"], saved["hidden"], saved["batch_norm"], saved["optimizer"]) == (
        1, [6, 6], True, "sgd")


def _error(capsys, *argv):
    assert cli.main(list(argv)) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


def test_wrong_input_is_one_line_and_status_2(tmp_path, capsys, moons_run, monkeypatch):
    line = _error(capsys, "train", "--optimizer", "adamax")
    assert "invalid choice: 'adamax'" in line and "'lbfgs'" in line
    line = _error(capsys, "train", "--dataset", "mnist", "--data-dir", str(tmp_path / "none"))
    assert "cannot find train-images-idx3-ubyte" in line and "Put the four IDX files" in line
    assert not (Path("runs").exists() and any("mnist" in p.name for p in Path("runs").iterdir()))
    blocker = tmp_path / "file"
    blocker.write_text("")
    line = _error(capsys, "train", *QUICK, "--out", str(blocker / "run"))
    assert line.startswith("chainrule train: error: cannot write to --out")
    line = _error(capsys, "train", "--resume", str(moons_run), "--model", "cnn", "--hidden", "7")
    assert "cannot change" in line and "model: checkpoint 'mlp', asked 'cnn'" in line
    assert "hidden: checkpoint [100, 100]" not in line  # moons' default width is [32, 32]
    line = _error(capsys, "train", "--resume", str(moons_run))
    assert "already trained 3 of 3 epochs" in line
    line = _error(capsys, "train", "--resume", str(tmp_path / "nothing"))
    assert "no such checkpoint" in line
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 3)
    line = _error(capsys, "train", "--resume", str(tmp_path / "bad.safetensors"))
    assert "bad.safetensors" in line and "truncated" in line
    line = _error(capsys, "train", "--model", "cnn", "--pca", "5")
    assert "--pca" in line and "--model mlp" in line
    line = _error(capsys, "train", "--dataset", "moons", "--model", "cnn")
    assert "needs images" in line
    line = _error(capsys, "train", "--optimizer", "newton", "--epochs", "1")
    assert "at most 5,000 parameters" in line and "--optimizer lbfgs, newton-cg or" in line
    line = _error(capsys, "train", "--epochs", "-3")
    assert "--epochs -3 is not accepted: expected a whole number of epochs >= 0" in line
    line = _error(capsys, "evaluate", str(tmp_path))
    assert "not a run folder" in line
    monkeypatch.setattr(config, "_tomllib", lambda: None)
    (tmp_path / "c.toml").write_text("epochs = 1\n")
    line = _error(capsys, "train", "--config", str(tmp_path / "c.toml"))
    assert "needs Python 3.11" in line


def test_bad_config_values_name_the_file(tmp_path, capsys):
    (tmp_path / "c.toml").write_text('optimizer = "adamax"\n')
    line = _error(capsys, "train", "--config", str(tmp_path / "c.toml"))
    assert "c.toml" in line and "optimizer = 'adamax' is not accepted" in line and "lbfgs" in line
    (tmp_path / "c.toml").write_text("epochs = [\n")
    line = _error(capsys, "train", "--config", str(tmp_path / "c.toml"))
    assert "not valid TOML" in line


def test_ctrl_c_saves_and_prints_the_resume_command(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "chainrule", "train", "--dataset", "moons", "--epochs", "100000",
         "--batch-size", "4", "--out", "run"], cwd=tmp_path, env=ENV, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    rows = 0
    for line in process.stdout:
        rows += line.strip()[:1].isdigit()
        if rows == 2:
            break
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    command = stderr.strip().splitlines()[-1].strip()
    assert command == "python3 -m chainrule train --resume run/checkpoint.safetensors"
    finished = read_checkpoint(tmp_path / "run" / "checkpoint.safetensors")["epoch"]
    assert finished >= 1 and "Traceback" not in stderr
    assert f"interrupted: the state after epoch {finished} is saved in" in stderr
    assert cli.main(["train", "--resume", str(tmp_path / "run"), "--epochs", str(finished + 1),
                     "--quiet"]) == 0
    assert read_checkpoint(tmp_path / "run" / "checkpoint.safetensors")["epoch"] == finished + 1


def test_interrupted_and_resumed_run_equals_an_uninterrupted_one(tmp_path, monkeypatch, no_plots):
    from chainrule.train import loop

    options = ["train", "--dataset", "moons", "--epochs", "4", "--augment", "--dropout", "0.2",
               "--scheduler", "step", "--quiet"]
    assert cli.main([*options, "--out", str(tmp_path / "whole")]) == 0
    original, calls = loop._plain_step, []

    def interrupted(state, *args):
        calls.append(state.epoch)
        if state.epoch == 3 and calls.count(3) == 5:
            raise KeyboardInterrupt
        return original(state, *args)

    monkeypatch.setattr(loop, "_plain_step", interrupted)
    assert cli.main([*options, "--out", str(tmp_path / "split")]) == 130
    monkeypatch.setattr(loop, "_plain_step", original)
    assert read_checkpoint(tmp_path / "split" / "checkpoint.safetensors")["epoch"] == 2
    assert cli.main(["train", "--resume", str(tmp_path / "split" / "checkpoint.safetensors")]) == 0
    whole, split = (cr.load(tmp_path / name / "model.safetensors") for name in ("whole", "split"))
    for key in whole:
        np.testing.assert_array_equal(split[key], whole[key], err_msg=key)
    assert len((tmp_path / "split" / "history.csv").read_text().splitlines()) == 5


@pytest.mark.parametrize("optimizer", ["newton", "gauss-newton"])
def test_a_resumed_second_order_run_equals_an_uninterrupted_one(optimizer, tmp_path,
                                                                monkeypatch, no_plots):
    # the trust region's λ and ν travel in the checkpoint: the resumed steps are the same
    from chainrule.train import loop

    options = ["train", "--dataset", "moons", "--optimizer", optimizer, "--hidden", "6",
               "--epochs", "4", "--quiet"]
    assert cli.main([*options, "--out", str(tmp_path / "whole")]) == 0
    original = loop._closure_step

    def interrupted(state, *args):
        if state.epoch == 3:
            raise KeyboardInterrupt
        return original(state, *args)

    monkeypatch.setattr(loop, "_closure_step", interrupted)
    assert cli.main([*options, "--out", str(tmp_path / "split")]) == 130
    monkeypatch.setattr(loop, "_closure_step", original)
    assert cli.main(["train", "--resume", str(tmp_path / "split" / "checkpoint.safetensors")]) == 0
    whole, split = (cr.load(tmp_path / name / "model.safetensors") for name in ("whole", "split"))
    for key in whole:
        np.testing.assert_array_equal(split[key], whole[key], err_msg=key)


def test_lab_subcommand(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["lab", "--help"])
    assert info.value.code == 0
    assert "--smoke" in capsys.readouterr().out


def test_help_and_version(capsys):
    assert cli.main([]) == 2
    assert "train" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.startswith("chainrule ")


# ------------------------------------------------------------------ run folders that tell the truth
RUN = ["--dataset", "moons", "--epochs", "1"]  # QUICK with the printed output


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
    status = cli.main(["train", *RUN, "--epochs", "3", "--optimizer", "sgd", "--lr", "1e30",
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
    assert cli.main(["train", *RUN, "--epochs", "40", "--early-stopping", "1", "--lr", "0.3",
                     "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    outcome = _document(out)["outcome"]
    assert outcome["status"] == "early-stopped", outcome
    stop = next(i for i, line in enumerate(lines) if line.startswith("early stopping at epoch"))
    result = next(i for i, line in enumerate(lines) if line.startswith("test accuracy"))
    assert stop < result and f"keeps epoch {outcome['kept_epoch']}'s weights" in lines[stop]


def test_history_has_the_permissions_of_the_other_files(tmp_path):
    out = tmp_path / "run"
    assert cli.main(["train", *RUN, "--quiet", "--out", str(out)]) == 0
    modes = {name: stat.S_IMODE(os.stat(out / name).st_mode)
             for name in ("history.csv", "config.json", "model.safetensors")}
    assert len(set(modes.values())) == 1, modes


def test_default_names_never_collide(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(commands, "_plots", lambda *args: None)
    for _ in range(2):
        assert cli.main(["train", *RUN, "--quiet"]) == 0
    assert len(list((tmp_path / "runs").iterdir())) == 2


def test_extending_a_finished_run_replans_the_schedule(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", *RUN, "--epochs", "2", "--out", str(out)]) == 0
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


def test_a_recurrent_run_resumes_exactly_and_is_evaluated_and_predicted(tmp_path, capsys,
                                                                        no_plots):
    options = ["train", "--dataset", "mnist1d", "--model", "gru", "--hidden", "3",
               "--batch-size", "500", "--epochs", "2", "--quiet"]
    assert cli.main([*options, "--out", str(tmp_path / "whole")]) == 0
    assert cli.main([*options[:-3], "--epochs", "1", "--quiet", "--out",
                     str(tmp_path / "split")]) == 0
    assert cli.main(["train", "--resume", str(tmp_path / "split"), "--epochs", "2",
                     "--quiet"]) == 0
    whole, split = (cr.load(tmp_path / name / "model.safetensors") for name in ("whole", "split"))
    assert "rnn.weight_hh_l0_reverse" in whole
    for key in whole:
        np.testing.assert_array_equal(split[key], whole[key], err_msg=key)
    document = _document(tmp_path / "whole")
    assert document["model"]["preset"] == "gru" and document["config"]["activation"] is None
    capsys.readouterr()
    assert cli.main(["evaluate", str(tmp_path / "whole")]) == 0
    assert "gru on mnist1d" in capsys.readouterr().out
    _, test = datasets.mnist1d()
    np.save(tmp_path / "x.npy", np.stack([test[i][0] for i in range(4)]))
    assert cli.main(["predict", str(tmp_path / "whole"), str(tmp_path / "x.npy")]) == 0
