"""A small problem for networks to learn, and a training loop written out."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F


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


@pytest.fixture
def spirals():
    """``spirals(n=200, seed=0) -> (points (n, 2) float32, labels (n,))``: two interleaved
    spirals, a problem a linear model cannot solve."""
    return _spirals


@pytest.fixture
def train():
    """``train(model, x, y, steps=300, lr=0.1) -> last loss``: SGD with momentum 0.9 on the
    cross-entropy, written out (no optimizer involved)."""
    return _train
