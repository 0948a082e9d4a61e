"""Activations: one declarative table gives, for each function, the forward against a NumPy
reference, float64 gradcheck and gradgradcheck, the PyTorch cross-check, the module wrapper and
the stability extremes. Adding an activation means adding one ``Case`` line.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck

_erf = np.vectorize(math.erf, otypes=[np.float64])
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _np_softplus(x, beta=1.0, threshold=20.0):
    z = beta * x
    safe = np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0)
    return np.where(z > threshold, x, safe / beta)


def _np_softmax(x, dim):
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def _np_log_softmax(x, dim):
    shifted = x - x.max(axis=dim, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))


def _np_elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


@dataclass
class Case:
    name: str
    function: Callable  # F-style, on chainrule tensors
    reference: Callable  # on float64 arrays
    module: Callable | None = None  # builds the nn module doing the same
    kwargs: dict = field(default_factory=dict)
    kinks: tuple = ()  # points where the function is not differentiable (inputs kept away)
    torch_name: str | None = None  # torch.nn.functional.<name>, called with the same kwargs
    shape: tuple = (3, 4)
    stable: bool = False  # part of the ±1000 float32 stability check


CASES = [
    Case("sigmoid", F.sigmoid, lambda x: 1 / (1 + np.exp(-x)), nn.Sigmoid, torch_name="sigmoid",
         stable=True),
    Case("tanh", F.tanh, np.tanh, nn.Tanh, torch_name="tanh", stable=True),
    Case("relu", F.relu, lambda x: np.maximum(x, 0), nn.ReLU, kinks=(0.0,), torch_name="relu",
         stable=True),
    Case("leaky_relu", F.leaky_relu, lambda x, negative_slope: np.where(x > 0, x,
         negative_slope * x), lambda: nn.LeakyReLU(0.2), {"negative_slope": 0.2}, (0.0,),
         "leaky_relu", stable=True),
    Case("elu", F.elu, _np_elu, lambda: nn.ELU(0.7), {"alpha": 0.7}, (0.0,), "elu", stable=True),
    Case("selu", F.selu, lambda x: SELU_SCALE * _np_elu(x, SELU_ALPHA), nn.SELU, kinks=(0.0,),
         torch_name="selu", stable=True),
    Case("celu", F.celu, lambda x, alpha: np.maximum(x, 0) + np.minimum(
         0, alpha * np.expm1(np.minimum(x, 0) / alpha)), lambda: nn.CELU(1.5), {"alpha": 1.5},
         (0.0,), "celu"),
    Case("gelu", F.gelu, lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))), nn.GELU,
         torch_name="gelu", stable=True),
    Case("gelu_tanh", F.gelu, lambda x, approximate: 0.5 * x * (1 + np.tanh(
         math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))), lambda: nn.GELU("tanh"),
         {"approximate": "tanh"}, torch_name="gelu", stable=True),
    Case("silu", F.silu, lambda x: x / (1 + np.exp(-x)), nn.SiLU, torch_name="silu", stable=True),
    Case("softplus", F.softplus, _np_softplus, nn.Softplus, torch_name="softplus", stable=True),
    Case("softplus_beta", F.softplus, _np_softplus, lambda: nn.Softplus(2.0, 3.0),
         {"beta": 2.0, "threshold": 3.0}, (1.5,), "softplus", stable=True),
    Case("logsigmoid", F.logsigmoid, lambda x: -np.log1p(np.exp(-x)), nn.LogSigmoid,
         torch_name="logsigmoid", stable=True),
    Case("hardtanh", F.hardtanh, lambda x, min_val, max_val: np.clip(x, min_val, max_val),
         lambda: nn.Hardtanh(-0.5, 0.8), {"min_val": -0.5, "max_val": 0.8}, (-0.5, 0.8),
         "hardtanh", stable=True),
    Case("relu6", F.relu6, lambda x: np.clip(x, 0, 6), nn.ReLU6, kinks=(0.0, 6.0),
         torch_name="relu6"),
    Case("softsign", F.softsign, lambda x: x / (1 + np.abs(x)), nn.Softsign, kinks=(0.0,),
         torch_name="softsign", stable=True),
    Case("softmax", F.softmax, lambda x, dim: _np_softmax(x, dim), lambda: nn.Softmax(1),
         {"dim": 1}, torch_name="softmax", stable=True),
    Case("softmax_dim0", F.softmax, lambda x, dim: _np_softmax(x, dim), lambda: nn.Softmax(0),
         {"dim": 0}, torch_name="softmax", shape=(3, 2, 2)),
    Case("log_softmax", F.log_softmax, lambda x, dim: _np_log_softmax(x, dim),
         lambda: nn.LogSoftmax(-1), {"dim": -1}, torch_name="log_softmax", stable=True),
    Case("rrelu_eval", F.rrelu, lambda x, lower, upper: np.where(x >= 0, x, x * (lower + upper)
         / 2), lambda: nn.RReLU(0.1, 0.3).eval(), {"lower": 0.1, "upper": 0.3}, (0.0,)),
]
IDS = [case.name for case in CASES]


def _input(case: Case, dtype=np.float64) -> np.ndarray:
    x = np.random.default_rng(1).standard_normal(case.shape) * 2
    for kink in case.kinks:
        near = np.abs(x - kink) < 0.05
        x = np.where(near, x + 0.1, x)
    return x.astype(dtype)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_matches_numpy_reference(case):
    x = _input(case)
    out = case.function(cr.tensor(x, dtype=cr.float64), **case.kwargs)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, case.reference(x, **case.kwargs), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float32_stays_float32(case):
    x = _input(case, np.float32)
    out = case.function(cr.tensor(x), **case.kwargs)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, case.reference(x.astype(np.float64), **case.kwargs),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradcheck(case):
    x = cr.tensor(_input(case), dtype=cr.float64, requires_grad=True)
    assert gradcheck(lambda t: case.function(t, **case.kwargs), (x,))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradgradcheck(case):
    x = cr.tensor(_input(case), dtype=cr.float64, requires_grad=True)
    assert gradgradcheck(lambda t: case.function(t, **case.kwargs), (x,))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_module_computes_the_function(case):
    x = cr.tensor(_input(case, np.float32))
    module = case.module()
    np.testing.assert_allclose(module(x).data, case.function(x, **case.kwargs).data, rtol=1e-6)
    assert isinstance(repr(module), str) and type(module).__name__ in repr(module)


@pytest.mark.parametrize("case", [c for c in CASES if c.torch_name], ids=lambda c: c.name)
def test_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    x = _input(case)
    grad_out = np.random.default_rng(2).standard_normal(x.shape)
    ours = cr.tensor(x, dtype=cr.float64, requires_grad=True)
    out = case.function(ours, **case.kwargs)
    out.backward(cr.tensor(grad_out, dtype=cr.float64))
    theirs = torch.tensor(x, requires_grad=True)
    expected = getattr(torch.nn.functional, case.torch_name)(theirs, **case.kwargs)
    expected.backward(torch.tensor(grad_out))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("case", [c for c in CASES if c.stable], ids=lambda c: c.name)
def test_extremes_are_finite_without_numpy_warnings(case):
    values = np.array([[-1000.0, -100.0, -20.0, 0.0, 20.0, 100.0, 1000.0]], dtype=np.float32)
    x = cr.tensor(values, requires_grad=True)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        out = case.function(x, **case.kwargs)
        out.sum().backward()
    assert np.isfinite(out.data).all() and np.isfinite(x.grad.data).all()
    with np.errstate(all="ignore"):  # the naive references overflow; compare where they don't
        expected = case.reference(values.astype(np.float64), **case.kwargs)
    finite = np.isfinite(expected)
    assert finite.sum() >= 5
    np.testing.assert_allclose(out.data[finite], expected[finite], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("value", [1.0, 1e3, 1e10, 1e20, -1e20])
def test_log_softmax_of_equal_values_is_log_half(value):
    with np.errstate(all="raise"):
        out = F.log_softmax(cr.tensor([value, value]), dim=0)
    np.testing.assert_allclose(out.data, np.log(0.5), rtol=1e-6)


def test_sigmoid_limits_are_exact():
    out = F.sigmoid(cr.tensor([-1000.0, 1000.0]))
    assert out.tolist() == [0.0, 1.0]


def test_softmax_rows_sum_to_one_and_default_dim():
    x = cr.randn(4, 5)
    np.testing.assert_allclose(F.softmax(x, dim=1).data.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(F.softmax(x).data, F.softmax(x, dim=1).data)


# ---------------------------------------------------------------------------- erf
def test_erf_matches_math_erf_to_machine_precision():
    x = np.concatenate([np.linspace(-8, 8, 4001), np.logspace(-12, 1.4, 300),
                        -np.logspace(-12, 1.4, 300), [0.0, 30.0, -30.0]])
    got = F.erf(cr.tensor(x, dtype=cr.float64)).data
    expected = _erf(x)
    relative = np.abs(got - expected) / np.maximum(np.abs(expected), 1e-300)
    assert relative.max() < 1e-13


def test_erf_gradients():
    x = cr.tensor(np.linspace(-2.5, 2.5, 7), dtype=cr.float64, requires_grad=True)
    assert gradcheck(F.erf, (x,))
    assert gradgradcheck(F.erf, (x,))


# ---------------------------------------------------------------------------- learned / random
def test_prelu_per_channel_forward_and_gradients():
    x = cr.tensor(_input(Case("p", None, None, shape=(2, 3, 4)), np.float64) * 1.0,
                  dtype=cr.float64, requires_grad=True)
    weight = cr.tensor([0.1, 0.25, -0.5], dtype=cr.float64, requires_grad=True)
    out = F.prelu(x, weight)
    expected = np.where(x.data > 0, x.data, x.data * weight.data.reshape(1, 3, 1))
    np.testing.assert_allclose(out.data, expected)
    assert gradcheck(F.prelu, (x, weight))
    assert gradgradcheck(F.prelu, (x, weight))


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


def test_prelu_rejects_a_weight_that_does_not_fit():
    with pytest.raises(ValueError, match=r"weight of shape \(4,\).*\(3,\)"):
        F.prelu(cr.randn(2, 3), cr.ones(4))


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


def test_rrelu_gradient_uses_the_sampled_slope():
    cr.manual_seed(3)
    x = cr.tensor(-np.ones(50), requires_grad=True)
    out = F.rrelu(x, 0.1, 0.3, training=True)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.data, -out.data, rtol=1e-6)


def test_rrelu_is_reproducible_under_manual_seed():
    cr.manual_seed(7)
    a = F.rrelu(-cr.ones(10), training=True).data
    cr.manual_seed(7)
    b = F.rrelu(-cr.ones(10), training=True).data
    np.testing.assert_array_equal(a, b)


def test_maxout_is_the_max_over_groups_of_a_linear_layer():
    layer = nn.Maxout(4, 3, pool_size=2)
    assert layer.linear.weight.shape == (6, 4)
    x = cr.randn(5, 4)
    pieces = x.data @ layer.linear.weight.data.T + layer.linear.bias.data
    np.testing.assert_allclose(layer(x).data, pieces.reshape(5, 3, 2).max(-1), rtol=1e-6)
    x64 = cr.randn(2, 4, dtype=cr.float64, requires_grad=True)
    layer.double()
    assert gradcheck(layer, (x64,))


def test_activation_errors_name_the_problem():
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(cr.randn(2), approximate="fast")
    with pytest.raises(ValueError, match="lower <= upper"):
        nn.RReLU(0.5, 0.1)
    with pytest.raises(TypeError, match="floating-point"):
        F.softplus(cr.tensor([1, 2]))
    with pytest.raises(ValueError, match="min_val"):
        nn.Hardtanh(1.0, -1.0)
