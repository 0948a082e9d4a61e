"""Classification losses on class scores: the fused ``cross_entropy`` and ``nll_loss``.

``cross_entropy`` is one Function (log-softmax and negative log-likelihood) whose backward is
(softmax·Σq - q)/N for the target distribution q: stable and cheap. Its ``backward`` is written
with chainrule ops so second order works; ``backward_arrays`` is the same formula on the arrays
forward saved.
"""

from __future__ import annotations

import numpy as np

from chainrule.autograd.function import Function
from chainrule.ops._util import as_tensor, exp_nonpositive, max_along, sum_columns
from chainrule.ops.loss import _check_reduction
from chainrule.ops.reduce import sum as reduce_sum
from chainrule.ops.shape import reshape
from chainrule.ops.softmax import Softmax, log_softmax
from chainrule.tensor import Tensor


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
    lowest, highest = (int(np.minimum.reduce(target, axis=None)),
                       int(np.maximum.reduce(target, axis=None))) if target.size else (0, 0)
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


def _scale(grad_output, reduction: str, denominator: float):
    """The incoming gradient (a Tensor or an array) shaped to broadcast over the class
    dimension (1), divided by the denominator for 'mean'."""
    if reduction == "none":
        shape = grad_output.shape
        return grad_output.reshape(shape[:1] + (1,) + shape[1:])
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
        shifted = x - max_along(x, 1)
        e = exp_nonpositive(shifted)
        total = sum_columns(e) if x.ndim == 2 else e.sum(axis=1, keepdims=True)
        log_total = np.log(total)
        log_p = None  # the whole log-softmax, unless only the targets' entries are needed
        if not (is_index and x.ndim == 2 and not smoothing):
            log_p = shifted
            log_p -= log_total
        if is_index:
            safe, w_n, valid = _index_weights(target, classes, weight, ignore_index, x.dtype,
                                              "cross_entropy")
            if log_p is None:  # log p[y] = shifted[y] - log Σe: on N numbers instead of N·C
                picked = shifted[np.arange(x.shape[0]), safe] - log_total[:, 0]
            elif x.ndim == 2:
                picked = log_p[np.arange(x.shape[0]), safe]
            else:
                picked = np.take_along_axis(log_p, safe[:, None], axis=1)[:, 0]
            if w_n is None:  # every target counts, with weight 1
                loss, denominator = -picked, float(picked.size)
            else:
                loss, denominator = -(picked * w_n), float(w_n.sum())
            if smoothing:
                safe, w_n, valid = _dense_weights(safe, w_n, valid, x.dtype)
                w_c = 1.0 if weight is None else _class_weight(weight, x.ndim)
                smooth = -(log_p * w_c).sum(axis=1) * valid
                loss = loss * (1.0 - smoothing) + smooth * (smoothing / classes)
            q = (safe, w_n, valid)
        else:
            q = target * (1.0 - smoothing) + smoothing / classes if smoothing else target
            if weight is not None:
                q = q * _class_weight(weight, x.ndim)
            loss = -(q * log_p).sum(axis=1)
            denominator = float(x.size // classes)
        if self.recording:
            e /= total
            self.saved = (e, log_p, q, denominator, weight, smoothing, reduction, is_index)
        return _finish(loss, reduction, denominator, x.dtype)

    def backward(self, grad_output):
        _, _, q, denominator, weight, smoothing, reduction, is_index = self.saved
        x, target = self.inputs
        classes = x.shape[1]
        scale = _scale(grad_output, reduction, denominator)
        weight_b = _class_weight(weight, x.ndim)
        grad_x = grad_target = None
        if self.next[0] is not None:
            if is_index:
                q_array, q_sum_array = _dense_index_target(q, x.shape, weight_b, smoothing,
                                                           x.dtype)
                q_dense, q_sum = Tensor._make(q_array), Tensor._make(q_sum_array)
            else:  # q as ops of the target, so the gradient flows to it in double backward
                q_dense = target
                if smoothing:
                    q_dense = q_dense * (1.0 - smoothing) + smoothing / classes
                if weight_b is not None:
                    q_dense = q_dense * Tensor._make(weight_b)
                q_sum = reduce_sum(q_dense, 1, keepdim=True)
            grad_x = (Softmax.apply(x, axis=1) * q_sum - q_dense) * scale
        if len(self.next) > 1 and self.next[1] is not None:
            log_probs = log_softmax(x, 1)
            if weight_b is not None:
                log_probs = log_probs * Tensor._make(weight_b)
            grad_target = log_probs * scale * -(1.0 - smoothing)
        return grad_x, grad_target

    def backward_arrays(self, grad_output):
        probs, log_p, q, denominator, weight, smoothing, reduction, is_index = self.saved
        shape = probs.shape
        scale = _scale(grad_output, reduction, denominator)
        grad_x = grad_target = None
        if self.next[0] is not None:
            if is_index and len(shape) == 2 and not smoothing:
                # The common case: (p - onehot)·w_n·g/N, with one copy of p.
                safe, w_n, _ = q
                grad_x = probs.copy() if w_n is None else probs * w_n[:, None]
                grad_x[np.arange(shape[0]), safe] -= 1.0 if w_n is None else w_n
            else:
                if is_index:
                    weight_b = _class_weight(weight, len(shape))
                    q_dense, q_sum = _dense_index_target(q, shape, weight_b, smoothing,
                                                         probs.dtype)
                else:  # forward saved q with the smoothing and the class weights applied
                    q_dense, q_sum = q, q.sum(axis=1, keepdims=True)
                grad_x = probs * q_sum - q_dense
            grad_x *= scale
        if len(self.next) > 1 and self.next[1] is not None:
            weight_b = _class_weight(weight, len(shape))
            log_probs = log_p if weight_b is None else log_p * weight_b
            grad_target = log_probs * scale * -(1.0 - smoothing)
        return grad_x, grad_target


def _class_weight(weight, ndim: int):
    """The class weights (C,) shaped (1, C, 1, ...) to broadcast over the input, or None."""
    return None if weight is None else weight.reshape((1, -1) + (1,) * (ndim - 2))


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
        return Tensor._make(dense) * _scale(grad_output, reduction, denominator), None


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
