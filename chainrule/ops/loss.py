"""Regression and binary losses, with PyTorch's definitions and
``reduction='mean'|'sum'|'none'``.

Regression losses are composites of elementwise ops; binary cross-entropy of probabilities is
one Function. The classification losses (``cross_entropy``, ``nll_loss``) live in
``chainrule.ops.cross_entropy``, which takes the reduction check from here.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule.autograd.function import Function
from chainrule.ops._util import as_tensor
from chainrule.ops.pointwise import abs as absolute, log
from chainrule.ops.select import clip, where
from chainrule.ops.activations import softplus
from chainrule.ops.reduce import mean as reduce_mean, sum as reduce_sum
from chainrule.tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return reduce_mean(loss)
    if reduction == "sum":
        return reduce_sum(loss)
    return loss


def _float_pair(input, target, op: str, target_kind: str = "values") -> tuple[Tensor, Tensor]:
    """Input and target as float tensors of the input's dtype and the same shape."""
    input, target = as_tensor(input), as_tensor(target)
    if input.data.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point, got dtype {input.dtype}")
    if target.data.dtype.kind != "f":
        raise TypeError(
            f"{op}: expected a floating-point target ({target_kind}) like the input "
            f"({input.dtype}), got dtype {target.dtype}; convert it with target.float()"
        )
    if target.shape != input.shape:
        raise ValueError(
            f"{op}: target shape {tuple(target.shape)} differs from input shape "
            f"{tuple(input.shape)}; they must be equal (reshape one of them, e.g. "
            "target.reshape(input.shape) or input.squeeze(-1))"
        )
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    return input, target


