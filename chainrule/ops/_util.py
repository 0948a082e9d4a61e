"""Helpers every op shares: turning operands into tensors and undoing broadcasting."""

from __future__ import annotations

import numbers

import numpy as np

from chainrule import backend, threads
from chainrule.tensor import Tensor


def as_tensor(value, like: Tensor | None = None) -> Tensor:
    """``value`` as a Tensor; Python scalars take ``like``'s float dtype (no silent upcast)."""
    if isinstance(value, Tensor):
        return value
    if like is not None and isinstance(value, (numbers.Number, np.generic)) and not isinstance(
        value, (bool, np.bool_)
    ):
        kind = like.data.dtype.kind
        if kind == "f":
            return Tensor._make(np.asarray(value, dtype=like.data.dtype))
        if isinstance(value, numbers.Integral):
            return Tensor._make(np.asarray(value, dtype=backend.int64))
    return Tensor._make(backend.as_array(value))


def _promote(a: np.dtype, b: np.dtype) -> np.dtype:
    """PyTorch's ``promote_types``: a float with an integer is that float; else NumPy's rule."""
    if a == b:
        return a
    if a.kind == "f" and b.kind in "biu":
        return a
    if b.kind == "f" and a.kind in "biu":
        return b
    return np.promote_types(a, b)


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _combine(higher, lower):
    """The dtype of operands of a higher priority ``higher`` with those of ``lower``."""
    if higher is None:
        return lower
    if lower is None or _CATEGORY[higher.kind] >= _CATEGORY[lower.kind]:
        return higher
    return _promote(higher, lower)


_SCALAR_DTYPE = {bool: backend.bool_, int: backend.int64, float: backend.float32}


def result_type(*values) -> np.dtype:
    """The dtype of an op on ``values`` by PyTorch's promotion rules.

    Tensors with dimensions decide over 0-d tensors, and those over Python scalars, unless the
    lower-priority operand is of a higher category (bool < integer < floating): float32 with a
    0-d float64 tensor is float32, int32 with a Python int stays int32, an integer tensor with a
    Python float gives float32 (the default float dtype) and with a 0-d float64 tensor float64.
    """
    dimensioned = zero_dim = scalars = None
    for value in values:
        if isinstance(value, Tensor):
            dtype = value.data.dtype
            if value.data.ndim:
                dimensioned = dtype if dimensioned is None else _promote(dimensioned, dtype)
            else:
                zero_dim = dtype if zero_dim is None else _promote(zero_dim, dtype)
            continue
        if isinstance(value, (bool, np.bool_)):
            dtype = backend.bool_
        elif isinstance(value, numbers.Integral):
            dtype = backend.int64
        elif isinstance(value, numbers.Real):
            dtype = backend.float32
        else:
            dtype = as_tensor(value).data.dtype
            dimensioned = dtype if dimensioned is None else _promote(dimensioned, dtype)
            continue
        scalars = dtype if scalars is None else _promote(scalars, dtype)
    return _combine(dimensioned, _combine(zero_dim, scalars))


def operands(a, b) -> tuple[Tensor, Tensor]:
    """Both operands of a binary op as tensors of the dtype PyTorch's promotion gives them.

    See ``result_type``: a float32 tensor times a float64 scalar tensor stays float32, an
    int32 tensor plus a Python int stays int32, and a float tensor with an integer one computes in
    the float dtype (NumPy would give float64).
    """
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a.data.dtype is b.data.dtype:
        return a, b
    if not isinstance(a, Tensor) and not _is_scalar(a):
        a = as_tensor(a)
    if not isinstance(b, Tensor) and not _is_scalar(b):
        b = as_tensor(b)
    dtype = result_type(a, b)
    return _as_dtype(a, dtype), _as_dtype(b, dtype)


def _is_scalar(value) -> bool:
    return isinstance(value, (numbers.Number, np.generic))


def _as_dtype(value, dtype: np.dtype) -> Tensor:
    if not isinstance(value, Tensor):
        try:
            return Tensor._make(np.asarray(value, dtype=dtype))
        except OverflowError:  # -1 for uint8: wraps around, as PyTorch's integer arithmetic
            return Tensor._make(np.asarray(value).astype(dtype))
    if value.data.dtype != dtype:
        return value.to(dtype)
    return value


