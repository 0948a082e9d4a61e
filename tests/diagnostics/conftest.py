"""Small networks for the diagnostics to look at."""

import pytest

import chainrule as cr
from chainrule import nn


def _mlp(depth: int, activation=nn.Tanh, width: int = 16, init=None):
    layers = [nn.Linear(8, width), activation()]
    for _ in range(depth - 2):
        layers += [nn.Linear(width, width), activation()]
    layers.append(nn.Linear(width, 3))
    model = nn.Sequential(*layers)
    if init is not None:
        for module in model.modules():
            if isinstance(module, nn.Linear):
                init(module.weight)
    return model


def _backward(model, n: int = 32):
    x = cr.randn(n, 8)
    y = cr.randint(0, 3, (n,))
    nn.functional.cross_entropy(model(x), y).backward()


@pytest.fixture
def mlp():
    """``mlp(depth, activation=nn.Tanh, width=16, init=None)``: an MLP from 8 inputs to 3
    classes with ``depth`` linear layers, weights drawn by ``init`` when given."""
    return _mlp


@pytest.fixture
def backward():
    """``backward(model, n=32)``: cross-entropy of n random points, backpropagated."""
    return _backward
