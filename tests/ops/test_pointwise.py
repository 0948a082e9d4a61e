"""Powers and unary math (chainrule/ops/pointwise.py): the op specs, the edges of pow (0 ** 0,
zero and negative bases, integer tensors), kinks and extremes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck
from tests.ops.spec import (
    EXTREMES, OpSpec, SpecChecks, assert_correct_at_extremes, assert_same, away_from_zero,
    extreme_values, positive, torch_value_and_grad, value_and_grad,
)

BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 1), (4,)), ((2, 3, 4), (1, 4)), ((), (3,)), ((0, 3), (3,))]
UNARY_SHAPES = [((3, 4),), ((2, 3, 2),), ((),), ((0, 2),)]
SPECS = [
    OpSpec("pow", lambda a, b: a ** b, np.power, BINARY_SHAPES, covers=("Pow",), domain=positive,
           torch=lambda torch, a, b: a ** b),
    OpSpec("pow_scalar", lambda a: a ** 3, lambda a: a ** 3, UNARY_SHAPES, covers=("Pow",),
           torch=lambda torch, a: a ** 3),
    OpSpec("rpow_scalar", lambda a: 2.0 ** a, lambda a: 2.0 ** a, UNARY_SHAPES, covers=("Pow",),
           torch=lambda torch, a: 2.0 ** a),
    OpSpec("exp", cr.exp, np.exp, UNARY_SHAPES, covers=("Exp",),
           torch=lambda torch, a: torch.exp(a)),
    OpSpec("log", cr.log, np.log, UNARY_SHAPES, covers=("Log",), domain=positive,
           torch=lambda torch, a: torch.log(a)),
    OpSpec("sqrt", cr.sqrt, np.sqrt, UNARY_SHAPES, covers=("Sqrt",), domain=positive,
           torch=lambda torch, a: torch.sqrt(a)),
    OpSpec("abs", cr.abs, np.abs, UNARY_SHAPES, covers=("Abs",), domain=away_from_zero,
           torch=lambda torch, a: torch.abs(a)),
    OpSpec("sin", cr.sin, np.sin, UNARY_SHAPES, covers=("Sin",),
           torch=lambda torch, a: torch.sin(a)),
    OpSpec("cos", cr.cos, np.cos, UNARY_SHAPES, covers=("Cos",),
           torch=lambda torch, a: torch.cos(a)),
    OpSpec("tanh", cr.tanh, np.tanh, UNARY_SHAPES, covers=("Tanh",),
           torch=lambda torch, a: torch.tanh(a)),
    OpSpec("sigmoid", cr.sigmoid, lambda a: 1 / (1 + np.exp(-a)), UNARY_SHAPES,
           covers=("Sigmoid",), torch=lambda torch, a: torch.sigmoid(a)),
    OpSpec("relu", cr.relu, lambda a: np.maximum(a, 0), UNARY_SHAPES, covers=("Relu",),
           domain=away_from_zero, torch=lambda torch, a: torch.relu(a)),
]



class TestSpecs(SpecChecks):
    specs = SPECS


# ---------------------------------------------------------------------------- pow
def test_zero_power_has_a_zero_gradient_even_at_zero():
    x = np.array([0.0, 1.0, -2.0, 3.5])
    for exponent in (0, 0.0, cr.tensor(0.0, dtype=cr.float64)):
        out, grad = value_and_grad(lambda t: t ** exponent, x)
        np.testing.assert_array_equal(out, np.ones(4))
        np.testing.assert_array_equal(grad, np.zeros(4))
def test_pow_gradient_at_a_zero_base():
    a_values = np.zeros(5)
    b_values = np.array([0.0, 1.0, 2.0, 3.0, 0.5])
    a = cr.tensor(a_values, dtype=cr.float64, requires_grad=True)
    b = cr.tensor(b_values, dtype=cr.float64, requires_grad=True)
    with np.errstate(divide="ignore", invalid="raise"):  # 0^-0.5 = inf is the true slope
        (a ** b).sum().backward()
    # d/da a^b = b·a^(b-1) (0 at b = 0, inf for 0 < b < 1); d/db a^b = a^b·log a → 0 as a → 0.
    with np.errstate(divide="ignore", invalid="ignore"):
        expected_a = np.where(b_values == 0, 0.0, b_values * a_values ** (b_values - 1))
    np.testing.assert_array_equal(a.grad.data, expected_a)
    np.testing.assert_array_equal(b.grad.data, np.zeros(5))


def test_pow_exponent_gradient_where_the_base_is_not_positive():
    # a^b·log a has no real value for a < 0 (NaN, as PyTorch) and is -inf at 0^b for b < 0.
    a = cr.tensor([-2.0, 0.0, 3.0], dtype=cr.float64)
    b = cr.tensor([2.0, -1.0, 1.5], dtype=cr.float64, requires_grad=True)
    with np.errstate(divide="ignore"):
        (a ** b).sum().backward()
    grad = b.grad.data
    assert np.isnan(grad[0]) and grad[1] == -np.inf
    np.testing.assert_allclose(grad[2], 3.0 ** 1.5 * np.log(3.0), rtol=1e-14)


def test_pow_usual_gradients():
    rng = np.random.default_rng(2)
    a_values, b_values = np.abs(rng.standard_normal((3, 4))) + 0.5, rng.standard_normal((3, 4))
    a = cr.tensor(a_values, dtype=cr.float64, requires_grad=True)
    b = cr.tensor(b_values, dtype=cr.float64, requires_grad=True)
    (a ** b).sum().backward()
    np.testing.assert_allclose(a.grad.data, b_values * a_values ** (b_values - 1), rtol=1e-13)
    np.testing.assert_allclose(b.grad.data, a_values ** b_values * np.log(a_values), rtol=1e-13)


def test_pow_gradcheck_including_zero_exponents():
    rng = np.random.default_rng(3)
    a = cr.tensor(np.abs(rng.standard_normal((3, 4))) + 0.5, dtype=cr.float64,
                  requires_grad=True)
    b_values = rng.standard_normal((3, 4))
    b_values[0, :2] = 0.0
    b = cr.tensor(b_values, dtype=cr.float64, requires_grad=True)
    negative = cr.tensor(-np.abs(rng.standard_normal(4)) - 0.5, dtype=cr.float64,
                         requires_grad=True)
    for fn, inputs in [(lambda s, t: s ** t, (a, b)), (lambda s: s ** 0, (a,)),
                       (lambda s: s ** 3, (negative,)), (lambda s: s ** -2.0, (negative,)),
                       (lambda s: 2.0 ** s, (negative,)), (lambda t: a ** t, (b,))]:
        assert gradcheck(fn, inputs)
        assert gradgradcheck(fn, inputs)


def test_double_backward_of_zero_power_at_zero_is_finite():
    x = cr.zeros(3, dtype=cr.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (first,) = cr.autograd.grad((x ** 0).sum(), x, create_graph=True)
    np.testing.assert_array_equal(first.data, 0.0)
    if first.requires_grad:
        (second,) = cr.autograd.grad(first.sum(), x, allow_unused=True)
        assert second is None or np.array_equal(second.data, np.zeros(3))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_integer_tensor_to_a_negative_integer_power_raises(dtype):
    x = cr.from_numpy(np.array([1, 2, 3], dtype=dtype))
    negatives = [-1, np.int64(-2), cr.tensor(-1),
                 cr.from_numpy(np.array([1, -1, 2], np.int16 if dtype == np.uint8 else dtype))]
    for exponent in negatives:
        with pytest.raises(ValueError, match=r"negative integer powers.*-1|negative integer "
                                             r"powers.*-2") as info:
            x ** exponent
        assert str(x.dtype) in str(info.value) and ".float()" in str(info.value)
    with pytest.raises(ValueError, match="negative integer powers"):
        2 ** cr.tensor([-1, 2])


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int16, np.uint8])
def test_integer_pow_keeps_the_tensor_dtype(dtype):
    values = np.array([0, 1, 2, 3], dtype=dtype)
    x = cr.from_numpy(values)
    assert x.dtype == dtype
    for out, expected in [(x ** 2, values ** 2), (2 ** x, 2 ** values), (x ** 0, values ** 0),
                          (x ** x, values ** values)]:
        assert out.dtype == dtype
        np.testing.assert_array_equal(out.data, expected)


def test_mixed_float_and_integer_pow_is_float():
    ints = cr.tensor([1, 2, 3])
    floats = cr.tensor([0.5, 2.0, 1.5])
    assert floats.dtype == np.float32
    expected = np.array([0.5, 2.0, 1.5], dtype=np.float32) ** np.array([1, 2, 3], np.float32)
    for out in (floats ** ints, ints ** floats):
        assert out.dtype == np.float32
    np.testing.assert_allclose((floats ** ints).data, expected, rtol=1e-6)
    assert (ints ** 2.0).dtype == np.float32 and (2.0 ** ints).dtype == np.float32
    np.testing.assert_allclose((ints ** -1.0).data, 1.0 / np.array([1.0, 2.0, 3.0]), rtol=1e-6)
    negative_ints = cr.tensor([-1, 1, -2])
    assert (floats ** negative_ints).dtype == np.float32
    np.testing.assert_allclose((floats ** negative_ints).data,
                               np.array([0.5, 2.0, 1.5]) ** np.array([-1.0, 1.0, -2.0]),
                               rtol=1e-6)


# ---------------------------------------------------------------------------- kinks, extremes
def test_relu_has_zero_gradient_at_its_kink():
    x = np.array([-1.0, 0.0, 3.0, 6.0, 7.0])
    out, grad = value_and_grad(cr.relu, x)
    np.testing.assert_array_equal(out, np.maximum(x, 0.0))
    np.testing.assert_array_equal(grad, (x > 0).astype(np.float64))


def test_sigmoid_limits_are_exact():
    out = cr.sigmoid(cr.tensor([-1000.0, 1000.0]))
    assert out.tolist() == [0.0, 1.0]


# name: (chainrule function, float64 NumPy reference that does not overflow)
EXTREME_OPS = {
    "sigmoid": (cr.sigmoid, lambda x: np.exp(-np.logaddexp(0.0, -x))),
    "tanh": (cr.tanh, np.tanh),
    "relu": (cr.relu, lambda x: np.maximum(x, 0.0)),
}


@pytest.mark.parametrize("dtype,big", EXTREMES)
@pytest.mark.parametrize("name", list(EXTREME_OPS))
def test_at_extremes_do_not_warn_and_stay_correct(name, dtype, big):
    fn, reference = EXTREME_OPS[name]
    values = extreme_values(big)
    assert_correct_at_extremes(fn, reference, values, dtype, np.linspace(0.5, 1.5, values.size))


# ---------------------------------------------------------------------------- PyTorch
def test_pow_edges_match_pytorch():
    torch = pytest.importorskip("torch")
    base = np.array([0.0, 0.0, 0.0, 0.0, 2.0, -2.0])
    exponent = np.array([0.0, 1.0, 2.0, 0.5, 0.0, 3.0])
    ours_a = cr.tensor(base, dtype=cr.float64, requires_grad=True)
    ours_b = cr.tensor(exponent, dtype=cr.float64, requires_grad=True)
    with np.errstate(divide="ignore"):  # d/da at 0^0.5 is inf, as PyTorch's
        (ours_a ** ours_b).sum().backward()
    theirs_a = torch.tensor(base, requires_grad=True)
    theirs_b = torch.tensor(exponent, requires_grad=True)
    (theirs_a ** theirs_b).sum().backward()
    assert_same((ours_a.grad.data, ours_b.grad.data),
                (theirs_a.grad.numpy(), theirs_b.grad.numpy()))
    assert_same(value_and_grad(lambda t: t ** 0, base),
                torch_value_and_grad(torch, lambda t: t ** 0, base))
    for dtype, torch_dtype in [(np.int32, torch.int32), (np.int64, torch.int64)]:
        ours = cr.from_numpy(np.array([1, 2, 3], dtype))
        theirs = torch.tensor([1, 2, 3], dtype=torch_dtype)
        for op in (lambda t: t ** 2, lambda t: 2 ** t, lambda t: t ** t):
            np.testing.assert_array_equal(op(ours).data, op(theirs).numpy())
            assert str(op(ours).dtype) == str(op(theirs).dtype).replace("torch.", "")
    with pytest.raises(RuntimeError, match="negative integer powers"):
        torch.tensor([1, 2]) ** -1


def test_relu_passes_the_gradient_of_a_nan_as_pytorch_does():
    x = cr.tensor([np.nan, -1.0, 0.0, 2.0], requires_grad=True)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 0.0, 1.0])
