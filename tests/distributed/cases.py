"""What the mpiexec worker runs and the tests recompute in one process: small float64 models and
data, so that 2 processes and 1 process can be compared to 1e-12, not just 1e-6."""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import TensorDataset

BATCH = 5  # per process; one process uses 2 * BATCH
EPOCHS = 3
SEED = 7  # the shuffling seed


def data(n: int, image: bool, seed: int) -> TensorDataset:
    rng = np.random.default_rng(seed)
    shape = (n, 1, 5, 5) if image else (n, 6)
    x = rng.normal(size=shape)
    y = rng.integers(0, 3, size=n).astype(np.int64)
    return TensorDataset(x, y)


def model(kind: str, seed: int) -> nn.Module:
    """``mlp``, ``bn`` (an MLP with BatchNorm1d) or ``cnn`` (conv, BatchNorm2d), in float64."""
    cr.manual_seed(seed)
    if kind == "mlp":
        layers = [nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)]
    elif kind == "bn":
        layers = [nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3)]
    else:
        layers = [nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(),
                  nn.Linear(18, 3)]
    return nn.Sequential(*layers).double()


def optimizer(name: str, params) -> optim.Optimizer:
    if name == "sgd":
        return optim.SGD(params, lr=0.1, momentum=0.9)
    return optim.Adam(params, lr=0.01)


#: (model kind, optimizer): the training runs compared with one process
RUNS = [("mlp", "sgd"), ("mlp", "adam"), ("bn", "sgd"), ("bn", "adam"), ("cnn", "sgd"),
        ("cnn", "adam")]


def run_name(kind: str, optimizer_name: str) -> str:
    return f"{kind}-{optimizer_name}"


def training_data(kind: str):
    image = kind == "cnn"
    return data(40, image, seed=1), data(13, image, seed=2)


def sync_bn_inputs(rank: int):
    """Unequal batches (5 and 7 samples) of (N, 3, 4, 4) inputs and fixed output weights."""
    rng = np.random.default_rng(10 + rank)
    size = 5 + 2 * rank
    return rng.normal(size=(size, 3, 4, 4)) * 2 + 1, rng.normal(size=(size, 3, 4, 4))


def bn_affine():
    rng = np.random.default_rng(3)
    return rng.normal(size=3), rng.normal(size=3)
