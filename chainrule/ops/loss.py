"""Loss functions, with PyTorch's definitions and ``reduction='mean'|'sum'|'none'``.

Regression losses are composites of elementwise ops. ``cross_entropy`` is one fused Function
(log-softmax and negative log-likelihood) whose backward is (softmax·Σq - q)/N for the target
distribution q: stable, cheap, and written with chainrule ops so second order works.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule.autograd import grad_mode
from chainrule.autograd.function import Function
from chainrule.ops._util import as_tensor, exp_nonpositive
from chainrule.ops.elementwise import abs as absolute, clip, log, where
from chainrule.ops.activations import softplus
from chainrule.ops.softmax import Softmax, log_softmax
from chainrule.ops.reduce import mean as reduce_mean, sum as reduce_sum
from chainrule.ops.shape import reshape
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
        if self.next[1] is not None:
            if grad_mode.is_grad_enabled():  # recorded: the clamped logs as ops of p
                floor = math.exp(-100.0)
                log_ratio = log(clip(1.0 - p, floor)) - log(clip(p, floor))
            else:
                log_p, log_q = self.saved
                log_ratio = Tensor._make((log_q - log_p).astype(p.dtype, copy=False))
            grad_y = grad_output * log_ratio
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


# ---------------------------------------------------------------------------- classification
def _class_targets(input: Tensor, target, weight, op: str, allow_probabilities: bool):
    """Validate (input, target, weight); returns (target, is_index, weight array or None)."""
    if input.data.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point (scores), got dtype {input.dtype}")
    if input.ndim < 2:
        raise ValueError(f"{op}: expected input of shape (N, C) or (N, C, d1, ...), "
                         f"got {tuple(input.shape)}")
    target = as_tensor(target)
    classes = input.shape[1]
    index_shape = (input.shape[0],) + tuple(input.shape[2:])
    kind = target.data.dtype.kind
    if kind in "iu":
        if target.shape != index_shape:
            raise ValueError(
                f"{op}: expected class-index target of shape {index_shape} for input of shape "
                f"{tuple(input.shape)}, got target of shape {tuple(target.shape)}"
            )
        is_index = True
    elif kind == "f":
        if not allow_probabilities or target.shape != input.shape:
            if target.shape == index_shape:
                raise TypeError(
                    f"{op}: expected class indices of dtype int64 but got a {target.dtype} target "
                    f"of shape {tuple(target.shape)}; use target.long()"
                    + (f" (or give probabilities of the input's shape {tuple(input.shape)})"
                       if allow_probabilities else "")
                )
            raise ValueError(
                f"{op}: target of shape {tuple(target.shape)} fits input of shape "
                f"{tuple(input.shape)} neither as class indices (int64, shape {index_shape})"
                + (f" nor as probabilities (float, shape {tuple(input.shape)})"
                   if allow_probabilities else "")
            )
        is_index = False
        if target.dtype != input.dtype:
            target = target.to(input.dtype)
    else:
        raise TypeError(f"{op}: target must hold int64 class indices"
                        + (" or float probabilities" if allow_probabilities else "")
                        + f", got dtype {target.dtype}")
    weight_array = None
    if weight is not None:
        weight_array = np.asarray(as_tensor(weight).data, dtype=input.dtype)
        if weight_array.shape != (classes,):
            raise ValueError(f"{op}: weight should have one entry per class ({classes},), got "
                             f"shape {weight_array.shape}")
    return target, is_index, weight_array


def _index_weights(target: np.ndarray, classes: int, weight, ignore_index: int, dtype, op: str):
    """(safe targets, per-element weight w[y] (0 where ignored), valid mask); the last two are
    None when every target is valid and there are no class weights (all weights 1)."""
    lowest, highest = (int(target.min()), int(target.max())) if target.size else (0, 0)
    if weight is None and 0 <= lowest and highest < classes and not (
            lowest <= ignore_index <= highest):
        return target, None, None  # the fast, common case: all valid, unweighted
    valid = target != ignore_index
    if target.size:
        bad = valid & ((target < 0) | (target >= classes))
        if bad.any():
            value = int(target[bad].flat[0])
            raise IndexError(
                f"{op}: target {value} is out of bounds: expected class indices in "
                f"[0, {classes}) for an input with {classes} classes (or ignore_index="
                f"{ignore_index})"
            )
    safe = np.where(valid, target, 0)
    if weight is None:
        per_element = valid.astype(dtype)
    else:
        per_element = weight[safe] * valid
    return safe, per_element, valid


def _dense_weights(safe: np.ndarray, w_n, valid, dtype):
    """``_index_weights``' result with the all-ones case written out."""
    if w_n is None:
        return safe, np.ones(safe.shape, dtype=dtype), np.ones(safe.shape, dtype=bool)
    return safe, w_n, valid


