"""Activations (chainrule/ops/activations.py): the ReLU family, the ELU family, GELU, SiLU,
softplus, logsigmoid, hardtanh, relu6, softsign by the op specs; their kinks (PyTorch's
subgradients), the ELU slopes' relative precision, extremes, randomized ReLU and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.autograd import gradcheck, gradgradcheck
from tests.ops.spec import (
    EXTREMES, OpSpec, SpecChecks, assert_correct_at_extremes, assert_same, away_from,
    extreme_values, torch_function, torch_value_and_grad, value_and_grad,
)

_erf = np.vectorize(math.erf, otypes=[np.float64])
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
SHAPES = [((3, 4),), ((2, 3, 2),), ((0, 4),)]


def _np_elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _np_softplus(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.logaddexp(0.0, beta * x) / beta)


def _np_gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _spread(*kinks):
    """Twice the standard normal, kept away from the kinks."""
    away = away_from(*kinks)
    return lambda x: away(2 * x)


def _spec(name, op, reference, covers=(), kinks=(), torch=None, shapes=SHAPES, **options):
    return OpSpec(name, op, reference, shapes, covers=covers, domain=_spread(*kinks),
                  torch=torch, **options)


SPECS = [
    _spec("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x),
          ("LeakyRelu",), (0.0,), torch_function("leaky_relu", 0.2)),
    _spec("rrelu_eval", lambda x: F.rrelu(x, 0.1, 0.3, training=False),
          lambda x: np.where(x >= 0, x, x * 0.2), ("LeakyRelu",), (0.0,),
          torch_function("rrelu", 0.1, 0.3, training=False)),
    OpSpec("prelu", F.prelu, lambda x, w: np.where(x > 0, x, x * w.reshape(1, -1, 1)),
           [((2, 3, 4), (3,)), ((0, 3, 4), (3,))], covers=("PRelu",),
           domain=(_spread(0.0), np.abs), torch=torch_function("prelu")),
    OpSpec("prelu_one_slope", F.prelu, lambda x, w: np.where(x > 0, x, x * w),
           [((2, 3), (1,)), ((4,), (1,)), ((0, 3), (1,))], covers=("PRelu",),
           domain=(_spread(0.0), np.abs), torch=torch_function("prelu")),
    _spec("elu", lambda x: F.elu(x, 0.7), lambda x: _np_elu(x, 0.7), ("Elu", "SafeExp"), (0.0,),
          torch_function("elu", 0.7)),
    _spec("selu", F.selu, lambda x: SELU_SCALE * _np_elu(x, SELU_ALPHA), ("Elu",), (0.0,),
          torch_function("selu")),
    _spec("celu", lambda x: F.celu(x, 1.5),
          lambda x: np.maximum(x, 0) + np.minimum(0, 1.5 * np.expm1(np.minimum(x, 0) / 1.5)),
          ("Elu",), (0.0,), torch_function("celu", 1.5)),
    _spec("gelu", F.gelu, lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))), ("Erf",),
          torch=torch_function("gelu")),
    _spec("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), _np_gelu_tanh, ("Tanh",),
          torch=torch_function("gelu", approximate="tanh")),
    _spec("silu", F.silu, lambda x: x / (1 + np.exp(-x)), ("Sigmoid",),
          torch=torch_function("silu")),
    _spec("softplus", F.softplus, _np_softplus, ("Softplus",), torch=torch_function("softplus")),
    _spec("softplus_beta", lambda x: F.softplus(x, 2.0, 3.0),
          lambda x: _np_softplus(x, 2.0, 3.0), ("Softplus",), (1.5,),
          torch_function("softplus", 2.0, 3.0)),
    _spec("logsigmoid", F.logsigmoid, lambda x: -np.log1p(np.exp(-x)),
          torch=torch_function("logsigmoid")),
    _spec("hardtanh", lambda x: F.hardtanh(x, -0.5, 0.8), lambda x: np.clip(x, -0.5, 0.8),
          ("Hardtanh",), (-0.5, 0.8), torch_function("hardtanh", -0.5, 0.8)),
    _spec("relu6", F.relu6, lambda x: np.clip(x, 0, 6), ("Hardtanh",), (0.0, 6.0),
          torch_function("relu6")),
    _spec("softsign", F.softsign, lambda x: x / (1 + np.abs(x)), ("Softsign",), (0.0,),
          torch_function("softsign")),
]


class TestSpecs(SpecChecks):
    specs = SPECS


# ---------------------------------------------------------------------------- kinks
@pytest.mark.parametrize("low,high", [(-1.0, 1.0), (-0.5, 0.8), (0.0, 6.0), (0.5, 0.5)])
def test_hardtanh_passes_the_gradient_only_strictly_inside(low, high):
    x = np.array([low - 1.0, low, (low + high) / 2, high, high + 1.0, np.nan])
    out, grad = value_and_grad(lambda t: F.hardtanh(t, low, high), x)
    np.testing.assert_array_equal(out, np.clip(x, low, high))
    # NaN is neither <= min_val nor >= max_val, so (as PyTorch) its gradient passes.
    expected = np.where((x <= low) | (x >= high), 0.0, 1.0)
    np.testing.assert_array_equal(grad, expected)


def test_relu6_has_zero_gradient_at_its_kinks():
    x = np.array([-1.0, 0.0, 3.0, 6.0, 7.0])
    out, grad = value_and_grad(F.relu6, x)
    np.testing.assert_array_equal(out, np.clip(x, 0.0, 6.0))
    np.testing.assert_array_equal(grad, ((x > 0) & (x < 6)).astype(np.float64))


def test_hardtanh_gradcheck_and_double_backward():
    x = cr.tensor(np.array([-1.7, -0.3, 0.2, 0.9, 1.4]), dtype=cr.float64, requires_grad=True)
    assert gradcheck(F.hardtanh, (x,))
    assert gradgradcheck(F.hardtanh, (x,))
    assert gradcheck(F.relu6, (cr.tensor([-1.0, 2.5, 7.0], dtype=cr.float64,
                                         requires_grad=True),))


# ---------------------------------------------------------------------------- ELU family
ELU_CASES = {
    # name: (function, derivative for x <= 0 in long double, derivative for x > 0)
    "elu": (F.elu, lambda x: np.exp(x), 1.0),
    "elu_alpha": (lambda t: F.elu(t, 0.7), lambda x: np.longdouble(0.7) * np.exp(x), 1.0),
    "selu": (F.selu, lambda x: np.longdouble(SELU_SCALE) * np.longdouble(SELU_ALPHA) * np.exp(x),
             SELU_SCALE),
    "celu": (F.celu, lambda x: np.exp(x), 1.0),
    "celu_alpha": (lambda t: F.celu(t, 2.0), lambda x: np.exp(x / 2), 1.0),
}


@pytest.mark.parametrize("name", list(ELU_CASES))
@pytest.mark.parametrize("dtype,rtol", [(cr.float64, 1e-6), (cr.float32, 1e-5)])
def test_elu_family_gradients_keep_relative_precision(name, dtype, rtol):
    fn, negative_slope, positive_slope = ELU_CASES[name]
    x = np.concatenate([np.linspace(-80.0, 80.0, 1601), -np.logspace(-8, 1.9, 60)])
    x = x.astype(np.float32 if dtype == cr.float32 else np.float64)
    _, grad = value_and_grad(fn, x, dtype)
    exact = np.where(x > 0, positive_slope,
                     negative_slope(np.minimum(x, 0).astype(np.longdouble)).astype(np.float64))
    relative = np.abs(grad - exact) / np.abs(exact)
    assert relative.max() <= rtol, f"worst at x = {x[np.argmax(relative)]}"


@pytest.mark.parametrize("name", list(ELU_CASES))
def test_elu_family_gradcheck_and_gradgradcheck(name):
    fn = ELU_CASES[name][0]
    x = cr.tensor(np.array([-3.0, -0.7, -0.01, 0.2, 1.5]), dtype=cr.float64, requires_grad=True)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_elu_at_zero_takes_the_negative_side_slope():
    # PyTorch: d/dx at x = 0 is α·scale·e⁰ (the x <= 0 branch); a NaN input's slope is the
    # positive side's.
    for fn, slope in [(F.elu, 1.0), (lambda t: F.elu(t, 2.0), 2.0),
                      (F.selu, SELU_SCALE * SELU_ALPHA), (lambda t: F.celu(t, 3.0), 1.0)]:
        _, grad = value_and_grad(fn, np.array([0.0]))
        np.testing.assert_allclose(grad, [slope], rtol=1e-15)
    x = cr.tensor([np.nan], dtype=cr.float64, requires_grad=True)
    F.elu(x).sum().backward()
    assert x.grad.data[0] == 1.0


# ---------------------------------------------------------------------------- extremes
# name: (chainrule function, float64 NumPy reference that does not overflow)
EXTREME_OPS = {
    "leaky_relu": (F.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x)),
    "leaky_relu_0.2": (lambda t: F.leaky_relu(t, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "prelu": (lambda t: F.prelu(t, cr.tensor([0.25], dtype=t.dtype)),
              lambda x: np.where(x > 0, x, 0.25 * x)),
    "rrelu": (F.rrelu, lambda x: np.where(x >= 0, x, x * (1 / 8 + 1 / 3) / 2)),
    "elu": (F.elu, _np_elu),
    "elu_0.7": (lambda t: F.elu(t, 0.7), lambda x: _np_elu(x, 0.7)),
    "selu": (F.selu, lambda x: SELU_SCALE * _np_elu(x, SELU_ALPHA)),
    "celu": (F.celu, _np_elu),
    "gelu": (F.gelu, lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
    "gelu_tanh": (lambda t: F.gelu(t, approximate="tanh"), _np_gelu_tanh),
    "silu": (F.silu, lambda x: x * np.exp(-np.logaddexp(0.0, -x))),
    "softplus": (F.softplus, _np_softplus),
    "softplus_beta": (lambda t: F.softplus(t, 2.0, 3.0), lambda x: _np_softplus(x, 2.0, 3.0)),
    "logsigmoid": (F.logsigmoid, lambda x: -np.logaddexp(0.0, -x)),
    "hardtanh": (F.hardtanh, lambda x: np.clip(x, -1.0, 1.0)),
    "hardtanh_-0.5_0.8": (lambda t: F.hardtanh(t, -0.5, 0.8), lambda x: np.clip(x, -0.5, 0.8)),
    "relu6": (F.relu6, lambda x: np.clip(x, 0.0, 6.0)),
    "softsign": (F.softsign, lambda x: x / (1 + np.abs(x))),
}


@pytest.mark.parametrize("dtype,big", EXTREMES)
@pytest.mark.parametrize("name", list(EXTREME_OPS))
def test_at_extremes_do_not_warn_and_stay_correct(name, dtype, big):
    fn, reference = EXTREME_OPS[name]
    values = extreme_values(big)
    assert_correct_at_extremes(fn, reference, values, dtype, np.linspace(0.5, 1.5, values.size))


def test_gradcheck_at_generic_points():
    x = cr.tensor(np.array([-2.3, -0.6, 0.1, 0.7, 1.9]), dtype=cr.float64, requires_grad=True)
    for fn in (F.softsign, F.gelu, lambda t: F.gelu(t, approximate="tanh")):
        assert gradcheck(fn, (x,))
        assert gradgradcheck(fn, (x,))


# ---------------------------------------------------------------------------- randomized ReLU
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


# ---------------------------------------------------------------------------- errors
def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(cr.randn(2), approximate="fast")
    with pytest.raises(TypeError, match="floating-point"):
        F.softplus(cr.tensor([1, 2]))


def test_prelu_rejects_a_weight_that_does_not_fit():
    with pytest.raises(ValueError, match=r"weight of shape \(4,\).*\(3,\)"):
        F.prelu(cr.randn(2, 3), cr.ones(4))


def test_celu_with_alpha_zero_is_an_error():
    with pytest.raises(ValueError, match="celu: alpha must not be 0"):
        F.celu(cr.ones(2), 0.0)


# ---------------------------------------------------------------------------- PyTorch
def test_kinks_and_elu_family_match_pytorch():
    torch = pytest.importorskip("torch")
    x = np.array([-7.0, -1.0, -0.5, 0.0, 0.5, 1.0, 6.0, 8.0, np.nan])
    for name in ("hardtanh", "relu6", "elu", "selu", "celu", "softsign", "gelu"):
        assert_same(value_and_grad(getattr(F, name), x),
                    torch_value_and_grad(torch, getattr(torch.nn.functional, name), x))
    assert_same(value_and_grad(lambda t: F.hardtanh(t, -0.5, 6.0), x),
                torch_value_and_grad(torch, lambda t: torch.nn.functional.hardtanh(t, -0.5, 6.0),
                                     x))
    deep = np.linspace(-80.0, -20.0, 13)
    for name in ("elu", "selu", "celu"):
        assert_same(value_and_grad(getattr(F, name), deep),
                    torch_value_and_grad(torch, getattr(torch.nn.functional, name), deep))


def test_prelu_with_a_weight_of_another_dtype_is_an_error_as_in_pytorch():
    with pytest.raises(TypeError, match="prelu: input dtype float32 does not match .* float64"):
        F.prelu(cr.randn(4, 3), cr.full((3,), 0.25, dtype=cr.float64))
