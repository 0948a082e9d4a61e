"""Activation layers (chainrule/nn/activation.py): each module computes its functional op (the
ops themselves are specced in tests/ops/), prints its options, PReLU learns its slopes, RReLU
draws slopes in training and uses their mean in eval; constructor errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd import gradcheck

# name: (module factory, the functional op with the same options, input shape)
MODULES = {
    "sigmoid": (nn.Sigmoid, F.sigmoid, (3, 4)),
    "tanh": (nn.Tanh, F.tanh, (3, 4)),
    "relu": (nn.ReLU, F.relu, (3, 4)),
    "leaky_relu": (lambda: nn.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2), (3, 4)),
    "elu": (lambda: nn.ELU(0.7), lambda x: F.elu(x, 0.7), (3, 4)),
    "selu": (nn.SELU, F.selu, (3, 4)),
    "celu": (lambda: nn.CELU(1.5), lambda x: F.celu(x, 1.5), (3, 4)),
    "gelu": (nn.GELU, F.gelu, (3, 4)),
    "gelu_tanh": (lambda: nn.GELU("tanh"), lambda x: F.gelu(x, approximate="tanh"), (3, 4)),
    "silu": (nn.SiLU, F.silu, (3, 4)),
    "softplus": (nn.Softplus, F.softplus, (3, 4)),
    "softplus_beta": (lambda: nn.Softplus(2.0, 3.0), lambda x: F.softplus(x, 2.0, 3.0), (3, 4)),
    "logsigmoid": (nn.LogSigmoid, F.logsigmoid, (3, 4)),
    "hardtanh": (lambda: nn.Hardtanh(-0.5, 0.8), lambda x: F.hardtanh(x, -0.5, 0.8), (3, 4)),
    "relu6": (nn.ReLU6, F.relu6, (3, 4)),
    "softsign": (nn.Softsign, F.softsign, (3, 4)),
    "softmax": (lambda: nn.Softmax(1), lambda x: F.softmax(x, dim=1), (3, 4)),
    "softmax_dim0": (lambda: nn.Softmax(0), lambda x: F.softmax(x, dim=0), (3, 2, 2)),
    "log_softmax": (lambda: nn.LogSoftmax(-1), lambda x: F.log_softmax(x, dim=-1), (3, 4)),
    "rrelu_eval": (lambda: nn.RReLU(0.1, 0.3).eval(),
                   lambda x: F.rrelu(x, 0.1, 0.3, training=False), (3, 4)),
}


@pytest.mark.parametrize("name", list(MODULES))
def test_module_computes_the_function(name):
    make, function, shape = MODULES[name]
    x = cr.tensor(np.random.default_rng(1).standard_normal(shape).astype(np.float32) * 2)
    module = make()
    np.testing.assert_allclose(module(x).data, function(x).data, rtol=1e-6)
    assert isinstance(repr(module), str) and type(module).__name__ in repr(module)


def test_prelu_module_learns_one_slope_per_channel():
    layer = nn.PReLU(3, init=0.3)
    assert layer.weight.shape == (3,) and np.allclose(layer.weight.data, 0.3)
    x = cr.tensor([[[-1.0, 2.0]], [[-3.0, -1.0]], [[4.0, 5.0]]]).reshape(1, 3, 2)
    layer(x).sum().backward()
    np.testing.assert_allclose(layer.weight.grad.data, [-1.0, -4.0, 0.0])
    single = nn.PReLU()
    assert single.weight.shape == (1,)
    assert gradcheck(lambda t, w: F.prelu(t, w),
                     (cr.randn(2, 3, dtype=cr.float64, requires_grad=True),
                      cr.tensor([0.2], dtype=cr.float64, requires_grad=True)))


def test_rrelu_training_draws_slopes_in_range_and_eval_uses_the_mean():
    x = -cr.ones(2000)
    layer = nn.RReLU(0.1, 0.3)
    slopes = -layer(x).data
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3
    assert slopes.std() > 0.03  # random per element
    positive = layer(cr.ones(5)).data
    np.testing.assert_array_equal(positive, 1.0)
    layer.eval()
    np.testing.assert_allclose(-layer(x).data, 0.2)
    np.testing.assert_allclose(F.rrelu(x, 0.1, 0.3, training=False).data, -0.2)


def test_constructor_errors_name_the_problem():
    with pytest.raises(ValueError, match="lower <= upper"):
        nn.RReLU(0.5, 0.1)
    with pytest.raises(ValueError, match="min_val"):
        nn.Hardtanh(1.0, -1.0)
