"""The functional namespace: everything the issue lists is there, and the helpers without a
module (one_hot, pad) behave as PyTorch's."""

from __future__ import annotations

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


def test_one_hot():
    out = F.one_hot(cr.tensor([2, 0, 1]), 4)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.data, np.eye(4, dtype=np.int64)[[2, 0, 1]])
    assert F.one_hot(cr.tensor([[1, 3]])).shape == (1, 2, 4)
    with pytest.raises(ValueError, match=r"class index 5 is out of range for num_classes=4"):
        F.one_hot(cr.tensor([5]), 4)
    with pytest.raises(TypeError, match="index tensors"):
        F.one_hot(cr.tensor([1.0]), 2)


def test_pad_is_pytorch_style_from_the_last_dimension():
    x = cr.ones(1, 2, 3)
    assert F.pad(x, (1, 2)).shape == (1, 2, 6)
    assert F.pad(x, (1, 1, 2, 0)).shape == (1, 4, 5)


def test_one_hot_matches_pytorch():
    torch = pytest.importorskip("torch")
    labels = np.array([[0, 3], [2, 1]])
    np.testing.assert_array_equal(
        F.one_hot(cr.tensor(labels), 5).data,
        torch.nn.functional.one_hot(torch.tensor(labels), 5).numpy())
