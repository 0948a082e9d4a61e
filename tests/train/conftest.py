import numpy as np
import pytest

from chainrule import nn
from chainrule.data import DataLoader, TensorDataset


def make_blobs(n=96, seed=0):
    """Two Gaussian blobs in 2-D: an easy, separable classification problem."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    points = rng.normal(size=(n, 2)) + 2.5 * (2.0 * labels[:, None] - 1.0)
    return points.astype(np.float32), labels.astype(np.int64)


@pytest.fixture
def loaders():
    x, y = make_blobs()
    train = DataLoader(TensorDataset(x[:64], y[:64]), 16, shuffle=True, seed=0)
    val = DataLoader(TensorDataset(x[64:], y[64:]), 16, seed=0)
    return train, val


@pytest.fixture
def blobs():
    """``blobs(n, seed) -> (points float32 (n, 2), labels int64 (n,))``."""
    return make_blobs


@pytest.fixture
def net():
    """``net()``: a fresh 2 -> 8 -> 2 tanh network for the blobs."""
    return lambda: nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))


@pytest.fixture
def scripted():
    """``scripted(values)``: a metric that returns the given values epoch after epoch."""

    def metric(values):
        stream = iter(values)

        def score(outputs, targets):
            return next(stream)

        return score

    return metric
