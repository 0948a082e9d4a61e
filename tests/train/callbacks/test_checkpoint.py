"""The Checkpoint callback (chainrule/train/callbacks/checkpoint.py): every n epochs and the best
one; on Ctrl-C the last finished epoch is saved and resuming from it is exact."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.train import Checkpoint, LambdaCallback, TerminateOnNaN, fit, read_checkpoint
from chainrule.train import loop


def test_checkpoint_every_and_best(tmp_path, loaders, net, scripted):
    train, val = loaders
    model = net()
    saved = []
    checkpoint = Checkpoint(tmp_path / "run", every=2, monitor="val_score", mode="max")
    spy = LambdaCallback(on_epoch_end=lambda s: saved.append(
        (s.epoch, read_checkpoint(checkpoint.path)["epoch"] if checkpoint.path.exists()
         else None)))
    spy.order = 200  # after the checkpoint
    fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), train, val, epochs=5,
        metrics=[scripted([0.1, 0.1, 0.3, 0.3, 0.2, 0.2, 0.25, 0.25, 0.1, 0.1])],
        callbacks=[checkpoint, spy])
    assert saved == [(1, None), (2, 2), (3, 2), (4, 4), (5, 5)]
    from safetensors import safe_open

    with safe_open(str(tmp_path / "run" / "best.safetensors"), "np") as handle:
        assert handle.metadata()["epoch"] == "2"
    single = Checkpoint(tmp_path / "one.safetensors")
    assert single.best_path == tmp_path / "one.best.safetensors"


def test_ctrl_c_saves_the_last_finished_epoch_and_resume_is_exact(tmp_path, monkeypatch, blobs):
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
