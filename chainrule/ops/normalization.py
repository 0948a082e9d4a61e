"""Batch and layer normalization: one Function with the closed-form backward.

Both normalize x by statistics over some axes, x̂ = (x - μ)/√(σ² + ε), then scale and shift:
y = γ·x̂ + β. Batch norm takes the statistics over the batch (and spatial) axes per channel,
layer norm over the last dimensions per sample. With batch statistics the gradient is

    dx = 1/√(σ² + ε) · (d x̂ - mean(d x̂) - x̂·mean(d x̂·x̂)),   d x̂ = g·γ,

computed with chainrule ops (the statistics recomputed as differentiable ops of x) so gradients
of gradients work; when no graph of the backward is recorded, ``backward_arrays`` computes the
same closed form on arrays from the saved x̂.
"""

from __future__ import annotations

import numpy as np

from chainrule.autograd.function import Function
from chainrule.ops._util import as_tensor
from chainrule.ops.reduce import mean as reduce_mean, sum as reduce_sum
from chainrule.ops.shape import reshape
from chainrule.tensor import Tensor


class Normalize(Function):
    """y = (x - μ)/√(σ² + ε)·γ + β with μ, σ² over ``axes``; γ, β optional inputs.

    Params: axes (statistics), param_axes (the axes γ's gradient sums over), param_shape (γ
    broadcast against x), batch_stats (μ, σ² come from x itself, so the gradient flows through
    them), mean/var (the statistics, keepdims), centered (x - μ if the caller has it), eps,
    has_weight, has_bias.
    """

    def forward(self, x, *params, axes=(), param_axes=(), param_shape=(), batch_stats=True,
                mean=None, var=None, centered=None, eps=1e-5, has_weight=True, has_bias=True):
        invstd = 1.0 / np.sqrt(var + eps)
        xhat = centered if centered is not None else x - mean
        xhat *= invstd
        self.saved = (xhat if self.recording else None, invstd, mean, axes, param_axes,
                      param_shape, batch_stats, eps, has_weight)
        out = xhat if not (self.recording and not has_weight) else xhat.copy()
        if has_weight:
            out = out * params[0].reshape(param_shape)
        if has_bias:
            bias = params[1 if has_weight else 0].reshape(param_shape)
            out += bias
        return out

    def backward(self, grad_output):
        _, invstd, mean, axes, param_axes, param_shape, batch_stats, eps, has_weight = self.saved
        x = self.inputs[0]
        weight = self.inputs[1] if has_weight else None
        # The statistics as ops of x, so that the backward can be differentiated again.
        if batch_stats:
            centered = x - reduce_mean(x, axes, keepdim=True)
            invstd_t = (reduce_mean(centered * centered, axes, keepdim=True) + eps) ** -0.5
        else:
            centered = x - Tensor._make(mean)
            invstd_t = Tensor._make(invstd)
        xhat_t = centered * invstd_t
        grads = [None]
        if self.next[0] is not None:
            dxhat = grad_output * reshape(weight, param_shape) if has_weight else grad_output
            if batch_stats:
                dxhat = (dxhat - reduce_mean(dxhat, axes, keepdim=True)
                         - xhat_t * reduce_mean(dxhat * xhat_t, axes, keepdim=True))
            grads[0] = dxhat * invstd_t
        position = 1
        if has_weight:
            grads.append(None if self.next[1] is None else
                         reshape(reduce_sum(grad_output * xhat_t, param_axes), weight.shape))
            position = 2
        if position < len(self.next):
            bias = self.inputs[position]
            grads.append(None if self.next[position] is None else
                         reshape(reduce_sum(grad_output, param_axes), bias.shape))
        return tuple(grads)

    def backward_arrays(self, grad_output):
        # The same closed form on arrays, with the fewest passes over memory: this keeps batch
        # norm a small part of a CNN step.
        xhat, invstd, _, axes, param_axes, param_shape, batch_stats, _, has_weight = self.saved
        weight = self.inputs[1].data.reshape(param_shape) if has_weight else None
        bias_position = 2 if has_weight else 1
        need_x = self.next[0] is not None
        need_weight = has_weight and self.next[1] is not None
        need_bias = bias_position < len(self.next) and self.next[bias_position] is not None
        grads = [None] * len(self.next)
        grad_xhat = None
        if need_weight or (need_x and batch_stats):
            grad_xhat = grad_output * xhat
        if need_weight:
            grads[1] = grad_xhat.sum(axis=param_axes).reshape(self.inputs[1].shape)
        if need_bias:
            bias = self.inputs[bias_position]
            grads[bias_position] = grad_output.sum(axis=param_axes).reshape(bias.shape)
        if need_x:
            scale = invstd if weight is None else invstd * weight
            if batch_stats:
                if axes == param_axes or weight is None:
                    # BatchNorm: γ is constant over the reduced axes, so mean(g·γ) = γ·mean(g).
                    mean_grad = grad_output.mean(axis=axes, keepdims=True)
                    mean_grad_xhat = grad_xhat.mean(axis=axes, keepdims=True)
                    grad_x = xhat * mean_grad_xhat
                    np.subtract(grad_output, grad_x, out=grad_x)
                    grad_x -= mean_grad
                    grad_x *= scale
                else:
                    grad_xhat_weighted = grad_output * weight
                    mean_grad = grad_xhat_weighted.mean(axis=axes, keepdims=True)
                    grad_xhat *= weight
                    grad_x = xhat * grad_xhat.mean(axis=axes, keepdims=True)
                    np.subtract(grad_xhat_weighted, grad_x, out=grad_x)
                    grad_x -= mean_grad
                    grad_x *= invstd
            else:
                grad_x = grad_output * scale
            grads[0] = grad_x
        return tuple(grads)


