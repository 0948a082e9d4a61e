"""Callbacks: early stopping, checkpoints, CSV, progress output, NaN guard, Ctrl-C."""

import io
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.train import (
    Checkpoint, CSVLogger, EarlyStopping, EpochTable, History, LambdaCallback, ProgressBar,
    TerminateOnNaN, fit, load_checkpoint, read_checkpoint,
)
from chainrule.train import loop


def _net():
    return nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))


def _scripted(values):
    """A metric that returns the given values epoch after epoch."""
    stream = iter(values)

    def score(outputs, targets):
        return next(stream)

    return score


def test_early_stopping_stops_after_patience_and_restores_best(loaders):
    train, _ = loaders
    model = _net()
    snapshots = {}
    keep = LambdaCallback(on_epoch_end=lambda s: snapshots.__setitem__(s.epoch,
                                                                        model.state_dict()))
    stopper = EarlyStopping("train_score", patience=2, restore_best=True)
    history = fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.5), train,
                  epochs=20, metrics=[_scripted([0.5, 0.7, 0.6, 0.65, 0.9])],
                  callbacks=[keep, stopper])
    assert len(history) == 4  # best at epoch 2, then two epochs without improvement
    assert stopper.best_epoch == 2 and stopper.stopped_epoch == 4
    assert "did not improve" in history.stop_reason
    for key, value in snapshots[2].items():
        np.testing.assert_array_equal(model.state_dict()[key], value)


def test_early_stopping_min_delta_and_fallback_to_train_loss(loaders):
    train, _ = loaders
    stopper = EarlyStopping("val_loss", patience=1, min_delta=0.5)
    model = _net()
    history = fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.01), train,
                  epochs=10, callbacks=[stopper])
    assert stopper._monitor == "train_loss"  # no validation loader
    assert len(history) == 2  # the loss cannot fall by 0.5 in one epoch at this rate
    with pytest.raises(ValueError, match="patience must be an int >= 1"):
        EarlyStopping(patience=0)


def test_checkpoint_every_and_best(tmp_path, loaders):
    train, val = loaders
    model = _net()
    saved = []
    checkpoint = Checkpoint(tmp_path / "run", every=2, monitor="val_score", mode="max")
    spy = LambdaCallback(on_epoch_end=lambda s: saved.append(
        (s.epoch, read_checkpoint(checkpoint.path)["epoch"] if checkpoint.path.exists()
         else None)))
    spy.order = 200  # after the checkpoint
    fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), train, val, epochs=5,
        metrics=[_scripted([0.1, 0.1, 0.3, 0.3, 0.2, 0.2, 0.25, 0.25, 0.1, 0.1])],
        callbacks=[checkpoint, spy])
    assert saved == [(1, None), (2, 2), (3, 2), (4, 4), (5, 5)]
    from safetensors import safe_open

    with safe_open(str(tmp_path / "run" / "best.safetensors"), "np") as handle:
        assert handle.metadata()["epoch"] == "2"
    single = Checkpoint(tmp_path / "one.safetensors")
    assert single.best_path == tmp_path / "one.best.safetensors"


def test_csv_logger_writes_every_epoch(tmp_path, loaders):
    train, val = loaders
    model = _net()
    rows = []
    logger = CSVLogger(tmp_path / "log" / "history.csv")
    spy = LambdaCallback(on_epoch_end=lambda s: rows.append(
        len(History.from_csv(logger.path))))
    spy.order = 10
    history = fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), train, val,
                  epochs=3, callbacks=[logger, spy])
    assert rows == [1, 2, 3]
    assert History.from_csv(logger.path).rows == history.rows


def test_progress_bar_and_table_output(loaders):
    train, val = loaders
    bar_stream, table_stream, quiet_stream = io.StringIO(), io.StringIO(), io.StringIO()
    model = _net()
    fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), train, val, epochs=3,
        callbacks=[ProgressBar(file=bar_stream, disable=False, batches=True),
                   EpochTable(file=table_stream), ProgressBar(file=quiet_stream)])
    bar = bar_stream.getvalue()
    assert "3/3" in bar and "val_acc=" in bar and "lr=0.1" in bar
    lines = table_stream.getvalue().splitlines()
    assert lines[0].split() == ["epoch", "loss", "acc", "val_loss", "val_acc", "lr", "time"]
    assert [line.split()[0] for line in lines[1:]] == ["1", "2", "3"]
    assert quiet_stream.getvalue() == ""  # not a terminal: the bar stays quiet


