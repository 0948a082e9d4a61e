"""Helpers every op shares: turning operands into tensors and undoing broadcasting."""

from __future__ import annotations

import numbers

import numpy as np

from chainrule import backend
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


def operands(a, b) -> tuple[Tensor, Tensor]:
    """Both operands of a binary op as tensors of compatible dtypes.

    A float tensor with an integer tensor computes in the float dtype (as PyTorch; NumPy would
    give float64). Bool operands are left as they are: NumPy promotes them without a copy.
    """
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a.data.dtype is b.data.dtype:
        return a, b
    if not isinstance(a, Tensor):
        a = as_tensor(a, b if isinstance(b, Tensor) else None)
    if not isinstance(b, Tensor):
        b = as_tensor(b, a)
    kind_a, kind_b = a.data.dtype.kind, b.data.dtype.kind
    if kind_a == "f" and kind_b in "iu":
        b = Tensor._make(b.data.astype(a.data.dtype))
    elif kind_b == "f" and kind_a in "iu":
        a = Tensor._make(a.data.astype(b.data.dtype))
    return a, b


# Below these exponents exp() gives subnormals and sets the underflow flag, which raises under
# np.errstate(all='raise').
_EXP_FLOOR = {np.dtype(np.float16): -9.0, np.dtype(np.float32): -87.0,
              np.dtype(np.float64): -708.0}


def exp_nonpositive(z: np.ndarray) -> np.ndarray:
    """exp(z) for an array z <= 0, with exact zeros where it would underflow (no warning)."""
    floor = _EXP_FLOOR.get(z.dtype, -708.0)
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
    from chainrule.ops.reduce import sum as reduce_sum
    from chainrule.ops.shape import reshape

    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, size in enumerate(shape) if size == 1 and grad.shape[extra + i] != 1
    )
    if axes:
        grad = reduce_sum(grad, axes)
    if grad.shape != shape:
        grad = reshape(grad, shape)
    return grad


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
