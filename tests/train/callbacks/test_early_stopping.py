"""EarlyStopping (chainrule/train/callbacks/early_stopping.py): stops after patience and restores
the best weights, min_delta, falls back to the training loss without validation data."""

import numpy as np
import pytest

from chainrule import optim
from chainrule.train import EarlyStopping, LambdaCallback, fit


def test_early_stopping_stops_after_patience_and_restores_best(loaders, net, scripted):
    train, _ = loaders
    model = net()
    snapshots = {}
    keep = LambdaCallback(on_epoch_end=lambda s: snapshots.__setitem__(s.epoch,
                                                                        model.state_dict()))
    stopper = EarlyStopping("train_score", patience=2, restore_best=True)
    history = fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.5), train,
                  epochs=20, metrics=[scripted([0.5, 0.7, 0.6, 0.65, 0.9])],
                  callbacks=[keep, stopper])
    assert len(history) == 4  # best at epoch 2, then two epochs without improvement
    assert stopper.best_epoch == 2 and stopper.stopped_epoch == 4
    assert "did not improve" in history.stop_reason
    for key, value in snapshots[2].items():
        np.testing.assert_array_equal(model.state_dict()[key], value)


def test_early_stopping_min_delta_and_fallback_to_train_loss(loaders, net):
    train, _ = loaders
    stopper = EarlyStopping("val_loss", patience=1, min_delta=0.5)
    model = net()
    history = fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.01), train,
                  epochs=10, callbacks=[stopper])
    assert stopper._monitor == "train_loss"  # no validation loader
    assert len(history) == 2  # the loss cannot fall by 0.5 in one epoch at this rate
    with pytest.raises(ValueError, match="patience must be an int >= 1"):
        EarlyStopping(patience=0)


def test_a_resumed_early_stopped_run_gets_a_fresh_patience_window():
    stopped = EarlyStopping(patience=2)
    stopped.best, stopped.best_epoch, stopped.wait, stopped.stopped_epoch = 0.5, 4, 2, 6
    resumed = EarlyStopping(patience=2)
    resumed.load_state_dict(stopped.state_dict())
    assert (resumed.best, resumed.best_epoch) == (0.5, 4)  # the best is kept
    assert (resumed.wait, resumed.stopped_epoch) == (0, 0)  # patience starts again

    interrupted = EarlyStopping(patience=3)
    interrupted.best, interrupted.best_epoch, interrupted.wait = 0.5, 4, 2
    again = EarlyStopping(patience=3)
    again.load_state_dict(interrupted.state_dict())
    assert again.wait == 2  # an interrupted run resumes exactly
