"""Tensor (chainrule/tensor.py): creation, dtypes, conversion, repr, in-place ops; the methods'
PyTorch positional signatures (``x.var(1, False)`` is the biased variance along dim 1) against
NumPy and torch; views, version counters and in-place ops through views, never a silently
wrong gradient (each in-place program against the same program written out of place, by
gradcheck and gradgradcheck in float64, and against PyTorch).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck


def test_float_data_defaults_to_float32():
    assert cr.tensor(1.5).dtype == np.float32
    assert cr.tensor([1.0, 2.0]).dtype == np.float32
    assert cr.tensor(np.zeros(3, dtype=np.float64)).dtype == np.float32
    assert cr.tensor([1, 2]).dtype == np.int64
    assert cr.tensor([True, False]).dtype == np.bool_
    assert cr.tensor([1.0], dtype=cr.float64).dtype == np.float64
    assert cr.tensor([1.0], dtype=np.float64).dtype == np.float64
    assert cr.tensor([1.0], dtype="float64").dtype == np.float64


def test_tensor_copies_but_from_numpy_shares():
    array = np.arange(3.0, dtype=np.float32)
    copied, shared = cr.tensor(array), cr.from_numpy(array)
    array[0] = 10
    assert copied.data[0] == 0 and shared.data[0] == 10
    assert cr.from_numpy(np.zeros(2, dtype=np.float64)).dtype == np.float64
    with pytest.raises(TypeError, match="numpy.ndarray"):
        cr.from_numpy([1, 2])


def test_python_scalars_never_upcast_float32():
    x = cr.ones(3)
    for result in (x * 0.1, x + 1e-3, 2.5 - x, x / 3.0, x ** 2.0, x * 2, 1 / x):
        assert result.dtype == np.float32
    assert (cr.ones(2, dtype=cr.float64) * 0.1).dtype == np.float64
    assert (cr.ones(2) * cr.ones(2, dtype=cr.float64)).dtype == np.float64
    assert (cr.ones(2) + cr.tensor([1, 2])).dtype == np.float32


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="only floating-point tensors can require gradients"):
        cr.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating-point"):
        cr.arange(3).requires_grad_()


def test_properties_and_conversion():
    x = cr.tensor(np.arange(6.0).reshape(2, 3))
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and x.numel() == 6
    assert x.size() == (2, 3) and x.size(1) == 3
    assert x.T.shape == (3, 2)
    np.testing.assert_array_equal(np.asarray(x), np.arange(6.0).reshape(2, 3))
    assert x.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert cr.tensor([2.5]).item() == 2.5
    assert float(cr.tensor(2.5)) == 2.5 and int(cr.tensor(3)) == 3
    assert bool(cr.tensor([1.0])) is True
    assert x.numpy() is x.data
    assert x.detach().data is x.data
    assert x.to(cr.float64).dtype == np.float64 and x.double().dtype == np.float64
    assert x.long().dtype == np.int64 and x.float().dtype == np.float32
    assert len(x) == 2 and [row.shape for row in x] == [(3,), (3,)]


def test_one_element_conversions_raise_clearly():
    x = cr.ones(2, 2)
    with pytest.raises(ValueError, match="4 elements .* cannot be converted to a Python scalar"):
        x.item()
    with pytest.raises(ValueError, match="cannot be converted"):
        float(x)
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)
    with pytest.raises(RuntimeError, match="detach"):
        cr.ones(2, requires_grad=True).numpy()


def test_repr_is_readable():
    assert repr(cr.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    x = cr.tensor([1.0], requires_grad=True)
    assert "requires_grad=True" in repr(x)
    assert "grad_fn=MulBackward" in repr(x * 2)
    assert "dtype=float64" in repr(cr.tensor([1.0], dtype=cr.float64))


def test_creation_functions():
    assert cr.zeros(2, 3).shape == (2, 3) and cr.zeros((2, 3)).shape == (2, 3)
    np.testing.assert_array_equal(cr.ones(2).data, np.ones(2, np.float32))
    np.testing.assert_array_equal(cr.full((2,), 7.0).data, [7.0, 7.0])
    assert cr.full((2,), 7.0).dtype == np.float32
    assert cr.empty(3).shape == (3,)
    np.testing.assert_array_equal(cr.arange(5).data, np.arange(5))
    assert cr.arange(0.0, 1.0, 0.25).dtype == np.float32
    np.testing.assert_allclose(cr.linspace(0, 1, 5).data, np.linspace(0, 1, 5))
    np.testing.assert_array_equal(cr.eye(3).data, np.eye(3))
    assert cr.zeros_like(cr.ones(2, dtype=cr.float64)).dtype == np.float64
    assert cr.ones_like(cr.ones(2, 2)).shape == (2, 2)
    r = cr.randint(0, 5, (100,))
    assert r.dtype == np.int64 and r.data.min() >= 0 and r.data.max() < 5
    assert cr.rand(3).dtype == np.float32 and cr.randn(3, dtype=cr.float64).dtype == np.float64
    with pytest.raises(ValueError, match="non-negative"):
        cr.zeros(-1)


def test_manual_seed_makes_random_calls_reproducible():
    cr.manual_seed(123)
    first = (cr.rand(4).data, cr.randn(2, 2).data, cr.randint(0, 10, (3,)).data)
    cr.manual_seed(123)
    second = (cr.rand(4).data, cr.randn(2, 2).data, cr.randint(0, 10, (3,)).data)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    cr.manual_seed(124)
    assert not np.array_equal(cr.rand(4).data, first[0])


def test_inplace_ops_change_data_and_version():
    x = cr.ones(3)
    data = x.data
    x.add_(1).mul_(3).sub_(cr.ones(3), alpha=2)
    assert x.data is data
    np.testing.assert_array_equal(x.data, np.full(3, 4.0))
    assert x._version == 3
    x.div_(2)
    x.zero_()
    np.testing.assert_array_equal(x.data, 0)
    x.copy_(cr.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(x.data, [1, 2, 3])
    x[1] = 9.0
    np.testing.assert_array_equal(x.data, [1, 9, 3])
    x += 1
    np.testing.assert_array_equal(x.data, [2, 10, 4])
    assert x.data is data


def test_inplace_on_leaf_that_requires_grad_is_refused_unless_no_grad():
    w = cr.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad .* in-place"):
        w.add_(1)
    with cr.no_grad():
        w -= 0.5
    np.testing.assert_array_equal(w.data, 0.5)
    assert w.requires_grad and w.is_leaf


def test_inplace_on_non_leaf_is_recorded():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.mul_(x)  # y = 2x², dy/dx = 4x
    y[0] = y[0] * 3  # first element now 6x²
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [12 * 1.0, 4 * 2.0])


def test_modifying_a_saved_tensor_in_place_is_detected_at_backward():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    z = y.sin()
    y.add_(1)
    with pytest.raises(RuntimeError,
                       match="modified by an in-place operation.*SinBackward|input 0 of Sin"):
        z.sum().backward()


def test_modifying_a_parameter_after_forward_is_detected():
    w = cr.tensor([[1.0, 2.0]], requires_grad=True)
    x = cr.ones(3, 1)
    loss = (x @ w).sum()
    with cr.no_grad():
        w.sub_(0.1)
    with pytest.raises(RuntimeError, match="version 1; expected version 0"):
        loss.backward()


def test_modifying_a_saved_output_in_place_is_detected():
    x = cr.tensor([0.5, 1.0], requires_grad=True)
    y = x.exp()
    with cr.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="output of Exp"):
        y.sum().backward()


def test_comparisons_give_bool_tensors():
    x = cr.tensor([1.0, 2.0, 3.0])
    assert (x > 1.5).dtype == np.bool_
    np.testing.assert_array_equal((x >= 2).data, [False, True, True])
    np.testing.assert_array_equal((x == 2).data, [False, True, False])
    np.testing.assert_array_equal((x != 2).data, [True, False, True])
    np.testing.assert_array_equal(((x < 3) & (x > 1)).data, [False, True, False])
    np.testing.assert_array_equal((~(x < 2)).data, [False, True, True])


def test_numpy_array_on_the_left_defers_to_tensor():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], dtype=np.float32) * x
    assert isinstance(y, cr.Tensor) and y.requires_grad


def test_argmax_argmin_all_any():
    x = cr.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    assert int(x.argmax()) == 3 and int(x.argmin()) == 4
    np.testing.assert_array_equal(x.argmax(dim=1).data, [1, 0])
    np.testing.assert_array_equal(x.argmin(axis=0).data, [0, 1, 0])
    assert x.argmax(dim=1).dtype == np.int64
    assert bool((x > -1).all()) and not bool((x > 6).all()) and bool((x > 6).any())
    values, indices = x.max(dim=1)
    np.testing.assert_array_equal(values.data, [5.0, 7.0])
    np.testing.assert_array_equal(indices.data, [1, 0])
    np.testing.assert_array_equal(x.max(axis=1).data, [5.0, 7.0])  # NumPy style: values only


def test_fill_with_a_tensor_value_sends_the_gradient_to_the_value():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    value = cr.tensor(3.0, requires_grad=True)
    y.fill_(value)
    (y * cr.tensor([1.0, 2.0])).sum().backward()
    np.testing.assert_array_equal(y.data, [3.0, 3.0])
    assert float(value.grad) == 3.0  # used at both positions, weighted 1 and 2


# ---------------------------------------------------------------------------- PyTorch's signatures
A = np.random.default_rng(0).standard_normal((3, 4))
B = np.random.default_rng(1).standard_normal((3, 4))
C = np.random.default_rng(2).standard_normal((2, 1, 3))


def _norm(a, p, axis=None, keepdims=False):
    absolute = np.abs(a)
    if p == np.inf:
        return absolute.max(axis=axis, keepdims=keepdims)
    return (absolute ** p).sum(axis=axis, keepdims=keepdims) ** (1.0 / p)


def _logsumexp(a, axis, keepdims=False):
    return np.log(np.exp(a).sum(axis=axis, keepdims=keepdims))


# (id, data, method, positional args, keyword args, NumPy reference of the data)
METHOD_CASES = [
    # var / std: PyTorch's var(dim, unbiased, keepdim) and var(unbiased) overloads
    ("var_dim_biased", A, "var", (1, False), {}, lambda a: np.var(a, axis=1, ddof=0)),
    ("var_dim_unbiased", A, "var", (1, True), {}, lambda a: np.var(a, axis=1, ddof=1)),
    ("var_dim_biased_keepdim", A, "var", (0, False, True), {},
     lambda a: np.var(a, axis=0, ddof=0, keepdims=True)),
    ("var_biased_overload", A, "var", (False,), {}, lambda a: np.var(a, ddof=0)),
    ("var_unbiased_overload", A, "var", (True,), {}, lambda a: np.var(a, ddof=1)),
    ("var_dims_biased", A, "var", ((0, 1), False), {}, lambda a: np.var(a, ddof=0)),
    ("var_none_biased", A, "var", (None, False), {}, lambda a: np.var(a, ddof=0)),
    ("var_default", A, "var", (), {}, lambda a: np.var(a, ddof=1)),
    ("var_dim", A, "var", (1,), {}, lambda a: np.var(a, axis=1, ddof=1)),
    ("var_keywords", A, "var", (), {"dim": 1, "unbiased": False, "keepdim": True},
     lambda a: np.var(a, axis=1, ddof=0, keepdims=True)),
    ("var_correction", A, "var", (1,), {"correction": 0}, lambda a: np.var(a, axis=1, ddof=0)),
    ("var_keepdim_keyword", A, "var", (1,), {"keepdim": True},
     lambda a: np.var(a, axis=1, ddof=1, keepdims=True)),
    ("std_dim_unbiased_keepdim", A, "std", (0, True, True), {},
     lambda a: np.std(a, axis=0, ddof=1, keepdims=True)),
    ("std_dim_biased", A, "std", (1, False), {}, lambda a: np.std(a, axis=1, ddof=0)),
    ("std_biased_overload", A, "std", (False,), {}, lambda a: np.std(a, ddof=0)),
    ("std_unbiased_keywords", A, "std", (), {"dim": 0, "unbiased": True},
     lambda a: np.std(a, axis=0, ddof=1)),
    # sum, mean, amax, amin, logsumexp: (dim, keepdim)
    ("sum_dim_keepdim", A, "sum", (1, True), {}, lambda a: a.sum(1, keepdims=True)),
    ("sum_dims", A, "sum", ((0, 1),), {}, lambda a: a.sum()),
    ("mean_dim_keepdim", A, "mean", (0, True), {}, lambda a: a.mean(0, keepdims=True)),
    ("amax_dim_keepdim", A, "amax", (1, True), {}, lambda a: a.max(1, keepdims=True)),
    ("amin_dims", A, "amin", ((0, 1),), {}, lambda a: a.min()),
    ("logsumexp_dim_keepdim", A, "logsumexp", (1, True), {},
     lambda a: _logsumexp(a, 1, keepdims=True)),
    ("logsumexp_dims", A, "logsumexp", ((0, 1),), {}, lambda a: _logsumexp(a, None)),
    # max / min: a tensor, (values, indices) along one dim, or the elementwise max/min
    ("max_all", A, "max", (), {}, lambda a: a.max()),
    ("max_dim", A, "max", (1,), {}, lambda a: (a.max(1), a.argmax(1))),
    ("max_dim_keepdim", A, "max", (0, True), {},
     lambda a: (a.max(0, keepdims=True), a.argmax(0, keepdims=True))),
    ("min_dim", A, "min", (0,), {}, lambda a: (a.min(0), a.argmin(0))),
    ("max_other", A, "max", (B,), {}, lambda a: np.maximum(a, B)),
    ("min_other", A, "min", (B,), {}, lambda a: np.minimum(a, B)),
    # argmax / argmin / all / any: (dim, keepdim)
    ("argmax_all", A, "argmax", (), {}, lambda a: a.argmax()),
    ("argmax_dim_keepdim", A, "argmax", (1, True), {}, lambda a: a.argmax(1, keepdims=True)),
    ("argmin_dim", A, "argmin", (0,), {}, lambda a: a.argmin(0)),
    ("all_dim_keepdim", A > -1, "all", (1, True), {}, lambda a: a.all(1, keepdims=True)),
    ("any_dim", A > 1, "any", (0,), {}, lambda a: a.any(0)),
    # norm(p, dim, keepdim), p='fro' by default
    ("norm_default", A, "norm", (), {}, lambda a: np.sqrt((a * a).sum())),
    ("norm_fro", A, "norm", ("fro",), {}, lambda a: np.sqrt((a * a).sum())),
    ("norm_fro_dims", A, "norm", ("fro", (0, 1), True), {},
     lambda a: np.sqrt((a * a).sum(keepdims=True))),
    ("norm_1_dim_keepdim", A, "norm", (1, 1, True), {}, lambda a: _norm(a, 1, 1, True)),
    ("norm_3_dim", A, "norm", (3, 0), {}, lambda a: _norm(a, 3, 0)),
    ("norm_inf_dim", A, "norm", (float("inf"), 1), {}, lambda a: _norm(a, np.inf, 1)),
    ("norm_dim_keyword", A, "norm", (), {"dim": 1}, lambda a: _norm(a, 2, 1)),
    # shape methods
    ("reshape_ints", A, "reshape", (2, 6), {}, lambda a: a.reshape(2, 6)),
    ("reshape_tuple", A, "reshape", ((6, -1),), {}, lambda a: a.reshape(6, -1)),
    ("view_minus_one", A, "view", (-1,), {}, lambda a: a.reshape(-1)),
    ("view_list", A, "view", ([4, 3],), {}, lambda a: a.reshape(4, 3)),
    ("flatten_start", C, "flatten", (1,), {}, lambda a: a.reshape(2, 3)),
    ("flatten_start_end", C, "flatten", (0, 1), {}, lambda a: a.reshape(2, 3)),
    ("transpose_negative", C, "transpose", (0, -1), {}, lambda a: a.swapaxes(0, -1)),
    ("permute_ints", C, "permute", (2, 0, 1), {}, lambda a: a.transpose(2, 0, 1)),
    ("permute_list", C, "permute", ([2, 0, 1],), {}, lambda a: a.transpose(2, 0, 1)),
    ("squeeze_dim", C, "squeeze", (1,), {}, lambda a: a.squeeze(1)),
    ("squeeze_size_above_one", C, "squeeze", (0,), {}, lambda a: a),
    ("squeeze_all", C, "squeeze", (), {}, lambda a: a.squeeze()),
    ("unsqueeze_negative", A, "unsqueeze", (-1,), {}, lambda a: a[..., None]),
    ("expand_ints", C, "expand", (4, 2, 5, 3), {}, lambda a: np.broadcast_to(a, (4, 2, 5, 3))),
    ("expand_minus_one", C, "expand", (-1, 5, -1), {}, lambda a: np.broadcast_to(a, (2, 5, 3))),
    ("repeat_ints", A, "repeat", (2, 1, 3), {}, lambda a: np.tile(a, (2, 1, 3))),
    ("repeat_tuple", A, "repeat", ((1, 2),), {}, lambda a: np.tile(a, (1, 2))),
    ("split_size_dim", A, "split", (3, 1), {}, lambda a: (a[:, :3], a[:, 3:])),
    ("split_sections_dim", A, "split", ([1, 3], 1), {}, lambda a: (a[:, :1], a[:, 1:])),
    ("chunk_dim", A, "chunk", (3, 1), {}, lambda a: (a[:, :2], a[:, 2:])),
    # elementwise with positional options
    ("clamp_min", A, "clamp", (-0.5,), {}, lambda a: np.maximum(a, -0.5)),
    ("clamp_max_only", A, "clamp", (None, 0.5), {}, lambda a: np.minimum(a, 0.5)),
    ("clamp_both", A, "clamp", (-0.5, 0.5), {}, lambda a: np.clip(a, -0.5, 0.5)),
    ("clip_both", A, "clip", (-0.5, 0.5), {}, lambda a: np.clip(a, -0.5, 0.5)),
    ("pow", A, "pow", (2,), {}, lambda a: a ** 2),
    ("maximum", A, "maximum", (B,), {}, lambda a: np.maximum(a, B)),
    ("minimum", A, "minimum", (B,), {}, lambda a: np.minimum(a, B)),
    ("matmul", A, "matmul", (B.T,), {}, lambda a: a @ B.T),
]


def _ours(value):
    if isinstance(value, np.ndarray):
        return cr.tensor(value, dtype=cr.float64 if value.dtype.kind == "f" else None)
    return value


def _call_ours(data, method, args, kwargs):
    return getattr(_ours(data), method)(*[_ours(a) for a in args], **kwargs)


def _assert_same(got, expected, label):
    if isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == len(expected), label
        for g, e in zip(got, expected):
            _assert_same(g, e, label)
        return
    got = np.asarray(got.data if isinstance(got, cr.Tensor) else got)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, f"{label}: shape {got.shape}, expected {expected.shape}"
    if expected.dtype.kind == "f":
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14, err_msg=label)
    else:
        np.testing.assert_array_equal(got, expected, err_msg=label)


@pytest.mark.parametrize("case", METHOD_CASES, ids=[c[0] for c in METHOD_CASES])
def test_method_matches_numpy(case):
    label, data, method, args, kwargs, reference = case
    _assert_same(_call_ours(data, method, args, kwargs), reference(data), label)


@pytest.mark.parametrize("case", METHOD_CASES, ids=[c[0] for c in METHOD_CASES])
def test_method_matches_torch(case):
    torch = pytest.importorskip("torch")
    label, data, method, args, kwargs, _ = case

    def theirs(value):
        return torch.from_numpy(value) if isinstance(value, np.ndarray) else value

    expected = getattr(theirs(data), method)(*[theirs(a) for a in args], **kwargs)
    if isinstance(expected, (tuple, list)):
        expected = tuple(e.numpy() for e in expected)
    else:
        expected = expected.numpy()
    _assert_same(_call_ours(data, method, args, kwargs), expected, label)


def test_max_along_a_dim_returns_values_and_indices_by_name():
    x = cr.tensor(A, dtype=cr.float64)
    result = x.max(1)
    values, indices = result
    np.testing.assert_array_equal(result.values.data, A.max(1))
    np.testing.assert_array_equal(result.indices.data, A.argmax(1))
    assert values is result.values and indices is result.indices
    assert result.indices.dtype == np.int64
    low = x.min(0, True)
    np.testing.assert_array_equal(low.indices.data, A.argmin(0, keepdims=True))


def test_max_with_a_tensor_is_the_elementwise_maximum_with_its_gradient():
    x = cr.tensor(A, dtype=cr.float64, requires_grad=True)
    other = cr.tensor(B, dtype=cr.float64, requires_grad=True)
    x.max(other).sum().backward()
    np.testing.assert_array_equal(x.grad.data, (A > B).astype(np.float64))
    np.testing.assert_array_equal(other.grad.data, (B > A).astype(np.float64))


def test_var_positional_biased_gradient_is_the_biased_formula():
    x = cr.tensor(A, dtype=cr.float64, requires_grad=True)
    x.var(1, False).sum().backward()
    n = A.shape[1]
    expected = 2 * (A - A.mean(1, keepdims=True)) / n
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12, atol=1e-15)


def test_function_form_var_takes_the_unbiased_overload_too():
    x = cr.tensor(A, dtype=cr.float64)
    np.testing.assert_allclose(cr.var(x, False).data, np.var(A, ddof=0), rtol=1e-12)
    np.testing.assert_allclose(cr.std(x, 1, False, True).data,
                               np.std(A, axis=1, ddof=0, keepdims=True), rtol=1e-12)


@pytest.mark.parametrize("call", [lambda x: x.var(1, 2), lambda x: x.std(0, 0),
                                  lambda x: x.var(True, True), lambda x: x.var(False, dim=1),
                                  lambda x: x.var(0, unbiased=False, correction=0)])
def test_ambiguous_variance_arguments_are_errors(call):
    with pytest.raises(TypeError):
        call(cr.tensor(A, dtype=cr.float64))


def test_norm_fro_over_more_than_two_dims_is_an_error_as_in_torch():
    with pytest.raises(ValueError, match="fro"):
        cr.randn(2, 3, 4).norm("fro", (0, 1, 2))


# ---------------------------------------------------------------------------- views and in place
def _x():
    return cr.tensor(np.arange(1.0, 7.0).reshape(2, 3), dtype=cr.float64, requires_grad=True)


# ------------------------------------------------------------------ shared version counters
ALIASES = {  # name: (the alias in chainrule, the same view in NumPy)
    "slice": (lambda w: w[0:2], lambda a: a[0:2]),
    "int index": (lambda w: w[1], lambda a: a[1]),
    "view": (lambda w: w.view(3, 2), lambda a: a.reshape(3, 2)),
    "reshape": (lambda w: w.reshape(-1), lambda a: a.reshape(-1)),
    "transpose": (lambda w: w.transpose(0, 1), lambda a: a.T),
    "T": (lambda w: w.T, lambda a: a.T),
    "permute": (lambda w: w.permute(1, 0), lambda a: a.T),
    "squeeze": (lambda w: w.unsqueeze(0).squeeze(0), lambda a: a),
    "unsqueeze": (lambda w: w.unsqueeze(1), lambda a: a[:, None]),
    "flatten": (lambda w: w.flatten(), lambda a: a.reshape(-1)),
    "detach": (lambda w: w.detach(), lambda a: a),
    "chunk": (lambda w: w.chunk(2, dim=1)[0], lambda a: a[:, :2]),
    "int element": (lambda w: w[1, 2], lambda a: a[1, 2, ...]),
}


@pytest.mark.parametrize("alias", list(ALIASES))
def test_in_place_through_an_alias_of_a_saved_tensor_raises(alias):
    x = _x()
    w = cr.tensor(np.arange(2.0, 8.0).reshape(2, 3), dtype=cr.float64)
    y = (x * w).sum()          # Mul saves w for x's gradient
    ALIASES[alias][0](w).mul_(10)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


@pytest.mark.parametrize("alias", list(ALIASES))
def test_alias_shares_the_version_counter_both_ways(alias):
    make, numpy_view = ALIASES[alias]
    w = cr.zeros(2, 3)
    view = make(w)
    w.add_(1)
    assert view._version == w._version == 1
    view.mul_(3)
    assert w._version == 2
    expected = np.ones((2, 3), np.float32)
    numpy_view(expected)[...] *= 3
    np.testing.assert_array_equal(w.numpy(), expected)


def test_in_place_under_no_grad_through_a_view_is_detected():
    x = _x()
    y = (x * x).sum()
    with cr.no_grad():
        x[0].mul_(2)
    with pytest.raises(RuntimeError, match="input 0 of Mul|input 1 of Mul"):
        y.backward()


def test_copies_do_not_share_the_counter():
    w = cr.tensor(np.arange(6.0).reshape(2, 3))
    x = _x()
    y = (x * w[[0, 1]]).sum()   # advanced indexing copies
    w.mul_(10)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(6.0).reshape(2, 3))


# ------------------------------------------------------------------ in place through views
def _mask_set(h):
    h[h > 2.5] = 0.0
    return h


PROGRAMS = {
    # name: (in place, out of place)
    "slice mul_": (lambda x: _do(x * 1, lambda h: h[0:1].mul_(10)),
                   lambda x: cr.cat([x[0:1] * 10, x[1:]], 0)),
    "chained setitem": (lambda x: _do(x * 1, lambda h: h[0].__setitem__(1, 7.0)),
                        lambda x: x * cr.tensor([[1, 0, 1], [1, 1, 1.0]], dtype=cr.float64)
                        + cr.tensor([[0, 7, 0], [0, 0, 0.0]], dtype=cr.float64)),
    "T add_": (lambda x: _do(x * 1, lambda h: h.T.add_(1)), lambda x: x + 1),
    "mask setitem": (lambda x: _mask_set(x * 1), lambda x: cr.where(x.data > 2.5, 0.0, x)),
    "view then base in place": (lambda x: _do(x * 1, lambda h: h.mul_(2), before=lambda h: h[1]),
                                lambda x: x[1] * 2),
    "sibling view after write": (
        lambda x: _do(x * 1, lambda h: h[:, 1:].mul_(x[:, :2]), before=lambda h: h[0],
                      after=lambda h, early: early + h[1]),
        lambda x: (lambda h: h[0] + h[1])(cr.cat([x[:, :1], x[:, 1:] * x[:, :2]], 1))),
    "reshape slice": (lambda x: _do(x * 1, lambda h: h.reshape(6)[2:4].mul_(5)),
                      lambda x: (x.reshape(6) * cr.tensor([1, 1, 5, 5, 1, 1.0],
                                                          dtype=cr.float64)).reshape(2, 3)),
    "view of a view": (lambda x: _do(x * 1, lambda h: h[1][1:].add_(x[0, :2] ** 2)),
                       lambda x: cr.stack([x[0], cr.cat([x[1, :1], x[1, 1:] + x[0, :2] ** 2])])),
    "into a buffer": (lambda x: _buffer(x),
                      lambda x: cr.stack([x[1], cr.cat([x[0, 1:],
                                                        cr.zeros(1, dtype=cr.float64)])])),
    "copy_ into a row": (lambda x: _do(x * 1, lambda h: h[0].copy_(x[1] * 2)),
                         lambda x: cr.stack([x[1] * 2, x[1]])),
    "zero_ a column": (lambda x: _do(x * 1, lambda h: h[:, 0].zero_(), after=lambda h, _: h * x),
                       lambda x: x * x * cr.tensor([0, 1, 1.0], dtype=cr.float64)),
    "exp then in place on a copy": (lambda x: _do(x.exp() * 1, lambda h: h[0].mul_(x[1])),
                                    lambda x: cr.stack([x.exp()[0] * x[1], x.exp()[1]])),
    "fill_ with a tensor": (lambda x: _do(x * 1, lambda h: h[1].fill_(x[0, 0])),
                            lambda x: cr.stack([x[0], x[0, 0].expand(3)])),
    "in place twice on the base": (lambda x: _do(x * 1, lambda h: (h.mul_(x), h.add_(x))),
                                   lambda x: x * x + x),
    "clamp_ a slice": (lambda x: _do(x * 2, lambda h: h[:, 1:].clamp_(min=5.0)),
                       lambda x: cr.cat([x[:, :1] * 2, (x[:, 1:] * 2).clamp(min=5.0)], 1)),
}


def _do(h, change, before=None, after=None):
    """Change ``h`` in place; ``before(h)`` is taken first (a view, read afterwards), and the
    result is ``after(h, early)``, the early view, or ``h``."""
    early = before(h) if before is not None else None
    change(h)
    if after is not None:
        return after(h, early)
    return h if early is None else early


def _buffer(x):
    buffer = cr.zeros(2, 3, dtype=cr.float64)
    buffer[0] = x[1]
    buffer[1, 0:2] = x[0, 1:]
    return buffer


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_in_place_program_equals_its_out_of_place_version(name):
    in_place, reference = PROGRAMS[name]
    results = []
    for program in (in_place, reference):
        x = _x()
        out = program(x)
        (out * out).sum().backward()
        results.append((out.detach().numpy().copy(), x.grad.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_in_place_program_passes_gradcheck_and_gradgradcheck(name):
    in_place, _ = PROGRAMS[name]
    x = cr.tensor(np.random.default_rng(0).uniform(0.5, 2.0, (2, 3)), dtype=cr.float64,
                  requires_grad=True)
    assert gradcheck(in_place, x)
    assert gradgradcheck(in_place, x)


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_in_place_program_matches_pytorch(name):
    torch = pytest.importorskip("torch")
    in_place, _ = PROGRAMS[name]
    start = np.arange(1.0, 7.0).reshape(2, 3)
    source = TORCH_PROGRAMS[name]
    xt = torch.tensor(start, requires_grad=True)
    out_t = source(xt, torch)
    (out_t * out_t).sum().backward()
    x = _x()
    out = in_place(x)
    (out * out).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), out_t.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


def _torch_buffer(x, torch):
    buffer = torch.zeros(2, 3, dtype=torch.float64)
    buffer[0] = x[1]
    buffer[1, 0:2] = x[0, 1:]
    return buffer


TORCH_PROGRAMS = {
    "slice mul_": lambda x, t: _do(x * 1, lambda h: h[0:1].mul_(10)),
    "chained setitem": lambda x, t: _do(x * 1, lambda h: h[0].__setitem__(1, 7.0)),
    "T add_": lambda x, t: _do(x * 1, lambda h: h.T.add_(1)),
    "mask setitem": lambda x, t: _mask_set(x * 1),
    "view then base in place": lambda x, t: _do(x * 1, lambda h: h.mul_(2), before=lambda h: h[1]),
    "sibling view after write": lambda x, t: _do(x * 1, lambda h: h[:, 1:].mul_(x[:, :2]),
                                                 before=lambda h: h[0],
                                                 after=lambda h, early: early + h[1]),
    "reshape slice": lambda x, t: _do(x * 1, lambda h: h.reshape(6)[2:4].mul_(5)),
    "view of a view": lambda x, t: _do(x * 1, lambda h: h[1][1:].add_(x[0, :2] ** 2)),
    "into a buffer": _torch_buffer,
    "copy_ into a row": lambda x, t: _do(x * 1, lambda h: h[0].copy_(x[1] * 2)),
    "zero_ a column": lambda x, t: _do(x * 1, lambda h: h[:, 0].zero_(), after=lambda h, _: h * x),
    "exp then in place on a copy": lambda x, t: _do(x.exp() * 1, lambda h: h[0].mul_(x[1])),
    "fill_ with a tensor": lambda x, t: _do(x * 1, lambda h: h[1].fill_(x[0, 0])),
    "in place twice on the base": lambda x, t: _do(x * 1, lambda h: (h.mul_(x), h.add_(x))),
    "clamp_ a slice": lambda x, t: _do(x * 2, lambda h: h[:, 1:].clamp_(min=5.0)),
}


def test_in_place_on_an_output_that_backward_needs_raises():
    x = _x()
    h = x.exp()               # Exp saves its output
    h[0].mul_(2)
    with pytest.raises(RuntimeError, match="output of Exp"):
        h.sum().backward()


def test_in_place_on_a_view_of_a_leaf_that_requires_grad_raises():
    x = _x()
    with pytest.raises(RuntimeError, match="view of a leaf tensor that requires grad"):
        x[0].mul_(2)
    np.testing.assert_array_equal(x.numpy() if not x.requires_grad else x.data,
                                  np.arange(1.0, 7.0).reshape(2, 3))


def test_view_written_under_no_grad_updates_the_base():
    x = _x()
    with cr.no_grad():
        x[0].mul_(2)
        x.T[2].add_(1)
    expected = np.arange(1.0, 7.0).reshape(2, 3)
    expected[0] *= 2
    expected[:, 2] += 1
    np.testing.assert_array_equal(x.data, expected)


def test_retain_grad_follows_the_tensor_through_an_in_place_op():
    x = _x()
    h = x * 2
    h.retain_grad()
    h.mul_(3)
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.detach().numpy())


# ------------------------------------------------------------------ shape and dtype are kept
@pytest.mark.parametrize("grad", [False, True])
def test_in_place_never_changes_the_shape(grad):
    h = cr.ones(1, 3, requires_grad=grad) * 1
    with pytest.raises(RuntimeError, match=r"shape \(4, 3\).*shape \(1, 3\)"):
        h.add_(cr.ones(4, 3))
    np.testing.assert_array_equal(h.data, np.ones((1, 3)))


@pytest.mark.parametrize("grad", [False, True])
def test_float32_stays_float32_after_mul_by_float64(grad):
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * 1 if grad else cr.tensor([1.0, 2.0, 3.0])
    h.mul_(cr.tensor([2.0, 2.0, 2.0], dtype=cr.float64))
    assert h.dtype == np.float32
    np.testing.assert_array_equal(h.data, np.array([2, 4, 6], np.float32))
    if grad:
        h.sum().backward()
        assert x.grad.dtype == np.float32
        np.testing.assert_array_equal(x.grad.data, np.full(3, 2, np.float32))


def test_int_tensor_refuses_a_float_result():
    h = cr.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="result type float.* can't be cast .* int64"):
        h.mul_(1.5)
    np.testing.assert_array_equal(h.data, [1, 2, 3])
    h.mul_(2)
    assert h.dtype == np.int64 and h.tolist() == [2, 4, 6]


@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("target", ["expanded", "row of expanded"])
def test_in_place_on_expanded_tensor_raises_clearly(grad, target):
    base = cr.ones(1, 3, requires_grad=grad) * 1
    e = base.expand(4, 3)
    if target == "row of expanded":
        e = e[0]
    with pytest.raises(RuntimeError, match=r"clone\(\)"):
        e.add_(1)
    np.testing.assert_array_equal(base.data, np.ones((1, 3)))


def test_leaf_grad_has_the_leaf_dtype_and_shape_after_mixed_dtypes():
    x = cr.tensor([[1.0, 2.0, 3.0]], requires_grad=True)        # float32, (1, 3)
    y = x * cr.tensor(2.0, dtype=cr.float64) + cr.ones(4, 3, dtype=cr.float64)
    assert y.dtype == np.float64  # the dimensioned float64 operand decides
    y.sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.shape == (1, 3)
    np.testing.assert_array_equal(x.grad.data, np.full((1, 3), 8.0, np.float32))


# ------------------------------------------------------------------ random programs
_VIEWS = [
    ("all", lambda t: t, lambda i: i),
    ("row", lambda t: t[1], lambda i: i[1]),
    ("rows", lambda t: t[0:2], lambda i: i[0:2]),
    ("cols", lambda t: t[:, 1:3], lambda i: i[:, 1:3]),
    ("T", lambda t: t.T, lambda i: i.T),
    ("T row", lambda t: t.T[2], lambda i: i.T[2]),
    ("flat slice", lambda t: t.reshape(12)[3:9], lambda i: i.reshape(12)[3:9]),
    ("unsqueezed", lambda t: t.unsqueeze(0)[0, 2], lambda i: i[None][0, 2]),
    ("strided", lambda t: t[:, ::2], lambda i: i[:, ::2]),
]
_OPS = ["mul_const", "add_const", "mul_x", "set_x", "zero", "clamp"]


def _apply_op(kind, view, x_view):
    if kind == "mul_const":
        view.mul_(1.5)
    elif kind == "add_const":
        view.add_(-0.5)
    elif kind == "mul_x":
        view.mul_(x_view)
    elif kind == "set_x":
        view[...] = x_view * 0.5
    elif kind == "zero":
        view.zero_()
    else:
        view.clamp_(min=1.0)


def _reference_op(kind, values, x_values):
    if kind == "mul_const":
        return values * 1.5
    if kind == "add_const":
        return values - 0.5
    if kind == "mul_x":
        return values * x_values
    if kind == "set_x":
        return x_values * 0.5
    if kind == "zero":
        return values * 0.0
    return values.clamp(min=1.0)


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.tuples(st.integers(0, len(_VIEWS) - 1), st.sampled_from(_OPS)),
                      min_size=1, max_size=5),
       keep=st.integers(0, len(_VIEWS) - 1), start=st.sampled_from(["mul", "exp"]))
def test_random_view_and_in_place_programs_match_out_of_place(steps, keep, start):
    rng = np.random.default_rng(len(steps) * 7 + keep)
    x0 = rng.uniform(0.5, 2.0, (3, 4))
    weights = rng.normal(size=(3, 4))
    index = np.arange(12).reshape(3, 4)

    # In place, through views; a view made before the changes is read after them.
    x = cr.tensor(x0, dtype=cr.float64, requires_grad=True)
    h = x * 1 if start == "mul" else x.exp() * 1
    early = _VIEWS[keep][1](h)
    for view_id, kind in steps:
        pick = _VIEWS[view_id][1]
        _apply_op(kind, pick(h), pick(x))
    loss = (h * cr.tensor(weights, dtype=cr.float64)).sum() + (early * early).sum()
    loss.backward()

    # The same program without any in-place op: scatter through a 0/1 matrix.
    xr = cr.tensor(x0, dtype=cr.float64, requires_grad=True)
    flat = (xr * 1 if start == "mul" else xr.exp() * 1).reshape(12)
    x_flat = xr.reshape(12)
    for view_id, kind in steps:
        positions = _VIEWS[view_id][2](index).reshape(-1)
        new = _reference_op(kind, flat[positions], x_flat[positions])
        scatter = np.zeros((12, positions.size))
        scatter[positions, np.arange(positions.size)] = 1.0
        keep_mask = 1.0 - scatter.sum(1)
        flat = flat * cr.tensor(keep_mask, dtype=cr.float64) + cr.tensor(
            scatter, dtype=cr.float64) @ new
    early_positions = _VIEWS[keep][2](index).reshape(-1)
    early_ref = flat[early_positions]
    loss_ref = (flat * cr.tensor(weights.reshape(12), dtype=cr.float64)).sum() + (
        early_ref * early_ref).sum()
    loss_ref.backward()

    np.testing.assert_allclose(h.detach().numpy().reshape(12), flat.detach().numpy(),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(loss.item(), loss_ref.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), xr.grad.numpy(), rtol=1e-10, atol=1e-12)


_WRITES = {
    "add_": lambda t, o: t.add_(o), "sub_": lambda t, o: t.sub_(o, alpha=2),
    "mul_": lambda t, o: t.mul_(o), "div_": lambda t, o: t.div_(o),
    "copy_": lambda t, o: t.copy_(o), "setitem": lambda t, o: t.__setitem__((slice(None), 0), o),
}


@pytest.mark.parametrize("other", ["python float", "python int", "0-d float64", "row float64",
                                   "row float32"])
@pytest.mark.parametrize("op", list(_WRITES))
def test_writes_without_a_graph_equal_the_recorded_path(op, other):
    rng = np.random.default_rng(0)
    start = rng.uniform(1, 2, (3, 4)).astype(np.float32)
    operand = {"python float": 1.5, "python int": 3,
               "0-d float64": cr.tensor(0.7, dtype=cr.float64),
               "row float64": cr.tensor(rng.uniform(1, 2, 4), dtype=cr.float64),
               "row float32": cr.tensor(rng.uniform(1, 2, 4).astype(np.float32))}[other]
    if op == "setitem" and other.startswith("row"):
        operand = operand[:3]
    direct = cr.tensor(start)                    # nothing recorded: written in place
    _WRITES[op](direct, operand)
    leaf = cr.tensor(start, requires_grad=True)  # recorded: computed, then written
    recorded = leaf * 1
    _WRITES[op](recorded, operand)
    assert direct.dtype == np.float32 and direct._version == 1
    np.testing.assert_array_equal(direct.numpy(), recorded.detach().numpy())