# Below these exponents exp() gives subnormals and sets the underflow flag, which raises under
# np.errstate(all='raise').
_EXP_FLOOR = {np.dtype(np.float16): -9.0, np.dtype(np.float32): -87.0,
              np.dtype(np.float64): -708.0}


def max_along(x: np.ndarray, axis: int) -> np.ndarray:
    """``np.max(x, axis, keepdims=True)``. Over the short last axis of a long 2-D array (the
    classes of a batch) it reduces a transposed contiguous copy, ~3x faster: NumPy's inner loop
    then runs along the batch instead of restarting for every row. A maximum is exact in any
    order, NaN included."""
    if x.ndim == 2 and axis in (1, -1) and x.shape[1] <= 64 and x.shape[0] > 2 * x.shape[1]:
        return np.ascontiguousarray(x.T).max(axis=0)[:, None]
    return np.max(x, axis=axis, keepdims=True)


# Sums over at most this many terms go through BLAS: its accumulation is sequential (per SIMD
# lane), which for a few hundred terms is as exact as NumPy's pairwise sum.
_BLAS_SUM_TERMS = 1024
_ONES: dict = {}


def ones_vector(count: int, dtype) -> np.ndarray:
    """A read-only vector of ``count`` ones, kept per (count, dtype): the other factor of the
    sums done as products (``sum_rows``, a convolution's bias gradient)."""
    key = (count, np.dtype(dtype))
    ones = _ONES.get(key)
    if ones is None:
        if len(_ONES) > 64:
            _ONES.clear()
        ones = _ONES[key] = np.ones(count, dtype)
        ones.flags.writeable = False
    return ones


def sum_rows(a: np.ndarray) -> np.ndarray:
    """Σ over axis 0 of a 2-D float array (a bias gradient): ``ones @ a``, ~2.5x faster than
    ``a.sum(axis=0)`` for a batch of a few hundred rows; NumPy's sum beyond that."""
    if a.shape[0] > _BLAS_SUM_TERMS or a.dtype.kind != "f" or a.ndim != 2:
        return a.sum(axis=0)
    return threads.matmul(ones_vector(a.shape[0], a.dtype), a)


def sum_columns(a: np.ndarray) -> np.ndarray:
    """Σ over axis 1 of a 2-D float array, kept as a column (N, 1): ``a @ ones``."""
    if a.shape[1] > _BLAS_SUM_TERMS or a.dtype.kind != "f" or a.ndim != 2:
        return a.sum(axis=1, keepdims=True)
    return threads.matmul(a, ones_vector(a.shape[1], a.dtype))[:, None]


def exp_nonpositive(z: np.ndarray) -> np.ndarray:
    """exp(z) for an array z <= 0, with exact zeros where it would underflow (no warning)."""
    floor = _EXP_FLOOR.get(z.dtype, -708.0)
    # Nothing to clamp (the common case): one pass, not three.
    if z.size and np.minimum.reduce(z, axis=None) >= floor:
        return np.exp(z)
    e = np.exp(np.maximum(z, floor))
    e *= z >= floor
    return e


def raw(value):
    """The array behind a tensor, or the value itself."""
    return value.data if isinstance(value, Tensor) else value


def broadcast_shapes(op: str, *shapes) -> tuple[int, ...]:
    """The broadcast shape, or an error naming the op and every shape."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        listed = " and ".join(str(tuple(s)) for s in shapes)
        raise ValueError(
            f"{op}: shapes {listed} cannot be broadcast together; each dimension must be equal "
            "or 1, counting from the last"
        ) from None


def unbroadcast(grad: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum ``grad`` down to ``shape``: the backward of NumPy broadcasting.

    Broadcasting added leading dimensions and stretched size-1 ones; the gradient of a value used
    many times is the sum over those uses.
    """
    if grad.shape == shape:
        return grad
    axes = _broadcast_axes(grad.shape, shape)
    if axes:
        grad = grad.sum(axes)  # Tensor methods: _util sits below the reduce and shape ops
    if grad.shape != shape:
        grad = grad.reshape(shape)
    return grad