class _SqrtScale(nn.Module):
    """x·√s with s = 0: the gradient of s is infinite, the others stay finite."""

    def __init__(self):
        super().__init__()
        self.s = nn.Parameter(cr.zeros(1))

    def forward(self, x):
        return x * self.s.sqrt()


def test_terminate_on_nan_names_the_parameter_and_keeps_weights(loaders):
    train, _ = loaders
    model = nn.Sequential(nn.Linear(2, 4), _SqrtScale(), nn.Linear(4, 2))
    before = [p.data.copy() for p in model.parameters()]
    stream = io.StringIO()
    guard = TerminateOnNaN(file=stream)
    with np.errstate(all="ignore"):
        history = fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), train,
                      epochs=3, callbacks=[guard])
    assert len(history) == 0
    assert "gradient of '1.s' became non-finite" in guard.diagnosis
    for advice in ("lower learning rate", "clip the gradients", "initialization"):
        assert advice in guard.diagnosis
    assert history.stop_reason == guard.diagnosis and guard.diagnosis in stream.getvalue()
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, b)  # stopped before the optimizer step


def test_terminate_on_nan_catches_a_nan_loss(blobs):
    x, y = blobs(16)
    x[5, 0] = np.nan
    model = _net()
    guard = TerminateOnNaN(verbose=False)
    with np.errstate(all="ignore"):
        fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1),
            DataLoader(TensorDataset(x, y), 8), epochs=2, callbacks=[guard])
    assert guard.diagnosis.startswith("TerminateOnNaN: stopped at epoch 1, batch 0")
    assert "NaN/inf" in guard.diagnosis


def test_ctrl_c_saves_the_last_finished_epoch_and_resume_is_exact(tmp_path, monkeypatch,
                                                                  blobs):
    x, y = blobs(64)

    def run(epochs, callbacks=(), resume=None):
        cr.manual_seed(0)
        model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 2))
        optimizer = optim.Adam(model.parameters(), lr=0.01)
        scheduler = optim.lr_scheduler.StepLR(optimizer, 1, 0.9)
        loader = DataLoader(TensorDataset(x, y), 16, shuffle=True, seed=1)
        fit(model, "cross_entropy", optimizer, loader, epochs=epochs, scheduler=scheduler,
            callbacks=list(callbacks), resume=resume)
        return model

    expected = run(4)
    original = loop._plain_step
    calls = []

    def interrupted(state, *args):
        calls.append(state.epoch)
        if state.epoch == 3 and calls.count(3) == 2:
            raise KeyboardInterrupt
        return original(state, *args)

    monkeypatch.setattr(loop, "_plain_step", interrupted)
    guard = TerminateOnNaN(verbose=False)  # forces the general (non-inline) step path
    with pytest.raises(KeyboardInterrupt):
        run(4, [Checkpoint(tmp_path, every=3), guard])
    assert read_checkpoint(tmp_path / "checkpoint.safetensors")["epoch"] == 2
    monkeypatch.setattr(loop, "_plain_step", original)
    resumed = run(4, [Checkpoint(tmp_path, every=3)], resume=tmp_path / "checkpoint.safetensors")
    for key, value in expected.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[key], value)


def test_callback_state_is_saved_in_checkpoints(tmp_path, loaders):
    train, _ = loaders
    model = _net()
    stopper = EarlyStopping("train_loss", patience=50)
    fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), train, epochs=2,
        callbacks=[stopper, Checkpoint(tmp_path)])
    fresh = EarlyStopping("train_loss", patience=50)
    load_checkpoint(tmp_path / "checkpoint.safetensors", _net(), callbacks=[fresh, Checkpoint(
        tmp_path)])
    assert (fresh.best, fresh.best_epoch, fresh.wait) == (stopper.best, stopper.best_epoch,
                                                          stopper.wait)
    assert math.isfinite(fresh.best)
