"""Gradients at the edges of ops' domains: zeros of norms and deviations, 0 ** 0, NaN in
reductions, the kinks of clipping activations, tiny slopes of ELUs, and extreme inputs.

The rule is "never silently wrong": where PyTorch defines a subgradient we give the same value,
one degenerate slice never poisons the others, and nothing warns under
``np.errstate(all='raise')``. Expected values come from NumPy, closed forms or finite
differences; the PyTorch comparisons at the end are extra and skip without torch.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.autograd import gradcheck, gradgradcheck

SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _grad(fn, values, dtype=cr.float64):
    """fn(x) and d(sum fn(x))/dx, with NumPy warnings turned into errors."""
    x = cr.tensor(values, dtype=dtype, requires_grad=True)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        out = fn(x)
        out.sum().backward()
    return out.data, x.grad.data


def _rows(*rows):
    return np.array(rows, dtype=np.float64)


# ---------------------------------------------------------------------------- 1. norm at zero
NORM_PS = [2, 1, float("inf"), 3, 0.5, 1.5]


def _norm_gradient(x: np.ndarray, p: float) -> np.ndarray:
    """d‖x‖_p/dx row by row: sign(x)|x|^(p-1)/‖x‖^(p-1); 0 for a zero row and (p < 1) for a
    zero entry; for p = inf, sign(x) split among the entries of largest |x|."""
    grad = np.zeros_like(x)
    for row, values in enumerate(x):
        magnitude = np.abs(values)
        if not magnitude.any():
            continue
        if p == float("inf"):
            winners = magnitude == magnitude.max()
            grad[row] = np.sign(values) * winners / winners.sum()
            continue
        norm = (magnitude ** p).sum() ** (1 / p)
        nonzero = magnitude > 0
        grad[row, nonzero] = (np.sign(values[nonzero]) * magnitude[nonzero] ** (p - 1)
                              / norm ** (p - 1))
    return grad


@pytest.mark.parametrize("p", NORM_PS)
def test_norm_of_zeros_has_a_zero_gradient(p):
    out, grad = _grad(lambda t: t.norm(p=p), np.zeros(3))
    assert out == 0.0
    np.testing.assert_array_equal(grad, np.zeros(3))


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
@pytest.mark.parametrize("p", NORM_PS)
def test_norm_zero_row_does_not_poison_the_batch(p, dtype):
    x = _rows([0.0, 0.0, 0.0], [3.0, -4.0, 1.0], [0.0, 2.0, -0.5], [2.0, -2.0, 1.0])
    out, grad = _grad(lambda t: t.norm(p=p, dim=1), x, dtype)
    expected = np.linalg.norm(x, ord=p, axis=1) if p >= 1 else (np.abs(x) ** p).sum(1) ** (1 / p)
    rtol = 1e-12 if dtype == cr.float64 else 1e-5
    np.testing.assert_allclose(out, expected, rtol=rtol)
    assert np.isfinite(grad).all()
    np.testing.assert_array_equal(grad[0], 0.0)
    np.testing.assert_allclose(grad, _norm_gradient(x, p), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("p", [2, 3, 0.5, 1.5])
def test_norm_gradcheck_at_generic_points(p):
    x = cr.tensor(np.random.default_rng(0).standard_normal((3, 4)), dtype=cr.float64,
                  requires_grad=True)
    for fn in (lambda t: t.norm(p=p), lambda t: t.norm(p=p, dim=1),
               lambda t: t.norm(p=p, dim=0, keepdim=True)):
        assert gradcheck(fn, (x,))
        assert gradgradcheck(fn, (x,))


# ---------------------------------------------------------------------------- 2. var and std
@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
@pytest.mark.parametrize("constant", [1.0, 0.1, -3.7, 0.0])
def test_var_and_std_of_a_constant_row(constant, dtype):
    other = np.array([1.0, 2.0, 4.0, -0.5])
    x = np.stack([np.full(4, constant), other])
    x_rounded = x.astype(np.float32 if dtype == cr.float32 else np.float64).astype(np.float64)
    centered = x_rounded[1] - x_rounded[1].mean()
    n = x.shape[1]
    rtol = 1e-12 if dtype == cr.float64 else 1e-5
    for correction in (1, 0):
        var, var_grad = _grad(lambda t: t.var(dim=1, correction=correction), x, dtype)
        std, std_grad = _grad(lambda t: t.std(dim=1, correction=correction), x, dtype)
        expected_var = np.var(x_rounded, axis=1, ddof=correction)
        assert var[0] == 0.0 and std[0] == 0.0
        np.testing.assert_allclose(var, expected_var, rtol=rtol)
        np.testing.assert_allclose(std, np.sqrt(expected_var), rtol=rtol)
        np.testing.assert_array_equal(var_grad[0], 0.0)
        np.testing.assert_array_equal(std_grad[0], 0.0)
        np.testing.assert_allclose(var_grad[1], 2 * centered / (n - correction), rtol=rtol)
        np.testing.assert_allclose(std_grad[1], centered / ((n - correction) * std[1]),
                                   rtol=rtol)


def test_std_of_a_constant_tensor_has_a_zero_gradient():
    for values in (np.full((2, 3), 0.1), np.zeros(5), np.full(7, 1e6)):
        out, grad = _grad(lambda t: t.std(), values)
        assert out == 0.0
        np.testing.assert_array_equal(grad, 0.0)


def test_var_and_std_gradcheck_at_generic_points():
    x = cr.tensor(np.random.default_rng(1).standard_normal((3, 4)), dtype=cr.float64,
                  requires_grad=True)
    for fn in (lambda t: t.std(), lambda t: t.std(dim=1), lambda t: t.std(dim=0, correction=0),
               lambda t: t.var(dim=1), lambda t: t.var(unbiased=False)):
        assert gradcheck(fn, (x,))
        assert gradgradcheck(fn, (x,))


def test_var_rejects_an_integer_tensor():
    with pytest.raises(TypeError, match=r"var needs a floating-point tensor.*int64.*float\(\)"):
        cr.tensor([1, 2, 3]).var()


# ---------------------------------------------------------------------------- 3. pow
def test_zero_power_has_a_zero_gradient_even_at_zero():
    x = np.array([0.0, 1.0, -2.0, 3.5])
    for exponent in (0, 0.0, cr.tensor(0.0, dtype=cr.float64)):
        out, grad = _grad(lambda t: t ** exponent, x)
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


# ---------------------------------------------------------------------------- 4. NaN in max/min
NAN_ROWS = _rows([1.0, np.nan, 3.0, np.nan], [1.0, 3.0, 3.0, 2.0], [np.nan, 0.0, 0.0, np.nan])


@pytest.mark.parametrize("largest", [True, False])
def test_full_max_and_min_send_the_gradient_to_the_nans(largest):
    reduce = np.max if largest else np.min
    out, grad = _grad(lambda t: t.max() if largest else t.min(), NAN_ROWS)
    assert np.isnan(out) and np.isnan(reduce(NAN_ROWS))
    nans = np.isnan(NAN_ROWS)
    np.testing.assert_array_equal(grad, nans / nans.sum())
    finite = _rows([1.0, 5.0, 5.0], [-2.0, 5.0, 0.0])
    out, grad = _grad(lambda t: t.max() if largest else t.min(), finite)
    assert out == reduce(finite)
    winners = finite == reduce(finite)
    np.testing.assert_array_equal(grad, winners / winners.sum())


@pytest.mark.parametrize("largest", [True, False])
def test_max_and_min_along_a_dim_send_the_gradient_to_the_first_nan(largest):
    reduce, arg = (np.max, np.argmax) if largest else (np.min, np.argmin)
    for dim in (0, 1):
        out, grad = _grad(lambda t: (t.max(dim=dim) if largest else t.min(dim=dim)).values,
                          NAN_ROWS)
        np.testing.assert_array_equal(out, reduce(NAN_ROWS, axis=dim))
        expected = np.zeros_like(NAN_ROWS)
        np.put_along_axis(expected, np.expand_dims(arg(NAN_ROWS, axis=dim), dim), 1.0, axis=dim)
        np.testing.assert_array_equal(grad, expected)
        indices = (cr.tensor(NAN_ROWS).max(dim=dim) if largest
                   else cr.tensor(NAN_ROWS).min(dim=dim)).indices
        np.testing.assert_array_equal(indices.data, arg(NAN_ROWS, axis=dim))


@pytest.mark.parametrize("largest", [True, False])
def test_amax_and_amin_give_nan_gradients_to_slices_with_a_nan(largest):
    # As PyTorch: the slice's gradient is the count-scaled mask of x == result, which is 0/0
    # where the result is NaN; slices without a NaN split evenly among their ties.
    reduce = np.max if largest else np.min
    for dim in (1, 0, (0, 1), None):
        out, grad = _grad(lambda t: t.amax(dim=dim) if largest else t.amin(dim=dim), NAN_ROWS)
        axis = dim
        expected_out = reduce(NAN_ROWS, axis=axis)
        np.testing.assert_array_equal(out, expected_out)
        kept = reduce(NAN_ROWS, axis=axis, keepdims=True)
        winners = NAN_ROWS == kept
        count = winners.sum(axis=axis, keepdims=True)
        with np.errstate(invalid="ignore"):
            expected = winners / count
        np.testing.assert_array_equal(grad, expected)


# ---------------------------------------------------------------------------- 5. kinks
@pytest.mark.parametrize("low,high", [(-1.0, 1.0), (-0.5, 0.8), (0.0, 6.0), (0.5, 0.5)])
def test_hardtanh_passes_the_gradient_only_strictly_inside(low, high):
    x = np.array([low - 1.0, low, (low + high) / 2, high, high + 1.0, np.nan])
    out, grad = _grad(lambda t: F.hardtanh(t, low, high), x)
    np.testing.assert_array_equal(out, np.clip(x, low, high))
    # NaN is neither <= min_val nor >= max_val, so (as PyTorch) its gradient passes.
    expected = np.where((x <= low) | (x >= high), 0.0, 1.0)
    np.testing.assert_array_equal(grad, expected)


def test_relu6_and_relu_have_zero_gradient_at_their_kinks():
    x = np.array([-1.0, 0.0, 3.0, 6.0, 7.0])
    out, grad = _grad(F.relu6, x)
    np.testing.assert_array_equal(out, np.clip(x, 0.0, 6.0))
    np.testing.assert_array_equal(grad, ((x > 0) & (x < 6)).astype(np.float64))
    out, grad = _grad(cr.relu, x)
    np.testing.assert_array_equal(grad, (x > 0).astype(np.float64))


def test_hardtanh_gradcheck_and_double_backward():
    x = cr.tensor(np.array([-1.7, -0.3, 0.2, 0.9, 1.4]), dtype=cr.float64, requires_grad=True)
    assert gradcheck(F.hardtanh, (x,))
    assert gradgradcheck(F.hardtanh, (x,))
    assert gradcheck(F.relu6, (cr.tensor([-1.0, 2.5, 7.0], dtype=cr.float64,
                                         requires_grad=True),))


# ---------------------------------------------------------------------------- 6. ELU family
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
    _, grad = _grad(fn, x, dtype)
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
        _, grad = _grad(fn, np.array([0.0]))
        np.testing.assert_allclose(grad, [slope], rtol=1e-15)
    x = cr.tensor([np.nan], dtype=cr.float64, requires_grad=True)
    F.elu(x).sum().backward()
    assert x.grad.data[0] == 1.0


# ---------------------------------------------------------------------------- 7. extremes
def _np_elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _np_softplus(x):
    return np.where(x > 20, x, np.logaddexp(0.0, x))


def _np_softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def _np_log_softmax(x):
    shifted = x - x.max()
    return shifted - np.log(np.exp(shifted).sum())


def _softmax_gradient(x, weights):
    p = _np_softmax(x)
    return p * (weights - np.sum(weights * p))


def _log_softmax_gradient(x, weights):
    return weights - _np_softmax(x) * np.sum(weights)


# name: (chainrule function, float64 NumPy reference, its weighted gradient (x, weights) -> array
# for vector functions, None for elementwise ones: finite differences check those)
ACTIVATIONS = {
    "sigmoid": (cr.sigmoid, lambda x: np.exp(-np.logaddexp(0.0, -x)), None),
    "tanh": (cr.tanh, np.tanh, None),
    "relu": (cr.relu, lambda x: np.maximum(x, 0.0), None),
    "leaky_relu": (F.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x), None),
    "prelu": (lambda t: F.prelu(t, cr.tensor([0.25], dtype=t.dtype)),
              lambda x: np.where(x > 0, x, 0.25 * x), None),
    "rrelu": (F.rrelu, lambda x: np.where(x >= 0, x, x * (1 / 8 + 1 / 3) / 2), None),
    "elu": (F.elu, _np_elu, None),
    "selu": (F.selu, lambda x: SELU_SCALE * _np_elu(x, SELU_ALPHA), None),
    "celu": (F.celu, _np_elu, None),
    "gelu": (F.gelu, lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))), None),
    "gelu_tanh": (lambda t: F.gelu(t, approximate="tanh"),
                  lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi)
                                                   * (x + 0.044715 * x ** 3))), None),
    "silu": (F.silu, lambda x: x * np.exp(-np.logaddexp(0.0, -x)), None),
    "softplus": (F.softplus, _np_softplus, None),
    "logsigmoid": (F.logsigmoid, lambda x: -np.logaddexp(0.0, -x), None),
    "hardtanh": (F.hardtanh, lambda x: np.clip(x, -1.0, 1.0), None),
    "relu6": (F.relu6, lambda x: np.clip(x, 0.0, 6.0), None),
    "softsign": (F.softsign, lambda x: x / (1 + np.abs(x)), None),
    "erf": (F.erf, _erf, None),
    "softmax": (lambda t: F.softmax(t, dim=0), _np_softmax, _softmax_gradient),
    "log_softmax": (lambda t: F.log_softmax(t, dim=0), _np_log_softmax, _log_softmax_gradient),
    "logsumexp": (lambda t: cr.logsumexp(t, dim=0),
                  lambda x: np.log(np.exp(x - x.max()).sum()) + x.max(),
                  lambda x, weights: weights * _np_softmax(x)),
}


def _numerical_gradient(reference, x: np.ndarray, weights: np.ndarray):
    """d(Σ weights·f(x))/dx of an elementwise f by central differences in float64, with steps
    relative to |x| (vector functions use closed forms: with 1e30 beside -1e4 the differences
    of a float64 reference cannot resolve the small entries)."""
    step = 1e-6 * np.maximum(1.0, np.abs(x))
    with np.errstate(all="ignore"):
        return weights * (reference(x + step) - reference(x - step)) / (2 * step)


@pytest.mark.parametrize("dtype,big", [(np.float32, 1e30), (np.float64, 1e30),
                                       (np.float64, 1e300)])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activations_at_extremes_do_not_warn_and_stay_correct(name, dtype, big):
    fn, reference, gradient = ACTIVATIONS[name]
    values = np.array([-big, -1e4, -200.0, -30.0, -1.5, 0.5, 3.0, 30.0, 200.0, 1e4, big])
    x = cr.tensor(values.astype(dtype), dtype=dtype, requires_grad=True)
    weights = np.ones(()) if name == "logsumexp" else np.linspace(0.5, 1.5, values.size)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        out = fn(x)
        (out * cr.tensor(weights, dtype=out.dtype)).sum().backward()
    exact = values.astype(dtype).astype(np.float64)
    with np.errstate(all="ignore"):
        expected = reference(exact)
    rtol, atol = (1e-6, 1e-6) if dtype == np.float32 else (1e-10, 1e-300)
    np.testing.assert_allclose(out.data, expected, rtol=rtol, atol=atol)
    grad = x.grad.data
    assert np.isfinite(grad).all()
    with np.errstate(all="ignore"):
        expected_grad = (_numerical_gradient(reference, exact, weights) if gradient is None
                         else gradient(exact, weights))
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logsumexp_of_far_apart_values(dtype):
    for values in ([0.0, -1e30], [0.0, -200.0], [-200.0, 0.0, -1e4], [5.0, 5.0]):
        exact = np.array(values, dtype=np.float64)
        out, grad = _grad(lambda t: cr.logsumexp(t, dim=0), np.array(values, dtype), dtype)
        top = exact.max()
        with np.errstate(under="ignore"):
            weights = np.exp(exact - top)
        np.testing.assert_allclose(out, top + np.log(weights.sum()), rtol=1e-6)
        np.testing.assert_allclose(grad, weights / weights.sum(), rtol=1e-6, atol=1e-30)


def test_erf_and_gelu_of_nan_are_nan():
    # NaN falls in none of Cody's three ranges; it must not come out as uninitialized memory.
    values = np.full(1000, np.nan)
    values[::2] = np.linspace(-3, 3, 500)
    for fn in (F.erf, F.gelu):
        out = fn(cr.tensor(values, dtype=cr.float64)).data
        assert np.isnan(out[1::2]).all() and np.isfinite(out[::2]).all()
    np.testing.assert_allclose(F.erf(cr.tensor(values[::2], dtype=cr.float64)).data,
                               _erf(values[::2]), rtol=1e-13, atol=1e-15)


def test_celu_with_alpha_zero_is_an_error():
    with pytest.raises(ValueError, match="celu: alpha must not be 0"):
        F.celu(cr.ones(2), 0.0)


def test_changed_activations_gradcheck_at_generic_points():
    x = cr.tensor(np.array([-2.3, -0.6, 0.1, 0.7, 1.9]), dtype=cr.float64, requires_grad=True)
    for fn in (F.softsign, F.gelu, lambda t: F.gelu(t, approximate="tanh"), F.erf,
               lambda t: cr.logsumexp(t, dim=0), lambda t: cr.logsumexp(t.reshape(1, 5), 1)):
        assert gradcheck(fn, (x,))
        assert gradgradcheck(fn, (x,))


# ---------------------------------------------------------------------------- PyTorch
def _torch_grad(torch, fn, values):
    x = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    out = fn(x)
    out.sum().backward()
    return out.detach().numpy(), x.grad.numpy()


def _assert_same(ours, theirs):
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15, equal_nan=True)


@pytest.mark.parametrize("p", [2, 1, float("inf"), 3, 0.5, 1.5])
def test_norm_and_std_at_zero_match_pytorch(p):
    torch = pytest.importorskip("torch")
    x = _rows([0.0, 0.0, 0.0], [3.0, -4.0, 0.0], [2.0, 2.0, 1.0])
    _assert_same(_grad(lambda t: t.norm(p=p, dim=1), x),
                 _torch_grad(torch, lambda t: t.norm(p=p, dim=1), x))
    _assert_same(_grad(lambda t: t.norm(p=p), np.zeros(3)),
                 _torch_grad(torch, lambda t: t.norm(p=p), np.zeros(3)))
    constant = _rows([1.0, 1.0, 1.0], [1.0, 2.0, 4.0])
    for method in ("std", "var"):
        _assert_same(_grad(lambda t: getattr(t, method)(dim=1), constant),
                     _torch_grad(torch, lambda t: getattr(t, method)(dim=1), constant))


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
    _assert_same((ours_a.grad.data, ours_b.grad.data),
                 (theirs_a.grad.numpy(), theirs_b.grad.numpy()))
    _assert_same(_grad(lambda t: t ** 0, base), _torch_grad(torch, lambda t: t ** 0, base))
    for dtype, torch_dtype in [(np.int32, torch.int32), (np.int64, torch.int64)]:
        ours = cr.from_numpy(np.array([1, 2, 3], dtype))
        theirs = torch.tensor([1, 2, 3], dtype=torch_dtype)
        for op in (lambda t: t ** 2, lambda t: 2 ** t, lambda t: t ** t):
            np.testing.assert_array_equal(op(ours).data, op(theirs).numpy())
            assert str(op(ours).dtype) == str(op(theirs).dtype).replace("torch.", "")
    with pytest.raises(RuntimeError, match="negative integer powers"):
        torch.tensor([1, 2]) ** -1


def test_nan_max_min_match_pytorch():
    torch = pytest.importorskip("torch")
    for fn in (lambda t: t.max(), lambda t: t.min(), lambda t: t.amax(), lambda t: t.amin(),
               lambda t: t.max(dim=1).values, lambda t: t.min(dim=0).values,
               lambda t: t.amax(dim=1), lambda t: t.amin(dim=0)):
        _assert_same(_grad(fn, NAN_ROWS), _torch_grad(torch, fn, NAN_ROWS))


def test_kinks_and_elu_family_match_pytorch():
    torch = pytest.importorskip("torch")
    x = np.array([-7.0, -1.0, -0.5, 0.0, 0.5, 1.0, 6.0, 8.0, np.nan])
    for name in ("hardtanh", "relu6", "elu", "selu", "celu", "softsign", "gelu"):
        _assert_same(_grad(getattr(F, name), x),
                     _torch_grad(torch, getattr(torch.nn.functional, name), x))
    _assert_same(_grad(lambda t: F.hardtanh(t, -0.5, 6.0), x),
                 _torch_grad(torch, lambda t: torch.nn.functional.hardtanh(t, -0.5, 6.0), x))
    deep = np.linspace(-80.0, -20.0, 13)
    for name in ("elu", "selu", "celu"):
        _assert_same(_grad(getattr(F, name), deep),
                     _torch_grad(torch, getattr(torch.nn.functional, name), deep))