def _scale(grad_output: Tensor, reduction: str, denominator: float, ndim: int) -> Tensor:
    """The incoming gradient shaped to broadcast over the class dimension (1)."""
    if reduction == "none":
        shape = grad_output.shape
        return reshape(grad_output, shape[:1] + (1,) + shape[1:])
    if reduction == "mean":
        return grad_output * (1.0 / denominator if denominator else np.nan)
    return grad_output


def _finish(loss_elements: np.ndarray, reduction: str, denominator: float, dtype):
    if reduction == "none":
        return loss_elements.astype(dtype, copy=False)
    total = loss_elements.sum()
    if reduction == "sum":
        return np.asarray(total, dtype=dtype)
    return np.asarray(total / denominator if denominator else np.nan, dtype=dtype)


class CrossEntropy(Function):
    """loss = -Σ_c q_c·log softmax(x)_c per element, q the target distribution (one-hot times
    the class weight, smoothed, or given probabilities);  dx = (softmax(x)·Σq - q)·g/N."""

    def forward(self, x, target, weight=None, ignore_index=-100, smoothing=0.0,
                reduction="mean", is_index=True):
        classes = x.shape[1]
        shifted = x - x.max(axis=1, keepdims=True)
        e = exp_nonpositive(shifted)
        total = e.sum(axis=1, keepdims=True)
        log_p = shifted
        log_p -= np.log(total)
        if is_index:
            safe, w_n, valid = _index_weights(target, classes, weight, ignore_index, x.dtype,
                                              "cross_entropy")
            if x.ndim == 2:
                picked = log_p[np.arange(x.shape[0]), safe]
            else:
                picked = np.take_along_axis(log_p, safe[:, None], axis=1)[:, 0]
            if w_n is None:  # every target counts, with weight 1
                loss, denominator = -picked, float(picked.size)
            else:
                loss, denominator = -(picked * w_n), float(w_n.sum())
            if smoothing:
                safe, w_n, valid = _dense_weights(safe, w_n, valid, x.dtype)
                w_c = 1.0 if weight is None else weight.reshape((1, classes) + (1,) * (x.ndim - 2))
                smooth = -(log_p * w_c).sum(axis=1) * valid
                loss = loss * (1.0 - smoothing) + smooth * (smoothing / classes)
            q = (safe, w_n, valid)
        else:
            q = target * (1.0 - smoothing) + smoothing / classes if smoothing else target
            if weight is not None:
                q = q * weight.reshape((1, classes) + (1,) * (x.ndim - 2))
            loss = -(q * log_p).sum(axis=1)
            denominator = float(x.size // classes)
        if self.recording:
            e /= total
            self.saved = (e, log_p, q, denominator, weight, smoothing, reduction, is_index)
        return _finish(loss, reduction, denominator, x.dtype)

    def backward(self, grad_output):
        probs, log_p, q, denominator, weight, smoothing, reduction, is_index = self.saved
        x, target = self.inputs
        classes = x.shape[1]
        recording = grad_mode.is_grad_enabled()
        if not recording and is_index and x.ndim == 2 and not smoothing:
            # The common case, on arrays: (p - onehot)·w_n·g/N.
            safe, w_n, _ = q
            difference = probs.copy() if w_n is None else probs * w_n[:, None]
            difference[np.arange(x.shape[0]), safe] -= 1.0 if w_n is None else w_n
            factor = grad_output.data
            if reduction == "mean":
                factor = factor * (1.0 / denominator if denominator else np.nan)
            difference *= factor if reduction != "none" else factor.reshape(-1, 1)
            return Tensor._make(difference), None
        scale = _scale(grad_output, reduction, denominator, x.ndim)
        weight_b = None if weight is None else weight.reshape((1, classes) + (1,) * (x.ndim - 2))
        grad_x = grad_target = None
        if self.next[0] is not None:
            if is_index:
                q_array, q_sum_array = _dense_index_target(q, x.shape, weight_b, smoothing,
                                                           x.dtype)
                q_dense, q_sum = Tensor._make(q_array), Tensor._make(q_sum_array)
            else:
                q_dense = target
                if smoothing:
                    q_dense = q_dense * (1.0 - smoothing) + smoothing / classes
                if weight_b is not None:
                    q_dense = q_dense * Tensor._make(weight_b)
                if not recording:
                    q_dense = Tensor._make(q_dense.data)
                q_sum = reduce_sum(q_dense, 1, keepdim=True)
            if recording:
                grad_x = (Softmax.apply(x, axis=1) * q_sum - q_dense) * scale
            else:
                grad_x = Tensor._make(probs * q_sum.data - q_dense.data) * scale
        if len(self.next) > 1 and self.next[1] is not None:
            lp = log_softmax(x, 1) if recording else Tensor._make(log_p)
            factor = -(1.0 - smoothing)
            if weight_b is not None:
                lp = lp * Tensor._make(weight_b)
            grad_target = lp * scale * factor
        return grad_x, grad_target


def _dense_index_target(q, shape, weight_b, smoothing, dtype):
    """The target distribution q (N, C, ...) of index targets and its sum over classes."""
    safe, w_n, valid = _dense_weights(*q, dtype)
    classes = shape[1]
    dense = np.zeros(shape, dtype=dtype)
    np.put_along_axis(dense, safe[:, None], (w_n * (1.0 - smoothing))[:, None].astype(dtype),
                      axis=1)
    q_sum = (w_n * (1.0 - smoothing))[:, None]
    if smoothing:
        spread = (weight_b if weight_b is not None else np.ones((1, classes) + (1,) * (
            len(shape) - 2), dtype=dtype)) * (smoothing / classes)
        valid_b = valid[:, None].astype(dtype)
        dense += spread * valid_b
        q_sum = q_sum + spread.sum(axis=1, keepdims=True) * valid_b
    return dense, q_sum.astype(dtype, copy=False)


def _unbatched(input: Tensor, target: Tensor):
    """(C,) input with a scalar or (C,) target, seen as a batch of one."""
    return reshape(input, (1,) + input.shape), reshape(target, (1,) + target.shape)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of raw scores against class indices or class probabilities, fused with
    log-softmax: loss_n = -Σ_c q_{n,c}·log softmax(x_n)_c, as PyTorch's ``F.cross_entropy``.

    With class indices, q is one-hot times ``weight[y_n]`` (zero where y_n == ignore_index);
    'mean' divides by the summed weights of the non-ignored targets. ``label_smoothing`` ε mixes
    in the uniform distribution: (1-ε)·nll + ε/C·Σ_c(-w_c log p_c). With probabilities
    (same shape as the input), q = (y·(1-ε) + ε/C)·w and 'mean' divides by the number of
    elements N·d1·...

    Shape: input (N, C), (N, C, d1, ...) or (C,); target (N,), (N, d1, ...) int64, or the
    input's shape (float).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> F = cr.nn.functional
        >>> round(float(F.cross_entropy(cr.zeros(2, 4), cr.tensor([0, 3]))), 4)
        1.3863
    """
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    input = as_tensor(input)
    unbatched = input.ndim == 1
    if unbatched:
        input, target = _unbatched(input, as_tensor(target))
    target, is_index, weight = _class_targets(input, target, weight, "cross_entropy", True)
    loss = CrossEntropy.apply(input, target, weight=weight, ignore_index=int(ignore_index),
                              smoothing=float(label_smoothing), reduction=reduction,
                              is_index=is_index)
    return reshape(loss, ()) if unbatched and reduction == "none" else loss


class NLLLoss(Function):
    """loss_n = -w_{y_n}·x_{n, y_n};  dx = -w_{y_n} at y_n (times g/N), 0 elsewhere."""

    def forward(self, x, target, weight=None, ignore_index=-100, reduction="mean"):
        safe, w_n, _ = _dense_weights(*_index_weights(target, x.shape[1], weight, ignore_index,
                                                      x.dtype, "nll_loss"), x.dtype)
        picked = np.take_along_axis(x, safe[:, None], axis=1)[:, 0]
        denominator = float(w_n.sum())
        self.saved = (safe, w_n, denominator, reduction)
        return _finish(-(picked * w_n), reduction, denominator, x.dtype)

    def backward(self, grad_output):
        safe, w_n, denominator, reduction = self.saved
        x = self.inputs[0]
        dense = np.zeros(x.shape, dtype=x.dtype)
        np.put_along_axis(dense, safe[:, None], -w_n[:, None].astype(x.dtype), axis=1)
        return Tensor._make(dense) * _scale(grad_output, reduction, denominator, x.ndim), None


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
             ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities: loss_n = -w_{y_n}·input[n, y_n]; 'mean'
    divides by the summed weights of the non-ignored targets. ``nll_loss(log_softmax(x, 1), y)``
    equals ``cross_entropy(x, y)``.

    Shape: input (N, C) or (N, C, d1, ...) or (C,); target (N,) or (N, d1, ...) int64.
    """
    _check_reduction(reduction, "nll_loss")
    input = as_tensor(input)
    unbatched = input.ndim == 1
    if unbatched:
        input, target = _unbatched(input, as_tensor(target))
    target, _, weight = _class_targets(input, target, weight, "nll_loss", False)
    loss = NLLLoss.apply(input, target, weight=weight, ignore_index=int(ignore_index),
                         reduction=reduction)
    return reshape(loss, ()) if unbatched and reduction == "none" else loss