# ---------------------------------------------------------------------------- regression
def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean absolute error: |x - y| reduced.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> float(cr.nn.functional.l1_loss(cr.tensor([1.0, 3.0]), cr.tensor([2.0, 1.0])))
        1.5
    """
    _check_reduction(reduction, "l1_loss")
    input, target = _float_pair(input, target, "l1_loss")
    return _reduce(absolute(input - target), reduction)


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error: (x - y)² reduced.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> float(cr.nn.functional.mse_loss(cr.tensor([1.0, 3.0]), cr.tensor([2.0, 1.0])))
        2.5
    """
    _check_reduction(reduction, "mse_loss")
    input, target = _float_pair(input, target, "mse_loss")
    difference = input - target
    return _reduce(difference * difference, reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """0.5·d²/β where |d| < β, else |d| - 0.5·β (d = x - y); β = 0 gives the L1 loss."""
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    input, target = _float_pair(input, target, "smooth_l1_loss")
    difference = input - target
    magnitude = absolute(difference)
    if beta == 0:
        return _reduce(magnitude, reduction)
    quadratic = difference * difference * (0.5 / beta)
    loss = where(magnitude.data < beta, quadratic, magnitude - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean",
               delta: float = 1.0) -> Tensor:
    """0.5·d² where |d| < δ, else δ·(|d| - 0.5·δ) (d = x - y); equals δ·smooth_l1(β=δ)."""
    _check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    input, target = _float_pair(input, target, "huber_loss")
    difference = input - target
    magnitude = absolute(difference)
    loss = where(magnitude.data < delta, difference * difference * 0.5,
                 (magnitude - 0.5 * delta) * delta)
    return _reduce(loss, reduction)


# ---------------------------------------------------------------------------- binary
def _clamped_log(p: np.ndarray) -> np.ndarray:
    """log(p) clamped at -100 (PyTorch's BCE), so p = 0 gives -100, with no warning."""
    positive = p > 0
    return np.where(positive, np.maximum(np.log(np.where(positive, p, 1.0)), -100.0), -100.0)


class BinaryCrossEntropy(Function):
    """-(y·log p + (1-y)·log(1-p)), logs clamped at -100;
    dp = (p - y)/max(p(1-p), 1e-12),  dy = log(1-p) - log(p)."""

    def forward(self, p, y):
        log_p, log_q = _clamped_log(p), _clamped_log(1.0 - p)
        self.saved = (log_p, log_q)
        return (-(y * log_p + (1.0 - y) * log_q)).astype(p.dtype, copy=False)

    def backward(self, grad_output):
        p, y = self.inputs
        grad_p = grad_y = None
        if self.next[0] is not None:
            grad_p = grad_output * (p - y) / clip(p * (1.0 - p), 1e-12)
        if self.next[1] is not None:  # the clamped logs as ops of p
            floor = math.exp(-100.0)
            grad_y = grad_output * (log(clip(1.0 - p, floor)) - log(clip(p, floor)))
        return grad_p, grad_y

    def backward_arrays(self, grad_output):
        p, y = self.inputs[0].data, self.inputs[1].data
        grad_p = grad_y = None
        if self.next[0] is not None:
            grad_p = grad_output * (p - y) / np.maximum(p * (1.0 - p), 1e-12)
        if self.next[1] is not None:
            log_p, log_q = self.saved
            grad_y = grad_output * (log_q - log_p).astype(p.dtype, copy=False)
        return grad_p, grad_y


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities: -w·(y·log p + (1-y)·log(1-p)), with the logs
    clamped at -100 as PyTorch, so p = 0 or 1 gives a finite loss.

    Shape: input and target the same shape (probabilities, targets in [0, 1], float);
    weight broadcasts against them.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> F = cr.nn.functional
        >>> float(F.binary_cross_entropy(cr.tensor([0.0, 1.0]), cr.tensor([1.0, 1.0])))
        50.0
    """
    _check_reduction(reduction, "binary_cross_entropy")
    input, target = _float_pair(input, target, "binary_cross_entropy", "probabilities in [0, 1]")
    data = input.data
    if data.size and (np.min(data) < 0 or np.max(data) > 1 or np.isnan(data).any()):
        raise ValueError(
            "binary_cross_entropy: all elements of input should be probabilities between 0 and "
            f"1, got values in [{np.min(data)}, {np.max(data)}]; apply sigmoid first, or use "
            "binary_cross_entropy_with_logits on the raw scores"
        )
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * _weight(weight, input, "binary_cross_entropy")
    return _reduce(loss, reduction)


def _weight(weight, input: Tensor, op: str) -> Tensor:
    weight = as_tensor(weight)
    try:
        np.broadcast_shapes(weight.shape, input.shape)
    except ValueError:
        raise ValueError(f"{op}: weight of shape {tuple(weight.shape)} cannot be broadcast to the "
                         f"input's shape {tuple(input.shape)}") from None
    return weight.to(input.dtype) if weight.dtype != input.dtype else weight


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Binary cross-entropy on raw scores x, stable for any x (log-sum-exp form):

        loss = (1 - y)·x + (1 + (pos_weight - 1)·y)·log(1 + e^-x),  times ``weight``.

    ``pos_weight`` (one per class, the last dimension) weighs the positive examples. With
    targets of shape (N, C) in {0, 1} this is the multi-label classification loss.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> F = cr.nn.functional
        >>> float(F.binary_cross_entropy_with_logits(cr.tensor([1000.0]), cr.tensor([0.0])))
        1000.0
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    input, target = _float_pair(input, target, "binary_cross_entropy_with_logits",
                                "probabilities in [0, 1]")
    log_one_plus = softplus(-input, threshold=None)  # log(1 + e^-x) = -log σ(x)
    if pos_weight is not None:
        pos_weight = _weight(pos_weight, input, "binary_cross_entropy_with_logits (pos_weight)")
        log_one_plus = log_one_plus * ((pos_weight - 1.0) * target + 1.0)
    loss = (1.0 - target) * input + log_one_plus
    if weight is not None:
        loss = loss * _weight(weight, input, "binary_cross_entropy_with_logits")
    return _reduce(loss, reduction)
