"""TerminateOnNaN (chainrule/train/callbacks/nan_guard.py): names the parameter whose gradient
became non-finite and stops before the step, catches a NaN loss."""

import io

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.train import TerminateOnNaN, fit


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


def test_terminate_on_nan_catches_a_nan_loss(blobs, net):
    x, y = blobs(16)
    x[5, 0] = np.nan
    model = net()
    guard = TerminateOnNaN(verbose=False)
    with np.errstate(all="ignore"):
        fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1),
            DataLoader(TensorDataset(x, y), 8), epochs=2, callbacks=[guard])
    assert guard.diagnosis.startswith("TerminateOnNaN: stopped at epoch 1, batch 0")
    assert "NaN/inf" in guard.diagnosis
