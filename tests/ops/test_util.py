"""The ops' shared rules (chainrule/ops/_util.py): dtype promotion follows PyTorch (dimensioned
tensors decide over 0-d tensors and scalars), and broadcasting, forward and backward
(unbroadcast), follows NumPy for any shapes (hypothesis)."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule.ops import _util
from chainrule.ops._util import exp_nonpositive, max_along, sum_columns, sum_rows

I32, I64, F32, F64, B = np.int32, np.int64, np.float32, np.float64, np.bool_


def _t(dtype, ndim=1):
    shape = (2,) * ndim
    return cr.tensor(np.ones(shape, dtype=dtype), dtype=dtype)


# (left operand, right operand, expected dtype); "d" = dimensioned, "0" = 0-d, plain = scalar
CASES = [
    (("d", F32), ("0", F64), F32),
    (("d", F32), ("d", F64), F64),
    (("d", I32), 3, I32),
    (("d", I32), 2.5, F32),
    (("d", I64), 2.5, F32),
    (("d", I32), ("0", F64), F64),
    (("d", I32), ("0", I64), I32),
    (("d", I64), ("d", F32), F32),
    (("d", B), ("d", B), B),
    (("d", B), 2, I64),
    (("d", B), ("d", F32), F32),
    (("0", F64), ("0", F32), F64),
    (("0", I64), 1.5, F32),
    (("d", F64), 1.5, F64),
    (("d", F32), True, F32),
]


def _operand(spec):
    if isinstance(spec, tuple):
        kind, dtype = spec
        return _t(dtype, ndim=0 if kind == "0" else 1)
    return spec


@pytest.mark.parametrize("left, right, expected", CASES)
@pytest.mark.parametrize("op", ["add", "mul", "sub", "maximum"])
def test_binary_ops_promote_like_pytorch(left, right, expected, op):
    a, b = _operand(left), _operand(right)
    functions = {"add": lambda: a + b, "mul": lambda: a * b, "sub": lambda: a - b,
                 "maximum": lambda: cr.maximum(a, b) if isinstance(b, cr.Tensor) else a + b}
    if op == "sub" and expected is B:  # an error in PyTorch and in NumPy: use ^ instead
        with pytest.raises(TypeError, match="subtract"):
            functions["sub"]()
        return
    result = functions[op]()
    assert result.dtype == np.dtype(expected)
    # the value is the one computed in the result dtype
    reference = {"add": np.add, "mul": np.multiply, "sub": np.subtract,
                 "maximum": np.maximum if isinstance(b, cr.Tensor) else np.add}[op]
    b_value = b.data if isinstance(b, cr.Tensor) else b
    np.testing.assert_array_equal(
        result.data, reference(a.data.astype(expected), np.asarray(b_value).astype(expected)))


@pytest.mark.parametrize("left, right, expected", CASES)
def test_the_promotion_table_is_pytorchs(left, right, expected):
    torch = pytest.importorskip("torch")

    def as_torch(spec):
        if isinstance(spec, tuple):
            kind, dtype = spec
            array = np.ones(() if kind == "0" else (2,), dtype=dtype)
            return torch.from_numpy(array)
        return spec

    assert torch.result_type(as_torch(left), as_torch(right)) == getattr(
        torch, np.dtype(expected).name if expected is not B else "bool")


def test_float32_tensor_times_0d_float64_stays_float32_with_gradient():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    scale = cr.tensor(3.0, dtype=cr.float64, requires_grad=True)
    y = x * scale
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32 and scale.grad.dtype == np.float64
    np.testing.assert_allclose(scale.grad.item(), 3.0)
    np.testing.assert_array_equal(x.grad.data, np.full(2, 3.0, np.float32))


def test_cat_of_int64_and_float32_is_float32():
    out = cr.cat([cr.tensor([1, 2]), cr.tensor([0.5], dtype=cr.float32)])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data, np.array([1, 2, 0.5], np.float32))
    assert cr.stack([cr.tensor([1, 2]), cr.tensor([1.0, 2.0])]).dtype == np.float32


@pytest.mark.parametrize("bound", [0.5, "tensor32", "tensor64"])
def test_clamp_of_int64_with_float_bounds_is_float32(bound):
    x = cr.tensor([0, 1, 2])
    low = {0.5: 0.5, "tensor32": cr.tensor(0.5), "tensor64": cr.tensor(0.5, dtype=cr.float64)}[
        bound]
    out = x.clamp(min=low)
    expected = F64 if bound == "tensor64" else F32  # a 0-d float64 tensor beats an int tensor
    assert out.dtype == np.dtype(expected)
    np.testing.assert_array_equal(out.data, np.clip(np.array([0, 1, 2], expected), 0.5, None))


def test_clamp_of_float32_with_float64_bound_stays_float32():
    x = cr.tensor([0.0, 1.0, 2.0], requires_grad=True)
    out = x.clamp(max=cr.tensor(1.5, dtype=cr.float64))
    assert out.dtype == np.float32
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.array([1, 1, 0], np.float32))


def test_int32_arithmetic_with_python_ints_stays_int32():
    x = cr.tensor([1, 2, 3], dtype=cr.int32)
    for result in (x + 1, 2 * x, x - 5, x * x):
        assert result.dtype == np.int32
    assert (x > 1).dtype == np.bool_


def test_uint8_minus_one_wraps_as_in_pytorch():
    x = cr.tensor([0, 5], dtype=np.uint8)
    out = x + (-1)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out.data, (np.array([0, 5], np.uint8) + np.uint8(255)))


# ---------------------------------------------------------------------------- broadcasting
@settings(max_examples=60, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4),
       st.sampled_from(["add", "sub", "mul", "maximum"]))
def test_binary_broadcasting_matches_numpy_and_grads_have_input_shapes(shapes_pair, op):
    shape_a, shape_b = shapes_pair.input_shapes
    rng = np.random.default_rng(0)
    a_np = rng.standard_normal(shape_a)
    b_np = rng.standard_normal(shape_b)
    a = cr.tensor(a_np, dtype=cr.float64, requires_grad=True)
    b = cr.tensor(b_np, dtype=cr.float64, requires_grad=True)
    out = getattr(cr, op)(a, b)
    reference = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "maximum": np.maximum}
    np.testing.assert_allclose(out.data, reference[op](a_np, b_np))
    assert out.shape == shapes_pair.result_shape
    out.sum().backward()
    assert a.grad.shape == shape_a and b.grad.shape == shape_b
    if op == "add":
        # d/da sum(a + b) counts how many times each element of a was used.
        uses = np.prod(shapes_pair.result_shape) / max(np.prod(shape_a), 1)
        np.testing.assert_allclose(a.grad.data, np.full(shape_a, uses))


# ---------------------------------------------------------------------------- array helpers
@pytest.mark.parametrize("shape", [(100, 10), (7, 3), (130, 64), (130, 65), (4, 1), (0, 5),
                                   (50, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_along_equals_numpys_max_to_the_bit(shape, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    if x.size > 4:
        x.flat[1], x.flat[3] = np.inf, -np.inf
    for array in (x, x[::2] if shape[0] > 1 else x):
        for axis in (1, -1):
            expected = np.max(array, axis=axis, keepdims=True) if array.shape[1] else None
            if expected is None:
                continue
            got = max_along(array, axis)
            assert got.shape == expected.shape and got.dtype == expected.dtype
            np.testing.assert_array_equal(got, expected)


def test_max_along_propagates_nan_as_numpy():
    x = np.arange(300, dtype=np.float32).reshape(100, 3)
    x[5, 1] = np.nan
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(max_along(x, 1), np.max(x, axis=1, keepdims=True))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_nonpositive_is_exp_with_exact_zeros_below_the_floor_and_no_warning(dtype):
    safe = -np.linspace(0.0, 20.0, 50).astype(dtype)  # the one-pass path
    with np.errstate(all="raise"):
        np.testing.assert_array_equal(exp_nonpositive(safe), np.exp(safe))
        mixed = np.concatenate([safe, np.array([-1e4, -np.inf], dtype)])  # clamped path
        got = exp_nonpositive(mixed)
    np.testing.assert_array_equal(got[:50], np.exp(safe))
    np.testing.assert_array_equal(got[50:], [0.0, 0.0])
    assert got.dtype == dtype and exp_nonpositive(np.zeros(0, dtype)).shape == (0,)


@pytest.mark.parametrize("shape", [(100, 10), (1, 7), (1024, 3), (1025, 3), (0, 4), (5, 0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sums_by_blas_agree_with_numpys_to_rounding(shape, dtype):
    rng = np.random.default_rng(3)
    a = rng.standard_normal(shape).astype(dtype)
    tolerance = 64 * np.finfo(dtype).eps
    rows, columns = sum_rows(a), sum_columns(a.T)
    assert rows.shape == (shape[1],) and columns.shape == (shape[1], 1)
    assert rows.dtype == dtype and columns.dtype == dtype
    scale = np.abs(a).sum(axis=0)
    assert np.all(np.abs(rows - a.sum(axis=0)) <= tolerance * scale)
    assert np.all(np.abs(columns[:, 0] - a.sum(axis=0)) <= tolerance * scale)
    if shape[0] > 1024:  # beyond the BLAS range: NumPy's own sum, to the bit
        np.testing.assert_array_equal(rows, a.sum(axis=0))
    np.testing.assert_array_equal(sum_rows(a[:, ::-1]), sum_rows(a.copy()[:, ::-1]))


def test_sums_by_blas_keep_their_ones_read_only_and_take_integers_to_numpy():
    a = np.ones((3, 4), np.float32)
    sum_rows(a)
    (ones,) = [v for (n, d), v in _util._ONES.items() if n == 3 and d == np.float32]
    assert not ones.flags.writeable
    ints = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(sum_rows(ints), ints.sum(axis=0))
    assert sum_rows(ints).dtype == ints.sum(axis=0).dtype