def _param_list(weight, bias):
    params = []
    if weight is not None:
        params.append(as_tensor(weight))
    if bias is not None:
        params.append(as_tensor(bias))
    return params


def _check_dtypes(op: str, x: Tensor, tensors: dict) -> None:
    """Parameters and statistics in the input's dtype, as PyTorch requires (no silent upcast)."""
    for name, tensor in tensors.items():
        if tensor is not None and tensor.dtype != x.dtype:
            raise TypeError(
                f"{op}: input dtype {x.dtype} does not match {name} dtype {tensor.dtype}; "
                "convert the input (x.float()) or the model (model.double())"
            )


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalization over dimension 1 (channels): statistics over every other dimension.

    Training: x̂ uses the batch mean and biased variance, and the running statistics (when
    given) are updated in place: running = (1 - momentum)·running + momentum·batch, with the
    unbiased batch variance (n - 1). Otherwise x̂ uses the running statistics.
    y = γ·x̂ + β.

    Shape: input (N, C), (N, C, L) or (N, C, H, W); running stats, weight, bias (C,).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> y = cr.nn.functional.batch_norm(cr.randn(8, 3), None, None, training=True)
        >>> bool(abs(y.mean(0)).max() < 1e-5)
        True
    """
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, *), got {tuple(x.shape)}")
    channels = x.shape[1]
    for name, tensor in (("running_mean", running_mean), ("running_var", running_var),
                         ("weight", weight), ("bias", bias)):
        if tensor is not None and tuple(tensor.shape) != (channels,):
            raise ValueError(
                f"batch_norm: {name} has shape {tuple(tensor.shape)} but the input has {channels} "
                f"channels (shape {tuple(x.shape)}); expected ({channels},)"
            )
    _check_dtypes("batch_norm", x, {"running_mean": running_mean, "running_var": running_var,
                                    "weight": weight, "bias": bias})
    axes = (0,) + tuple(range(2, x.ndim))
    param_shape = (1, channels) + (1,) * (x.ndim - 2)
    data = x.data
    centered = None
    if training:
        count = data.size // channels
        if count <= 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size "
                f"{tuple(x.shape)}"
            )
        mean = data.mean(axis=axes, keepdims=True)
        centered = data - mean
        var = (centered * centered).mean(axis=axes, keepdims=True)
        if running_mean is not None and running_var is not None:
            _update(running_mean, mean.reshape(-1), momentum)
            _update(running_var, var.reshape(-1) * (count / (count - 1)), momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when not "
                             "training (or pass training=True to use the batch statistics)")
        mean = running_mean.data.reshape(param_shape).astype(data.dtype, copy=False)
        var = running_var.data.reshape(param_shape).astype(data.dtype, copy=False)
    params = _param_list(weight, bias)
    return Normalize.apply(x, *params, axes=axes, param_axes=axes, param_shape=param_shape,
                           batch_stats=training, mean=mean, var=var, centered=centered, eps=eps,
                           has_weight=weight is not None, has_bias=bias is not None)


def _update(running: Tensor, batch_value: np.ndarray, momentum: float) -> None:
    data = running.data
    data *= 1.0 - momentum
    data += (batch_value * momentum).astype(data.dtype, copy=False)
    running._version += 1


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Layer normalization: each sample normalized over its last ``len(normalized_shape)``
    dimensions (mean and biased variance), then y = γ·x̂ + β elementwise.

    Shape: input (*, *normalized_shape); weight, bias ``normalized_shape``.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> y = cr.nn.functional.layer_norm(cr.randn(2, 5), (5,))
        >>> bool(abs(y.mean(1)).max() < 1e-5)
        True
    """
    x = as_tensor(input)
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(
        normalized_shape)
    k = len(normalized_shape)
    if k == 0 or tuple(x.shape[x.ndim - k:]) != normalized_shape or x.ndim < k:
        raise ValueError(
            f"layer_norm: normalized_shape {normalized_shape} must match the last dimensions of "
            f"the input, whose shape is {tuple(x.shape)}"
        )
    for name, tensor in (("weight", weight), ("bias", bias)):
        if tensor is not None and tuple(tensor.shape) != normalized_shape:
            raise ValueError(f"layer_norm: {name} has shape {tuple(tensor.shape)}, expected "
                             f"normalized_shape {normalized_shape}")
    _check_dtypes("layer_norm", x, {"weight": weight, "bias": bias})
    axes = tuple(range(x.ndim - k, x.ndim))
    data = x.data
    mean = data.mean(axis=axes, keepdims=True)
    centered = data - mean
    var = (centered * centered).mean(axis=axes, keepdims=True)
    params = _param_list(weight, bias)
    return Normalize.apply(x, *params, axes=axes, param_axes=tuple(range(x.ndim - k)),
                           param_shape=normalized_shape, batch_stats=True, mean=mean, var=var,
                           centered=centered, eps=eps, has_weight=weight is not None,
                           has_bias=bias is not None)
