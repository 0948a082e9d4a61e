"""Reductions (chainrule/ops/reduce.py): sum, mean, var and std, max and min, amax, logsumexp,
norm by the op specs and property tests; their edges (norms and deviations at zero, NaN in
max/min, far-apart values in logsumexp) and error messages."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck
from tests.ops.spec import (
    EXTREMES, OpSpec, SpecChecks, assert_correct_at_extremes, assert_same, extreme_values,
    torch_value_and_grad, value_and_grad,
)

UNARY_SHAPES = [((3, 4),), ((2, 3, 2),), ((),), ((0, 2),)]
NO_EMPTY_MAX = "the max of no elements is undefined (PyTorch raises)"


def _np_logsumexp(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return (np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m).squeeze(axis)


SPECS = [
    OpSpec("sum", lambda a: a.sum(), np.sum, UNARY_SHAPES, covers=("Sum",),
           torch=lambda torch, a: a.sum()),
    OpSpec("sum_dim", lambda a: a.sum(dim=-1, keepdim=True),
           lambda a: a.sum(axis=-1, keepdims=True), [((3, 4),), ((2, 3, 2),), ((0, 2),)],
           covers=("Sum",), torch=lambda torch, a: a.sum(dim=-1, keepdim=True)),
    OpSpec("sum_dims", lambda a: a.sum(dim=(0, 2)), lambda a: a.sum(axis=(0, 2)),
           [((2, 3, 2),), ((2, 0, 3),)], covers=("Sum",), torch=lambda torch, a: a.sum(dim=(0, 2))),
    OpSpec("mean", lambda a: a.mean(dim=0), lambda a: a.mean(axis=0),
           [((3, 4),), ((2, 3, 2),), ((2, 0, 3),)], covers=("Sum",),
           torch=lambda torch, a: a.mean(dim=0)),
    OpSpec("var", lambda a: a.var(dim=1), lambda a: a.var(axis=1, ddof=1),
           [((3, 4),), ((2, 3, 2),), ((0, 4),)], torch=lambda torch, a: a.var(dim=1)),
    OpSpec("var_biased", lambda a: a.var(unbiased=False), lambda a: a.var(), [((3, 4),)],
           torch=lambda torch, a: a.var(unbiased=False),
           no_zero_size="the variance of no elements is undefined (NaN)"),
    OpSpec("std", lambda a: a.std(dim=0), lambda a: a.std(axis=0, ddof=1), [((3, 4),), ((3, 0),)],
           covers=("StdFromVar",), torch=lambda torch, a: a.std(dim=0)),
    OpSpec("max_all", lambda a: a.max(), np.max, [((3, 4),), ((2, 3, 2),)], covers=("Extremum",),
           torch=lambda torch, a: a.max(), no_zero_size=NO_EMPTY_MAX),
    OpSpec("max_dim", lambda a: a.max(dim=1).values, lambda a: a.max(axis=1),
           [((3, 4),), ((2, 3, 2),), ((0, 4),)], covers=("Extremum",),
           torch=lambda torch, a: a.max(dim=1).values),
    OpSpec("min_dim", lambda a: a.min(dim=-1, keepdim=True).values,
           lambda a: a.min(axis=-1, keepdims=True), [((3, 4),), ((0, 3),)], covers=("Extremum",),
           torch=lambda torch, a: a.min(dim=-1, keepdim=True).values),
    OpSpec("amax", lambda a: a.amax(dim=(0, 1)), lambda a: a.max(axis=(0, 1)),
           [((2, 3, 2),), ((2, 3, 0),)], covers=("Extremum",),
           torch=lambda torch, a: a.amax(dim=(0, 1))),
    OpSpec("logsumexp", lambda a: cr.logsumexp(a, dim=1), lambda a: _np_logsumexp(a, 1),
           [((3, 4),), ((2, 3, 2),), ((0, 4),)], torch=lambda torch, a: torch.logsumexp(a, 1)),
    OpSpec("norm", lambda a: a.norm(), lambda a: np.sqrt((a * a).sum()), [((3, 4),), ((0, 3),)],
           covers=("Norm",), torch=lambda torch, a: a.norm()),
]


class TestSpecs(SpecChecks):
    specs = SPECS


shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)


@settings(max_examples=60, deadline=None)
@given(shapes, st.data(), st.booleans(), st.sampled_from(["sum", "mean", "amax"]))
def test_reductions_match_numpy_for_any_dims(shape, data, keepdim, name):
    ndim = len(shape)
    dims = data.draw(st.one_of(st.none(), st.lists(st.integers(-max(ndim, 1), max(ndim, 1) - 1),
                                                    min_size=1, max_size=max(ndim, 1),
                                                    unique_by=lambda d: d % max(ndim, 1))))
    axis = None if dims is None else tuple(dims)
    x_np = np.random.default_rng(1).standard_normal(shape)
    reduced_sizes = (x_np.size if axis is None else
                     int(np.prod([shape[d % ndim] for d in axis])) if ndim else 1)
    if name != "sum" and reduced_sizes == 0:
        return  # the mean or max of nothing is undefined
    if ndim == 0 and axis is not None:
        axis = None
    x = cr.tensor(x_np, dtype=cr.float64, requires_grad=True)
    out = getattr(x, name)(dim=axis, keepdim=keepdim)
    reference = {"sum": np.sum, "mean": np.mean, "amax": np.max}[name](x_np, axis=axis,
                                                                        keepdims=keepdim)
    np.testing.assert_allclose(out.data, reference)
    out.sum().backward()
    assert x.grad.shape == x_np.shape
    if name == "sum":
        np.testing.assert_array_equal(x.grad.data, np.ones(shape))


# ---------------------------------------------------------------------------- norm at zero
def _rows(*rows):
    return np.array(rows, dtype=np.float64)


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
    out, grad = value_and_grad(lambda t: t.norm(p=p), np.zeros(3))
    assert out == 0.0
    np.testing.assert_array_equal(grad, np.zeros(3))


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
@pytest.mark.parametrize("p", NORM_PS)
def test_norm_zero_row_does_not_poison_the_batch(p, dtype):
    x = _rows([0.0, 0.0, 0.0], [3.0, -4.0, 1.0], [0.0, 2.0, -0.5], [2.0, -2.0, 1.0])
    out, grad = value_and_grad(lambda t: t.norm(p=p, dim=1), x, dtype)
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


# ---------------------------------------------------------------------------- var and std
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
        var, var_grad = value_and_grad(lambda t: t.var(dim=1, correction=correction), x, dtype)
        std, std_grad = value_and_grad(lambda t: t.std(dim=1, correction=correction), x, dtype)
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
        out, grad = value_and_grad(lambda t: t.std(), values)
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


# ---------------------------------------------------------------------------- NaN in max/min
NAN_ROWS = _rows([1.0, np.nan, 3.0, np.nan], [1.0, 3.0, 3.0, 2.0], [np.nan, 0.0, 0.0, np.nan])


@pytest.mark.parametrize("largest", [True, False])
def test_full_max_and_min_send_the_gradient_to_the_nans(largest):
    reduce = np.max if largest else np.min
    out, grad = value_and_grad(lambda t: t.max() if largest else t.min(), NAN_ROWS)
    assert np.isnan(out) and np.isnan(reduce(NAN_ROWS))
    nans = np.isnan(NAN_ROWS)
    np.testing.assert_array_equal(grad, nans / nans.sum())
    finite = _rows([1.0, 5.0, 5.0], [-2.0, 5.0, 0.0])
    out, grad = value_and_grad(lambda t: t.max() if largest else t.min(), finite)
    assert out == reduce(finite)
    winners = finite == reduce(finite)
    np.testing.assert_array_equal(grad, winners / winners.sum())


@pytest.mark.parametrize("largest", [True, False])
def test_max_and_min_along_a_dim_send_the_gradient_to_the_first_nan(largest):
    reduce, arg = (np.max, np.argmax) if largest else (np.min, np.argmin)
    for dim in (0, 1):
        out, grad = value_and_grad(lambda t: (t.max(dim=dim) if largest else t.min(dim=dim)).values,
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
        out, grad = value_and_grad(lambda t: t.amax(dim=dim) if largest else t.amin(dim=dim),
                                   NAN_ROWS)
        axis = dim
        expected_out = reduce(NAN_ROWS, axis=axis)
        np.testing.assert_array_equal(out, expected_out)
        kept = reduce(NAN_ROWS, axis=axis, keepdims=True)
        winners = NAN_ROWS == kept
        count = winners.sum(axis=axis, keepdims=True)
        with np.errstate(invalid="ignore"):
            expected = winners / count
        np.testing.assert_array_equal(grad, expected)


# ---------------------------------------------------------------------------- logsumexp
def _np_softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


@pytest.mark.parametrize("dtype,big", EXTREMES)
def test_logsumexp_at_extremes_does_not_warn_and_stays_correct(dtype, big):
    values = extreme_values(big)
    assert_correct_at_extremes(lambda t: cr.logsumexp(t, dim=0),
                               lambda x: np.log(np.exp(x - x.max()).sum()) + x.max(), values,
                               dtype, np.ones(()), lambda x, weights: weights * _np_softmax(x))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logsumexp_of_far_apart_values(dtype):
    for values in ([0.0, -1e30], [0.0, -200.0], [-200.0, 0.0, -1e4], [5.0, 5.0]):
        exact = np.array(values, dtype=np.float64)
        out, grad = value_and_grad(lambda t: cr.logsumexp(t, dim=0), np.array(values, dtype),
                                   dtype)
        top = exact.max()
        with np.errstate(under="ignore"):
            weights = np.exp(exact - top)
        np.testing.assert_allclose(out, top + np.log(weights.sum()), rtol=1e-6)
        np.testing.assert_allclose(grad, weights / weights.sum(), rtol=1e-6, atol=1e-30)


def test_logsumexp_gradcheck_at_generic_points():
    x = cr.tensor(np.array([-2.3, -0.6, 0.1, 0.7, 1.9]), dtype=cr.float64, requires_grad=True)
    for fn in (lambda t: cr.logsumexp(t, dim=0), lambda t: cr.logsumexp(t.reshape(1, 5), 1)):
        assert gradcheck(fn, (x,))
        assert gradgradcheck(fn, (x,))


# ---------------------------------------------------------------------------- errors, aliases
def test_reduction_errors():
    with pytest.raises(IndexError, match="dim 2 is out of range for a tensor with 2 dimension"):
        cr.ones(2, 3).sum(dim=2)
    with pytest.raises(TypeError, match="unexpected keyword"):
        cr.ones(3).sum(axes=0)
    with pytest.raises(TypeError, match="mean needs a floating-point tensor"):
        cr.arange(3).mean()


def test_numpy_style_aliases():
    x = cr.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(x.sum(axis=0, keepdims=True).data, [[3.0, 5.0, 7.0]])
    np.testing.assert_array_equal(x.mean(axis=1).data, [1.0, 4.0])
    np.testing.assert_allclose(x.var(axis=1, ddof=0).data, np.var(x.data, axis=1))
    with pytest.raises(TypeError, match="dim or axis, not both"):
        x.sum(dim=0, axis=0)


# ---------------------------------------------------------------------------- PyTorch
@pytest.mark.parametrize("p", [2, 1, float("inf"), 3, 0.5, 1.5])
def test_norm_and_std_at_zero_match_pytorch(p):
    torch = pytest.importorskip("torch")
    x = _rows([0.0, 0.0, 0.0], [3.0, -4.0, 0.0], [2.0, 2.0, 1.0])
    assert_same(value_and_grad(lambda t: t.norm(p=p, dim=1), x),
                torch_value_and_grad(torch, lambda t: t.norm(p=p, dim=1), x))
    assert_same(value_and_grad(lambda t: t.norm(p=p), np.zeros(3)),
                torch_value_and_grad(torch, lambda t: t.norm(p=p), np.zeros(3)))
    constant = _rows([1.0, 1.0, 1.0], [1.0, 2.0, 4.0])
    for method in ("std", "var"):
        assert_same(value_and_grad(lambda t: getattr(t, method)(dim=1), constant),
                    torch_value_and_grad(torch, lambda t: getattr(t, method)(dim=1), constant))


def test_nan_max_min_match_pytorch():
    torch = pytest.importorskip("torch")
    for fn in (lambda t: t.max(), lambda t: t.min(), lambda t: t.amax(), lambda t: t.amin(),
               lambda t: t.max(dim=1).values, lambda t: t.min(dim=0).values,
               lambda t: t.amax(dim=1), lambda t: t.amin(dim=0)):
        assert_same(value_and_grad(fn, NAN_ROWS), torch_value_and_grad(torch, fn, NAN_ROWS))
