"""The functional namespace (chainrule/nn/functional.py) and the module namespace: every name
is there, with a docstring. The ops behind them are specced in tests/ops/."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

FUNCTIONAL = [
    "linear", "relu", "sigmoid", "tanh", "leaky_relu", "prelu", "rrelu", "elu", "selu", "gelu",
    "silu", "softplus", "hardtanh", "softmax", "log_softmax", "dropout", "dropout2d",
    "batch_norm", "layer_norm", "one_hot", "pad", "l1_loss", "mse_loss", "smooth_l1_loss",
    "huber_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
    "nll_loss", "embedding",
]
MODULES = [
    "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Identity", "Flatten",
    "Unflatten", "Linear", "Dropout", "Dropout2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm",
    "Residual", "BasicBlock", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "PReLU", "RReLU", "Maxout",
    "Softmax", "LogSoftmax", "ELU", "SELU", "GELU", "SiLU", "Softplus", "Hardtanh", "L1Loss",
    "MSELoss", "SmoothL1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss",
    "NLLLoss", "RNN", "GRU", "LSTM", "RNNCell", "GRUCell", "LSTMCell", "Embedding",
]


@pytest.mark.parametrize("name", FUNCTIONAL)
def test_functional_name_exists_with_a_docstring(name):
    function = getattr(F, name)
    assert callable(function) and function.__doc__


@pytest.mark.parametrize("name", MODULES)
def test_module_name_exists_with_a_docstring(name):
    assert getattr(nn, name).__doc__


# ---------------------------------------------------------------------------- layers call F
def test_all_lists_exactly_the_public_functions():
    public = {name for name, value in vars(F).items()
              if not name.startswith("_") and callable(value) and not inspect.isclass(value)}
    assert set(F.__all__) == public
    assert len(F.__all__) == len(set(F.__all__))


def _x(*shape):
    return cr.tensor(np.random.default_rng(0).normal(size=shape).astype(np.float32))


def _labels():
    return cr.tensor(np.array([0, 2, 1, 0]))


LAYERS = [
    ("linear", lambda: nn.Linear(3, 2), lambda: (_x(4, 3),)),
    ("conv1d", lambda: nn.Conv1d(2, 3, 3), lambda: (_x(2, 2, 8),)),
    ("conv2d", lambda: nn.Conv2d(2, 3, 3), lambda: (_x(2, 2, 6, 6),)),
    ("max_pool1d", lambda: nn.MaxPool1d(2), lambda: (_x(2, 2, 8),)),
    ("max_pool2d", lambda: nn.MaxPool2d(2), lambda: (_x(2, 2, 6, 6),)),
    ("avg_pool1d", lambda: nn.AvgPool1d(2), lambda: (_x(2, 2, 8),)),
    ("avg_pool2d", lambda: nn.AvgPool2d(2), lambda: (_x(2, 2, 6, 6),)),
    ("adaptive_avg_pool1d", lambda: nn.AdaptiveAvgPool1d(1), lambda: (_x(2, 2, 8),)),
    ("adaptive_avg_pool2d", lambda: nn.AdaptiveAvgPool2d(1), lambda: (_x(2, 2, 6, 6),)),
    ("batch_norm", lambda: nn.BatchNorm1d(3), lambda: (_x(4, 3),)),
    ("batch_norm", lambda: nn.BatchNorm2d(2), lambda: (_x(2, 2, 3, 3),)),
    ("layer_norm", lambda: nn.LayerNorm(3), lambda: (_x(4, 3),)),
    ("dropout", lambda: nn.Dropout(0.5), lambda: (_x(4, 3),)),
    ("dropout1d", lambda: nn.Dropout1d(0.5), lambda: (_x(2, 3, 4),)),
    ("dropout2d", lambda: nn.Dropout2d(0.5), lambda: (_x(2, 3, 4, 4),)),
    ("relu", nn.ReLU, lambda: (_x(4, 3),)),
    ("sigmoid", nn.Sigmoid, lambda: (_x(4, 3),)),
    ("tanh", nn.Tanh, lambda: (_x(4, 3),)),
    ("leaky_relu", nn.LeakyReLU, lambda: (_x(4, 3),)),
    ("prelu", nn.PReLU, lambda: (_x(4, 3),)),
    ("gelu", nn.GELU, lambda: (_x(4, 3),)),
    ("softmax", lambda: nn.Softmax(dim=1), lambda: (_x(4, 3),)),
    ("log_softmax", lambda: nn.LogSoftmax(dim=1), lambda: (_x(4, 3),)),
    ("relu", lambda: nn.BasicBlock(2, 2), lambda: (_x(1, 2, 4, 4),)),
    ("relu", lambda: nn.BasicBlock(2, 2, spatial_dims=1), lambda: (_x(1, 2, 6),)),
    ("mse_loss", nn.MSELoss, lambda: (_x(4, 3), _x(4, 3))),
    ("l1_loss", nn.L1Loss, lambda: (_x(4, 3), _x(4, 3))),
    ("huber_loss", nn.HuberLoss, lambda: (_x(4, 3), _x(4, 3))),
    ("smooth_l1_loss", nn.SmoothL1Loss, lambda: (_x(4, 3), _x(4, 3))),
    ("cross_entropy", nn.CrossEntropyLoss, lambda: (_x(4, 3), _labels())),
    ("nll_loss", nn.NLLLoss, lambda: (_x(4, 3), _labels())),
    ("binary_cross_entropy_with_logits", nn.BCEWithLogitsLoss,
     lambda: (_x(4, 3), cr.ones(4, 3))),
    ("binary_cross_entropy", nn.BCELoss, lambda: (cr.full((4, 3), 0.3), cr.ones(4, 3))),
    ("embedding", lambda: nn.Embedding(5, 2), lambda: (cr.tensor([[0, 4], [1, 1]]),)),
    ("dropout", lambda: nn.GRU(3, 2, num_layers=2, dropout=0.5), lambda: (_x(4, 2, 3),)),
]


@pytest.mark.parametrize("name, make, inputs", LAYERS,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(LAYERS)])
def test_layer_computes_through_functional(monkeypatch, name, make, inputs):
    layer = make()
    calls = []
    original = getattr(F, name)

    def spy(*args, **kwargs):
        calls.append(name)
        return original(*args, **kwargs)

    monkeypatch.setattr(F, name, spy)
    layer(*inputs())
    assert calls, f"{type(layer).__name__} did not call F.{name}"
