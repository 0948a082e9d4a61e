"""The functional namespace (chainrule/nn/functional.py) and the module namespace: every name
is there, with a docstring. The ops behind them are specced in tests/ops/."""

from __future__ import annotations

import pytest

import chainrule.nn.functional as F
from chainrule import nn

FUNCTIONAL = [
    "linear", "relu", "sigmoid", "tanh", "leaky_relu", "prelu", "rrelu", "elu", "selu", "gelu",
    "silu", "softplus", "hardtanh", "softmax", "log_softmax", "dropout", "dropout2d",
    "batch_norm", "layer_norm", "one_hot", "pad", "l1_loss", "mse_loss", "smooth_l1_loss",
    "huber_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
    "nll_loss",
]
MODULES = [
    "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Identity", "Flatten",
    "Unflatten", "Linear", "Dropout", "Dropout2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm",
    "Residual", "BasicBlock", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "PReLU", "RReLU", "Maxout",
    "Softmax", "LogSoftmax", "ELU", "SELU", "GELU", "SiLU", "Softplus", "Hardtanh", "L1Loss",
    "MSELoss", "SmoothL1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss",
    "NLLLoss",
]


@pytest.mark.parametrize("name", FUNCTIONAL)
def test_functional_name_exists_with_a_docstring(name):
    function = getattr(F, name)
    assert callable(function) and function.__doc__


@pytest.mark.parametrize("name", MODULES)
def test_module_name_exists_with_a_docstring(name):
    assert getattr(nn, name).__doc__
