"""End to end: small networks built from nn modules learn, and train/eval modes matter."""

from __future__ import annotations

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


def _spirals(n: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    t = rng.uniform(0.5, 3.0, n)
    angle = t * 2.5 + np.pi * labels
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], 1) + rng.normal(0, 0.05, (n, 2))
    return cr.tensor(x.astype(np.float32)), cr.tensor(labels)


def _train(model, x, y, steps=300, lr=0.1):
    params = list(model.parameters())
    velocity = [np.zeros_like(p.data) for p in params]
    for _ in range(steps):
        model.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        for p, v in zip(params, velocity):
            v *= 0.9
            v += p.grad.data
            p.data -= lr * v
    return loss.item()


def test_mlp_with_batchnorm_and_dropout_fits_two_spirals():
    cr.manual_seed(0)
    x, y = _spirals()
    model = nn.Sequential(nn.Linear(2, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.1),
                          nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 2))
    _train(model, x, y)
    model.eval()
    accuracy = (model(x).data.argmax(1) == y.data).mean()
    assert accuracy > 0.9
    # eval is deterministic; train mode (dropout, batch statistics) is not
    np.testing.assert_array_equal(model(x).data, model(x).data)
    model.train()
    assert not np.array_equal(model(x).data, model(x).data)


def test_residual_mlp_blocks_train():
    cr.manual_seed(1)
    x, y = _spirals(seed=1)
    model = nn.Sequential(nn.Linear(2, 32), nn.ResidualMLPBlock(32), nn.ResidualMLPBlock(32),
                          nn.Linear(32, 2))
    loss = _train(model, x, y, steps=200, lr=0.05)
    assert loss < 0.3
