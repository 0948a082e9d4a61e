"""Tensor methods take PyTorch's positional arguments in PyTorch's order (``x.var(1, False)`` is
the biased variance along dim 1), checked against NumPy and, where installed, against torch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

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
CASES = [
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


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_method_matches_numpy(case):
    label, data, method, args, kwargs, reference = case
    _assert_same(_call_ours(data, method, args, kwargs), reference(data), label)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
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
