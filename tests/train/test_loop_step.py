"""fit's training step: one function for every first-order run, with or without callbacks, and
the same parameters as the loop a user would write by hand."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.train import LambdaCallback, fit, loop


def _model():
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 2))


def _loader(blobs):
    x, y = blobs(48)
    return DataLoader(TensorDataset(x, y), 16, shuffle=True, seed=0)


def _by_hand(blobs, epochs: int):
    """zero_grad, forward, loss, backward, step: the loop fit stands for."""
    model, loader = _model(), _loader(blobs)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    losses = []
    for _ in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.data))
    return [p.data.copy() for p in model.parameters()], losses


# A callback that does nothing at each hook the loop offers per batch; with any of them the loop
# used to take a different copy of the step than without.
_QUIET_HOOKS = {
    "none": [],
    "on_batch_end": [LambdaCallback(on_batch_end=lambda state: None)],
    "on_after_backward": [LambdaCallback(on_after_backward=lambda state: None)],
}


@pytest.mark.parametrize("hooks", sorted(_QUIET_HOOKS))
def test_fit_updates_the_parameters_as_the_loop_by_hand(blobs, hooks):
    expected, expected_losses = _by_hand(blobs, epochs=3)
    model = _model()
    seen = []
    callbacks = _QUIET_HOOKS[hooks] + [
        LambdaCallback(on_epoch_end=lambda state: seen.append(state.step))]
    history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1,
                                                         momentum=0.9),
                  _loader(blobs), epochs=3, callbacks=callbacks)
    for got, want in zip(model.parameters(), expected):
        np.testing.assert_array_equal(got.data, want)
    assert seen == [3, 6, 9]  # optimizer steps so far, at the end of each epoch
    # each epoch's loss is the sample-weighted mean of its batches' losses (equal batches here)
    per_epoch = np.reshape(expected_losses, (3, 3)).mean(axis=1)
    np.testing.assert_allclose(history["train_loss"], per_epoch, rtol=1e-6)


@pytest.mark.parametrize("options", [
    {}, {"callbacks": [LambdaCallback(on_batch_end=lambda state: None)]},
    {"l1": 1e-3}, {"clip_grad_norm": 1.0},
], ids=["plain", "batch hook", "l1", "clipping"])
def test_every_first_order_run_goes_through_the_one_step(blobs, monkeypatch, options):
    calls = []
    original = loop._plain_step

    def counted(state, inputs, target, after_backward):
        calls.append(state.batch)
        return original(state, inputs, target, after_backward)

    monkeypatch.setattr(loop, "_plain_step", counted)
    model = _model()
    fit(model, "cross_entropy", optim.Adam(model.parameters(), lr=0.01), _loader(blobs),
        epochs=2, **options)
    assert calls == [0, 1, 2] * 2  # the batch index is set before each step


def test_a_stop_from_after_backward_skips_that_update(blobs):
    model = _model()
    before = [p.data.copy() for p in model.parameters()]

    def stop(state):
        state.stop_training = True

    history = fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1),
                  _loader(blobs), epochs=2, callbacks=[LambdaCallback(on_after_backward=stop)])
    assert len(history) == 0  # stopped inside the first epoch: no record for it
    for got, want in zip(model.parameters(), before):
        np.testing.assert_array_equal(got.data, want)


def test_batches_may_be_lists_or_longer_tuples(blobs):
    x, y = blobs(32)
    batches = [[x[:16], y[:16]], (x[16:], y[16:], "extra")]
    model = _model()
    history = fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), batches,
                  epochs=1)
    assert len(history) == 1 and np.isfinite(history["train_loss"][0])
    with pytest.raises(ValueError, match="fit expects batches"):
        fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), [x], epochs=1)
