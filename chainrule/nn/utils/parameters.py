"""Utilities on parameters and gradients (``nn.utils``): clipping, flattening, penalties."""

from __future__ import annotations

import math
import numpy as np

from chainrule.ops.pointwise import abs as absolute
from chainrule.ops.reduce import sum as reduce_sum
from chainrule.ops.shape import cat, reshape
from chainrule.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters",
           "l1_penalty", "l2_penalty"]


def _as_list(parameters) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        return [parameters]
    if hasattr(parameters, "parameters") and callable(parameters.parameters):
        return list(parameters.parameters())
    return list(parameters)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Rescale the gradients in place so that their joint norm is at most ``max_norm``.

    total = ‖(‖g₁‖_p, ‖g₂‖_p, ...)‖_p over every gradient (p = ``norm_type``, inf allowed);
    each gradient is multiplied by min(1, max_norm / (total + 1e-6)), as PyTorch.

    Args:
        parameters: a Tensor, an iterable of Tensors, or a Module.
        max_norm: the largest allowed norm.
        norm_type: p of the norm (2 by default; ``float('inf')`` for the largest |g|).
        error_if_nonfinite: raise when the total norm is nan or inf instead of scaling by it.

    Returns:
        The total norm before clipping (a 0-d Tensor).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> w = cr.nn.Parameter(cr.zeros(2)); w.grad = cr.tensor([3.0, 4.0])
        >>> float(cr.nn.utils.clip_grad_norm_([w], 1.0)), round(float(w.grad.norm()), 4)
        (5.0, 1.0)
    """
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    norm_type = float(norm_type)
    if not grads:
        return Tensor._make(np.zeros((), dtype=np.float32))
    dtype = grads[0].data.dtype
    if norm_type == math.inf:
        norms = [float(np.max(np.abs(g.data))) if g.data.size else 0.0 for g in grads]
        total = max(norms)
    elif norm_type == 2.0:
        total = math.sqrt(sum(float(np.dot(g.data.ravel(), g.data.ravel())) for g in grads))
    else:
        total = sum(float(np.sum(np.abs(g.data.astype(np.float64)) ** norm_type))
                    for g in grads) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
            "so it cannot be clipped. To disable this error and scale the gradients by the "
            "non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    coefficient = max_norm / (total + 1e-6)
    if coefficient < 1.0 or not math.isfinite(total):
        for g in grads:
            np.multiply(g.data, coefficient, out=g.data)
            g._version += 1
    return Tensor._make(np.asarray(total, dtype=dtype))


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clip every gradient element to [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be non-negative, got {clip_value}")
    for p in _as_list(parameters):
        if p.grad is not None:
            np.clip(p.grad.data, -clip_value, clip_value, out=p.grad.data)
            p.grad._version += 1


def parameters_to_vector(parameters) -> Tensor:
    """All parameters flattened and concatenated into one vector (differentiable).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> cr.nn.utils.parameters_to_vector(cr.nn.Linear(3, 2).parameters()).shape
        (8,)
    """
    params = _as_list(parameters)
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    return cat([reshape(p, (-1,)) for p in params])


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Copy consecutive slices of ``vec`` into the parameters in place (the inverse of
    ``parameters_to_vector``)."""
    params = _as_list(parameters)
    data = vec.data if isinstance(vec, Tensor) else np.asarray(vec)
    if data.ndim != 1:
        raise TypeError(f"vector_to_parameters: expected a 1-D vector, got shape {data.shape}")
    total = sum(p.data.size for p in params)
    if data.size != total:
        raise ValueError(f"vector_to_parameters: the vector has {data.size} elements but the "
                         f"parameters have {total}")
    offset = 0
    for p in params:
        size = p.data.size
        p.data[...] = data[offset:offset + size].reshape(p.shape)
        p._version += 1
        offset += size


def _penalty_params(model_or_params, only_weights: bool) -> list[Tensor]:
    params = _as_list(model_or_params)
    if only_weights:
        params = [p for p in params if p.ndim > 1]
    if not params:
        raise ValueError("penalty: no parameters to penalize"
                         + (" (only_weights=True keeps only those with ndim > 1)"
                            if only_weights else ""))
    return params


def l1_penalty(model_or_params, weight: float = 1.0, only_weights: bool = False) -> Tensor:
    """weight · Σ|w| over the parameters: add it to the loss for L1 regularization (sparsity).

    By default every parameter counts (biases and normalization scales too);
    ``only_weights=True`` keeps only parameters with ndim > 1 (weight matrices and kernels).
    Differentiable: its gradient is weight·sign(w).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> layer = cr.nn.Linear(2, 1)
        >>> penalty = cr.nn.utils.l1_penalty(layer, 1e-3, only_weights=True)
        >>> penalty.shape
        ()
    """
    params = _penalty_params(model_or_params, only_weights)
    total = reduce_sum(absolute(params[0]))
    for p in params[1:]:
        total = total + reduce_sum(absolute(p))
    return total * weight


def l2_penalty(model_or_params, weight: float = 1.0, only_weights: bool = False) -> Tensor:
    """weight · Σ w² over the parameters (L2 regularization in the loss; the optimizers'
    ``weight_decay`` is the same up to a factor 2). ``only_weights`` as in ``l1_penalty``."""
    params = _penalty_params(model_or_params, only_weights)
    total = reduce_sum(params[0] * params[0])
    for p in params[1:]:
        total = total + reduce_sum(p * p)
    return total * weight