def _broadcast_axes(grad_shape: tuple, shape: tuple) -> tuple[int, ...]:
    """The axes of ``grad_shape`` that broadcasting ``shape`` to it added or stretched."""
    extra = len(grad_shape) - len(shape)
    return tuple(range(extra)) + tuple(
        extra + i for i, size in enumerate(shape) if size == 1 and grad_shape[extra + i] != 1
    )


def unbroadcast_array(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``unbroadcast`` on an array (the ops' ``backward_arrays``)."""
    if grad.shape == shape:
        return grad
    axes = _broadcast_axes(grad.shape, shape)
    if axes:
        grad = grad.sum(axis=axes)
    return grad.reshape(shape)


def array_pair(node, grad_a, grad_b) -> tuple:
    """A binary op's array gradients, each summed to its input's shape (None where the input
    needs none)."""
    a, b = node.inputs
    return (unbroadcast_array(grad_a, a.shape) if node.next[0] is not None else None,
            unbroadcast_array(grad_b, b.shape) if node.next[1] is not None else None)


def unbroadcast_batched(grads: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``unbroadcast`` for k stacked gradients (``chainrule.autograd.batched``): sum
    ``grads`` of shape ``(k, *broadcast shape)`` down to ``(k, *shape)``, never over the leading
    axis."""
    if grads.shape[1:] == shape:
        return grads
    extra = grads.ndim - 1 - len(shape)
    if extra:
        grads = grads.sum(axis=tuple(range(1, 1 + extra)))
    axes = tuple(1 + i for i, size in enumerate(shape) if size == 1 and grads.shape[1 + i] != 1)
    if axes:
        grads = grads.sum(axis=axes, keepdims=True)
    return grads.reshape((len(grads),) + tuple(shape))


def batched_pair(node, grad_a, grad_b) -> tuple:
    """A binary op's batched gradients, each summed to its input's shape (None where the input
    needs none)."""
    a, b = node.inputs
    return (unbroadcast_batched(grad_a, a.shape) if node.next[0] is not None else None,
            unbroadcast_batched(grad_b, b.shape) if node.next[1] is not None else None)


def normalize_dims(dim, ndim: int, op: str) -> tuple[int, ...] | None:
    """``dim`` (None, an int or a tuple, negatives allowed) as a sorted tuple of axes."""
    if dim is None:
        return None
    if type(dim) is int and 0 <= dim < ndim:
        return (dim,)
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    result = []
    for d in dims:
        if not isinstance(d, (int, np.integer)):
            raise TypeError(f"{op}: dim must be an int or a tuple of ints, got {dim!r}")
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(
                f"{op}: dim {d} is out of range for a tensor with {ndim} dimension(s); expected "
                f"a value in [{-max(ndim, 1)}, {max(ndim, 1) - 1}]"
            )
        result.append(int(d) % max(ndim, 1))
    if len(set(result)) != len(result):
        raise ValueError(f"{op}: dim {dim!r} names the same dimension twice")
    return tuple(sorted(result))


def dim_alias(dim, keepdim, aliases: dict, op: str):
    """Accept NumPy's ``axis``/``keepdims`` as aliases of ``dim``/``keepdim``."""
    if aliases:
        unknown = set(aliases) - {"axis", "keepdims"}
        if unknown:
            raise TypeError(f"{op}() got unexpected keyword argument(s) {sorted(unknown)}")
        if "axis" in aliases:
            if dim is not None:
                raise TypeError(f"{op}(): give dim or axis, not both")
            dim = aliases["axis"]
        if "keepdims" in aliases:
            keepdim = aliases["keepdims"]
    return dim, keepdim


def float_input(x, op: str) -> Tensor:
    """``x`` as a tensor, which must be floating point (activations have no integer form)."""
    x = as_tensor(x)
    if x.data.dtype.kind != "f":
        raise TypeError(f"{op} needs a floating-point tensor, got dtype {x.dtype}; use .float()")
    return x


def mask_tensor(condition: np.ndarray, dtype) -> Tensor:
    """A 0/1 tensor of ``dtype`` from a boolean array (a derivative that is a step)."""
    return Tensor._make(condition.astype(dtype))
