"""Matrix products."""

from __future__ import annotations

import numpy as np

from chainrule.autograd.function import Function
from chainrule.ops._util import operands, unbroadcast
from chainrule.tensor import Tensor


class MatMul(Function):
    """a @ b for a, b with at least 2 dimensions (batch dimensions broadcast).

    d/da = grad @ bᵀ,  d/db = aᵀ @ grad (each summed over broadcast batch dimensions).
    """

    def forward(self, a, b):
        return np.matmul(a, b)

    def backward(self, grad_output):
        from chainrule.ops.shape import swap_last_two

        a, b = self.inputs
        grad_a = grad_b = None
        if self.next[0] is not None:
            grad_a = unbroadcast(MatMul.apply(grad_output, swap_last_two(b)), a.shape)
        if self.next[1] is not None:
            grad_b = unbroadcast(MatMul.apply(swap_last_two(a), grad_output), b.shape)
        return grad_a, grad_b


def matmul(a, b) -> Tensor:
    """Matrix product with NumPy's rules: 1-D operands are promoted and the added dimension
    removed again; leading (batch) dimensions broadcast.

    Shape: (..., n, k) @ (..., k, m) -> (..., n, m); (k,) @ (k,) -> ().

    Example:
        >>> import chainrule as cr
        >>> (cr.ones(2, 3) @ cr.ones(3)).shape
        (2,)
    """
    a, b = operands(a, b)
    a_shape, b_shape = a.data.shape, b.data.shape
    if len(a_shape) == 2 and len(b_shape) == 2 and a_shape[1] == b_shape[0]:
        return MatMul.apply(a, b)  # the common case, checked cheaply
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"matmul: both operands need at least 1 dimension, got shapes {tuple(a.shape)} and "
            f"{tuple(b.shape)}; use * to multiply by a scalar"
        )
    k_a = a.shape[-1]
    k_b = b.shape[-2] if b.ndim >= 2 else b.shape[0]
    if k_a != k_b:
        raise ValueError(
            f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} are not aligned: the last "
            f"dimension of the first ({k_a}) must equal the "
            f"{'second-to-last' if b.ndim >= 2 else 'only'} dimension of the second ({k_b})"
        )
    if a.ndim >= 2 and b.ndim >= 2:
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(
                f"matmul: batch dimensions of shapes {tuple(a.shape)} and {tuple(b.shape)} cannot "
                "be broadcast together"
            ) from None
        return MatMul.apply(a, b)
    from chainrule.ops.shape import reshape, squeeze, unsqueeze

    squeeze_dims = []
    if a.ndim == 1:
        a = unsqueeze(a, 0)
        squeeze_dims.append(-2)
    if b.ndim == 1:
        b = unsqueeze(b, 1)
        squeeze_dims.append(-1)
    out = MatMul.apply(a, b)
    shape = list(out.shape)
    for d in sorted(squeeze_dims):
        shape[d] = None
    return reshape(out, tuple(s for s in shape if s is not None))


def dot(a, b) -> Tensor:
    """Inner product of two 1-D tensors."""
    a, b = operands(a, b)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"dot: expects two 1-D tensors, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)
