"""Selection and conversion: maximum, minimum, clip, where, cast, clone and the values of fill_
and copy_; comparisons and tests, which have no gradient."""

from __future__ import annotations

import numpy as np

from chainrule.autograd.function import Function
from chainrule.ops._util import (
    batched_pair, as_tensor, broadcast_shapes, operands, raw, result_type, unbroadcast,
)
from chainrule.ops.indexing import index_put
from chainrule.tensor import Tensor


def _check_broadcast(op: str, a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        broadcast_shapes(op, a.shape, b.shape)


# ---------------------------------------------------------------------------- selection
class Maximum(Function):
    """max(a, b);  the gradient goes to the larger input, split in half on ties (as PyTorch)."""

    def forward(self, a, b):
        _check_broadcast("maximum", a, b)
        return np.maximum(a, b)

    def backward(self, grad_output):
        return _split_by_winner(self, grad_output, np.greater)


class Minimum(Function):
    """min(a, b);  the gradient goes to the smaller input, split in half on ties."""

    def forward(self, a, b):
        _check_broadcast("minimum", a, b)
        return np.minimum(a, b)

    def backward(self, grad_output):
        return _split_by_winner(self, grad_output, np.less)


def _split_by_winner(fn, grad_output, wins):
    a, b = fn.inputs
    a_data, b_data = a.data, b.data
    dtype = grad_output.dtype
    share_a = wins(a_data, b_data).astype(dtype) + (a_data == b_data).astype(dtype) * 0.5
    share_a = Tensor._make(share_a)
    grad_a = grad_b = None
    if fn.next[0] is not None:
        grad_a = unbroadcast(grad_output * share_a, a.shape)
    if fn.next[1] is not None:
        grad_b = unbroadcast(grad_output * (1.0 - share_a), b.shape)
    return grad_a, grad_b


def maximum(a, b) -> Tensor:
    """Elementwise maximum of two tensors (broadcasting)."""
    return Maximum.apply(*operands(a, b))


def minimum(a, b) -> Tensor:
    """Elementwise minimum of two tensors (broadcasting)."""
    return Minimum.apply(*operands(a, b))


class Clip(Function):
    """clip(x, low, high);  d/dx = 1 inside [low, high], 0 outside."""

    def forward(self, x, low=None, high=None):
        self.saved = (low, high)
        return np.clip(x, low, high)

    def backward(self, grad_output):
        low, high = self.saved
        x = self.inputs[0].data
        inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        return grad_output * Tensor._make(inside)


def clip(x, min=None, max=None) -> Tensor:
    """Limit values to ``[min, max]`` (either bound may be None); alias ``clamp``.

    The result's dtype follows PyTorch's promotion: an integer tensor with float bounds gives a
    float tensor; a float32 tensor stays float32 whatever the bounds' type.
    """
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    x = as_tensor(x)
    dtype = result_type(x, *[bound for bound in (min, max) if bound is not None])
    if x.data.dtype != dtype:
        x = cast(x, dtype)
    low = None if min is None else np.asarray(raw(min), dtype=dtype)
    high = None if max is None else np.asarray(raw(max), dtype=dtype)
    return Clip.apply(x, low=low, high=high)


clamp = clip


class Where(Function):
    """where(condition, a, b);  the gradient goes to a where condition holds, else to b."""

    def forward(self, a, b, condition=None):
        self.saved = condition
        return np.where(condition, a, b)

    def backward(self, grad_output):
        a, b = self.inputs
        condition = Tensor._make(self.saved)
        zero = Tensor._make(np.zeros((), dtype=grad_output.dtype))
        grad_a = grad_b = None
        if self.next[0] is not None:
            grad_a = unbroadcast(where(condition, grad_output, zero), a.shape)
        if self.next[1] is not None:
            grad_b = unbroadcast(where(condition, zero, grad_output), b.shape)
        return grad_a, grad_b

    def backward_batched(self, grads):
        zero = np.zeros((), dtype=grads.dtype)
        return batched_pair(self, np.where(self.saved, grads, zero) if self.next[0] is not None
                            else None,
                            np.where(self.saved, zero, grads) if self.next[1] is not None else None)


def where(condition, a, b) -> Tensor:
    """Elementwise choice: ``a`` where ``condition`` is true, else ``b`` (broadcasting)."""
    condition = np.asarray(raw(condition), dtype=bool)
    a, b = operands(a, b)
    broadcast_shapes("where", condition.shape, a.shape, b.shape)
    return Where.apply(a, b, condition=condition)


class Cast(Function):
    """x.astype(dtype);  the gradient is cast back to x's dtype."""

    needs_inputs = False

    def forward(self, x, dtype=None):
        return x.astype(dtype)

    def backward(self, grad_output):
        return cast(grad_output, self.inputs[0].dtype)


def cast(x: Tensor, dtype) -> Tensor:
    """``x`` converted to ``dtype``; differentiable between floating dtypes."""
    if x.data.dtype == dtype:
        return x
    if np.dtype(dtype).kind != "f":
        return Tensor._make(x.data.astype(dtype))
    return Cast.apply(x, dtype=dtype)


class Clone(Function):
    """A copy;  d/dx = 1."""

    needs_inputs = False

    def forward(self, x):
        return x.copy()

    def backward(self, grad_output):
        return grad_output


def clone(x: Tensor) -> Tensor:
    """A copy of ``x`` with its own memory, in the graph."""
    return Clone.apply(x)


def fill(x: Tensor, value) -> Tensor:
    """A tensor of ``x``'s shape and dtype filled with ``value`` (a number or a tensor that
    broadcasts); in the graph, ``x`` gets a zero gradient and a tensor ``value`` the sum."""
    return copy_from(x, value)


def copy_from(x: Tensor, source) -> Tensor:
    """``source`` broadcast to ``x``'s shape and cast to its dtype (the value of ``x.copy_``)."""
    source = as_tensor(source, x)
    broadcast_shapes("copy_", source.shape, x.shape)
    return index_put(x, Ellipsis, source)


# ---------------------------------------------------------------------------- no gradient
def _compare(ufunc):
    def compare(a, b) -> Tensor:
        a, b = operands(a, b)
        _check_broadcast(ufunc.__name__, a.data, b.data)
        return Tensor._make(ufunc(a.data, b.data))

    compare.__name__ = ufunc.__name__
    compare.__doc__ = f"Elementwise ``{ufunc.__name__}`` comparison; a bool tensor, no gradient."
    return compare


lt = _compare(np.less)
le = _compare(np.less_equal)
gt = _compare(np.greater)
ge = _compare(np.greater_equal)
eq = _compare(np.equal)
ne = _compare(np.not_equal)
logical_and = _compare(np.logical_and)
logical_or = _compare(np.logical_or)


def logical_not(x) -> Tensor:
    """Elementwise not (``~x``) of a bool tensor; no gradient."""
    x = as_tensor(x)
    if x.data.dtype.kind == "b":
        return Tensor._make(~x.data)
    if x.data.dtype.kind in "iu":
        return Tensor._make(~x.data)
    raise TypeError(f"~ needs a bool or integer tensor, got dtype {x.dtype}")


def sign(x) -> Tensor:
    """Elementwise sign (-1, 0 or 1); its gradient is zero, so it is not recorded."""
    x = as_tensor(x)
    return Tensor._make(np.sign(x.data))


def isfinite(x) -> Tensor:
    """Elementwise test for finite values; no gradient."""
    return Tensor._make(np.isfinite(as_tensor(x).data))


def isnan(x) -> Tensor:
    """Elementwise test for NaN; no gradient."""
    return Tensor._make(np.isnan(as_tensor(x).data))
