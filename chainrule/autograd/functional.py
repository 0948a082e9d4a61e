"""Derivatives of whole functions: ``jacobian``, ``hessian``, ``hvp``, ``vjp``.

``jacobian``, ``hessian`` and ``hvp`` walk the graph once for many vectors at a time
(``chainrule.autograd.batched``): a Jacobian's rows, a Hessian's rows by double backward.
``chunk_size`` bounds how many vectors go together (None: chosen from the graph's largest array).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from chainrule.autograd.batched import chunked_grad, hessian_matrix
from chainrule.autograd.engine import grad
from chainrule.tensor import Tensor


def _prepare(x):
    if not isinstance(x, Tensor):
        raise TypeError(f"expected a Tensor input, got {type(x).__name__}")
    return Tensor._make(x.data.copy()).requires_grad_(True)


def vjp(fn: Callable, x, v):
    """(fn(x), vᵀ·J) — the vector-Jacobian product at ``x``."""
    x = _prepare(x)
    out = fn(x)
    (g,) = grad(out, x, v, allow_unused=True)
    return out.detach(), g if g is not None else x.detach() * 0


def jacobian(fn: Callable, x, create_graph: bool = False, chunk_size: int | None = None):
    """The Jacobian of ``fn`` at ``x``: shape ``fn(x).shape + x.shape``.

    Its rows (one per output element) are computed together, ``chunk_size`` at a time, in
    batched backward passes; with ``create_graph=True`` one recorded backward per row instead,
    so the result can be differentiated again.
    """
    x = _prepare(x) if not create_graph else x
    out = fn(x)
    flat_size = out.data.size
    if create_graph:
        rows = []
        for k in range(flat_size):
            v = np.zeros(flat_size, dtype=out.dtype)
            v[k] = 1
            (g,) = grad(out, x, Tensor._make(v.reshape(out.shape)), retain_graph=True,
                        create_graph=True, allow_unused=True)
            rows.append(g if g is not None else Tensor._make(np.zeros(x.shape, dtype=x.dtype)))
        result = Tensor._make(np.zeros((flat_size,) + x.shape, dtype=x.dtype))
        for k, row in enumerate(rows):
            result[k] = row  # recorded (CopySlices), so the Jacobian stays differentiable
        return result.reshape(out.shape + x.shape)
    if not out.requires_grad or flat_size == 0:
        return Tensor._make(np.zeros(out.shape + x.shape, dtype=x.dtype))
    unit = np.eye(flat_size, dtype=out.dtype).reshape((flat_size,) + out.shape)
    (rows,) = chunked_grad([out], [x], [unit], chunk_size=chunk_size, allow_unused=True)
    if rows is None:
        rows = np.zeros((flat_size,) + x.shape, dtype=x.dtype)
    return Tensor._make(rows.reshape(out.shape + x.shape))


def hessian(fn: Callable, x, chunk_size: int | None = None):
    """The Hessian of a scalar function at ``x``: shape ``x.shape + x.shape``.

    The gradient is computed with ``create_graph=True``, then its rows are differentiated again
    in batched double-backward passes (``chainrule.autograd.batched.hessian_matrix``), many
    unit vectors per pass.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0], dtype=cr.float64)
        >>> cr.autograd.functional.hessian(lambda t: (t ** 3).sum(), x)
        tensor([[ 6.,  0.],
                [ 0., 12.]], dtype=float64)
    """
    x = _prepare(x)
    out = fn(x)
    if out.data.size != 1:
        raise ValueError(f"hessian needs a scalar function, but fn returned shape {out.shape}")
    (g,) = grad(out, x, create_graph=True, allow_unused=True)
    matrix = hessian_matrix([g], [x], chunk_size=chunk_size)
    return Tensor._make(matrix.astype(x.dtype, copy=False).reshape(x.shape + x.shape))


def hvp(fn: Callable, x, v):
    """(fn(x), H·v): the Hessian-vector product by double backward, without forming H.

    ``v`` may also hold several vectors stacked along a leading axis, shape ``(k, *x.shape)``:
    then H·vⱼ for each, in one batched pass.
    """
    x = _prepare(x)
    v = v.data if isinstance(v, Tensor) else np.asarray(v, dtype=x.dtype)
    stacked = v.shape != x.shape
    if stacked and v.shape[1:] != x.shape:
        raise ValueError(f"hvp: v has shape {v.shape}; expected x's shape {x.shape} or a stack "
                         f"of vectors (k, {', '.join(map(str, x.shape))})")
    out = fn(x)
    (g,) = grad(out, x, create_graph=True, allow_unused=True)
    vectors = v if stacked else v[None]
    products = None
    if g is not None and g.requires_grad:
        (products,) = chunked_grad([g], [x], [vectors.astype(x.dtype, copy=False)],
                                   allow_unused=True)
    if products is None:
        products = np.zeros(vectors.shape, dtype=x.dtype)
    return out.detach(), Tensor._make(products if stacked else products[0])
