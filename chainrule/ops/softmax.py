"""softmax and log_softmax along one dimension, stable for any input."""

from __future__ import annotations


import numpy as np

from chainrule.autograd.function import Function
from chainrule.ops._util import exp_nonpositive, float_input, max_along, normalize_dims
from chainrule.ops.reduce import sum as reduce_sum
from chainrule.ops.shape import reshape
from chainrule.ops.special import SafeExp
from chainrule.tensor import Tensor


# ---------------------------------------------------------------------------- softmax
class Softmax(Function):
    """p = e^(x - max) / Σ e^(x - max) along ``dim``;  dx = p·(g - Σ g·p)."""

    needs_inputs = False
    saves_output = True

    def forward(self, x, axis=-1):
        self.saved = axis
        e = exp_nonpositive(x - max_along(x, axis))
        e /= np.sum(e, axis=axis, keepdims=True)
        return e

    def backward(self, grad_output):
        p = self.output
        return p * (grad_output - reduce_sum(grad_output * p, self.saved, keepdim=True))

    def backward_batched(self, grads):
        p, axis = self._output_data, _batched_axis(self.saved)
        return p * (grads - np.sum(grads * p, axis=axis, keepdims=True))


class LogSoftmax(Function):
    """x - logsumexp(x) along ``dim``;  dx = g - softmax(x)·Σ g."""

    needs_inputs = False
    saves_output = True

    def forward(self, x, axis=-1):
        self.saved = axis
        shifted = x - max_along(x, axis)
        shifted -= np.log(np.sum(exp_nonpositive(shifted), axis=axis, keepdims=True))
        return shifted

    def backward(self, grad_output):
        p = SafeExp.apply(self.output)
        return grad_output - p * reduce_sum(grad_output, self.saved, keepdim=True)

    def backward_batched(self, grads):
        p = np.exp(self._output_data)
        return grads - p * np.sum(grads, axis=_batched_axis(self.saved), keepdims=True)


def _batched_axis(axis: int) -> int:
    """An op's axis in its k stacked gradients (a leading axis added)."""
    return axis + 1 if axis >= 0 else axis


def _softmax_dim(x: Tensor, dim, op: str) -> int:
    if dim is None:
        dim = 0 if x.ndim in (0, 1, 3) else 1  # PyTorch's legacy implicit choice
    return normalize_dims(dim, max(x.ndim, 1), op)[0]


def softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """e^x / Σ e^x along ``dim``, computed stably (shifted by the maximum).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> cr.nn.functional.softmax(cr.tensor([0.0, 1000.0]), dim=0)
        tensor([0., 1.])
    """
    x = float_input(input, "softmax")
    if dtype is not None:
        x = x.to(dtype)
    if x.ndim == 0:
        return Softmax.apply(reshape(x, (1,)), axis=0).reshape(())
    return Softmax.apply(x, axis=_softmax_dim(x, dim, "softmax"))


def log_softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """x - log Σ e^x along ``dim``, stable for any magnitude (log_softmax([v, v]) = -log 2).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> cr.nn.functional.log_softmax(cr.tensor([1e20, 1e20]), dim=0)
        tensor([-0.6931, -0.6931])
    """
    x = float_input(input, "log_softmax")
    if dtype is not None:
        x = x.to(dtype)
    if x.ndim == 0:
        return LogSoftmax.apply(reshape(x, (1,)), axis=0).reshape(())
    return LogSoftmax.apply(x, axis=_softmax_dim(x, dim, "log_softmax"))
