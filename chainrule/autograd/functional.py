"""Derivatives of whole functions: ``jacobian``, ``hessian``, ``hvp``, ``vjp``."""

from __future__ import annotations

from typing import Callable

import numpy as np

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


def jacobian(fn: Callable, x, create_graph: bool = False):
    """The Jacobian of ``fn`` at ``x``: shape ``fn(x).shape + x.shape``, one backward per output
    element."""
    x = _prepare(x) if not create_graph else x
    out = fn(x)
    rows = []
    flat_size = out.data.size
    for k in range(flat_size):
        v = np.zeros(flat_size, dtype=out.dtype)
        v[k] = 1
        (g,) = grad(out, x, Tensor._make(v.reshape(out.shape)), retain_graph=True,
                    create_graph=create_graph, allow_unused=True)
        rows.append(g.data if g is not None else np.zeros(x.shape, dtype=x.dtype))
    return Tensor._make(np.stack(rows).reshape(out.shape + x.shape) if rows
                        else np.zeros(out.shape + x.shape, dtype=x.dtype))


def hessian(fn: Callable, x):
    """The Hessian of a scalar function at ``x``: shape ``x.shape + x.shape``.

    Built from double backward: the gradient is computed with ``create_graph=True`` and each of
    its elements differentiated again.

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
    (g,) = grad(out, x, create_graph=True)
    size = x.data.size
    flat = g.reshape(-1)
    rows = []
    for k in range(size):
        (h,) = grad(flat[k], x, retain_graph=True, allow_unused=True)
        rows.append(h.data.reshape(-1) if h is not None else np.zeros(size, dtype=x.dtype))
    return Tensor._make(np.stack(rows).reshape(x.shape + x.shape))


def hvp(fn: Callable, x, v):
    """(fn(x), H·v): the Hessian-vector product by double backward, without forming H."""
    x = _prepare(x)
    v = v if isinstance(v, Tensor) else Tensor(v, dtype=x.dtype)
    out = fn(x)
    (g,) = grad(out, x, create_graph=True)
    (hv,) = grad((g * v).sum(), x, allow_unused=True)
    return out.detach(), hv if hv is not None else x.detach() * 0
