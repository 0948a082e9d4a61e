"""Pooling: max and average over sliding windows (adaptive pooling is in adaptive_pool.py).

Windows are read as kh·kw strided slices of the (padded) input, one per kernel offset, so a
2×2 stride-2 max pool is the max of four strided slices. Max pooling saves which offset won
(the first maximum, as PyTorch) and routes the gradient there; the routing (a scatter) and its
adjoint (a gather) are Functions of each other, so double backward works.

The array kernels are in ``_pool_arrays.py``, with a faster path for the 2×2 stride-2 max pool of
CNNs (column pairs, then row pairs, and 0/1 masks of the winners).
"""

from __future__ import annotations

import numpy as np

from chainrule.autograd.function import Function
from chainrule.ops._conv_util import check_input, lift, pair, single
from chainrule.ops._pool_arrays import (
    Pairs, PoolSpec, channels_first, like, matching, pad, padded_hw, pairs, pairs_max,
    pairs_offsets, pairs_scatter, scatter, slices,
)
from chainrule.ops._util import as_tensor
from chainrule.ops.shape import squeeze, unsqueeze
from chainrule.tensor import Tensor

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d"]

# ---------------------------------------------------------------------------- max pooling
class MaxPool(Function):
    """y = max over each window;  the gradient goes to the (first) maximum of each window."""

    needs_inputs = False

    def forward(self, x, spec=None):
        if pairs(spec):
            out, self.saved = pairs_max(lift(x), spec, self.recording)
            self.spec = spec
            return like(out, x)
        padded = pad(lift(x), spec, -np.inf)
        windows = slices(spec)
        out = padded[:, :, windows[0][0], windows[0][1]].copy(order="K")
        winners = None
        if self.recording:
            winners = np.zeros_like(out, dtype=np.uint8 if len(windows) < 256 else np.int32)
        for k, (rows, columns) in enumerate(windows[1:], start=1):
            window = padded[:, :, rows, columns]
            if winners is not None:
                # Strictly greater: on ties the first offset keeps the gradient, as PyTorch.
                # winners = better ? k : winners, in integer arithmetic (masked writes are slow).
                better = np.greater(window, out).view(np.uint8).astype(winners.dtype, copy=False)
                winners -= better * winners
                better *= k
                winners += better
            np.maximum(out, window, out=out)
        self.spec, self.saved = spec, winners
        return like(out, x)

    def backward(self, grad_output):
        return MaxPoolScatter.apply(grad_output, winners=self.saved, spec=self.spec)


class MaxPoolScatter(Function):
    """Route each output gradient to its window's winner: the backward of max pooling.

    Linear in its input; its gradient is the gather ``MaxPoolGather`` with the same winners.
    """

    needs_inputs = False

    def forward(self, grad_output, winners=None, spec=None):
        self.spec, self.saved = spec, winners
        grad = matching(lift(grad_output), spec)
        if isinstance(winners, Pairs):
            return like(pairs_scatter(grad, winners, spec), grad_output)
        routed = scatter(grad, lambda k: winners == k, spec)
        return like(routed, grad_output)

    def backward(self, grad):
        return MaxPoolGather.apply(grad, winners=self.saved, spec=self.spec)


class MaxPoolGather(Function):
    """Read each window's winner from an input-shaped tensor: the adjoint of MaxPoolScatter."""

    needs_inputs = False

    def forward(self, grad, winners=None, spec=None):
        self.spec, self.saved = spec, winners
        if isinstance(winners, Pairs):
            winners = pairs_offsets(winners)
        padded = pad(lift(grad), spec, 0.0)
        out = np.zeros_like(winners, dtype=grad.dtype)
        for k, (rows, columns) in enumerate(slices(spec)):
            out += padded[:, :, rows, columns] * (winners == k)
        return like(out, grad)

    def backward(self, grad_output):
        return MaxPoolScatter.apply(grad_output, winners=self.saved, spec=self.spec)


# ---------------------------------------------------------------------------- average pooling
class AvgPool(Function):
    """y = (Σ over each window) / divisor;  backward spreads the gradient back evenly."""

    needs_inputs = False
    saved_is_metadata = True

    def forward(self, x, spec=None):
        self.saved = spec
        padded = pad(lift(x), spec, 0.0)
        windows = slices(spec)
        out = padded[:, :, windows[0][0], windows[0][1]].copy(order="K")
        for rows, columns in windows[1:]:
            out += padded[:, :, rows, columns]
        if isinstance(spec.divisor, np.ndarray):
            out /= spec.divisor.astype(x.dtype)
        else:
            out *= 1.0 / spec.divisor
        return like(out, x)

    def backward(self, grad_output):
        return AvgPoolTranspose.apply(grad_output, spec=self.saved)


class AvgPoolTranspose(Function):
    """The adjoint of average pooling: each output's value / divisor added over its window."""

    needs_inputs = False
    saved_is_metadata = True

    def forward(self, grad_output, spec=None):
        self.saved = spec
        grad = matching(lift(grad_output), spec)
        if isinstance(spec.divisor, np.ndarray):
            share = grad / spec.divisor.astype(grad.dtype)
        else:
            share = grad * (1.0 / spec.divisor)
        return like(scatter(share, None, spec), grad_output)

    def backward(self, grad):
        return AvgPool.apply(grad, spec=self.saved)


# ---------------------------------------------------------------------------- arguments
def _ceil_out(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil_mode: bool):
    """Output length, PyTorch's rule: with ceil_mode the last window must start inside the
    input or the left padding."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _spec(op: str, x: np.ndarray, kernel_size, stride, padding, dilation, ceil_mode, spatial: int,
          average: bool = False, count_include_pad: bool = True, divisor_override=None):
    """Normalize pooling arguments to a 2-D PoolSpec (1-d ops get a height-1 kernel)."""
    if spatial == 1:
        kernel = (1, single(kernel_size, "kernel_size", op))
        stride = kernel if stride is None or stride == () or stride == [] else (
            1, single(stride, "stride", op))
        pad = (0, single(padding, "padding", op, minimum=0))
        dil = (1, single(dilation, "dilation", op))
    else:
        kernel = pair(kernel_size, "kernel_size", op)
        stride = kernel if stride is None or stride == () or stride == [] else pair(
            stride, "stride", op)
        pad = pair(padding, "padding", op, minimum=0)
        dil = pair(dilation, "dilation", op)
    for k, p in zip(kernel, pad):
        limit = k // 2
        if p > limit:
            raise ValueError(
                f"{op}: padding should be at most half of the kernel size, got "
                f"padding={padding} for kernel_size={kernel_size}"
            )
    n, c, h, w = x.shape
    out_hw = tuple(_ceil_out(size, k, s, p, d, ceil_mode)
                   for size, k, s, p, d in zip((h, w), kernel, stride, pad, dil))
    if min(out_hw) < 1:
        shown = x.shape[2:] if spatial == 2 else x.shape[3:]
        raise ValueError(
            f"{op}: the input's spatial size {tuple(shown)} is too small for kernel_size="
            f"{kernel_size} with padding={padding}; the output would be empty"
        )
    # Extra bottom/right padding so that ceil_mode's last window is fully inside the buffer.
    extra = [max(0, (o - 1) * s + d * (k - 1) + 1 - (size + 2 * p))
             for o, s, d, k, size, p in zip(out_hw, stride, dil, kernel, (h, w), pad)]
    padding4 = (pad[0], pad[0] + extra[0], pad[1], pad[1] + extra[1])
    spec = PoolSpec(kernel, stride, dil, padding4, (n, c, h, w), out_hw, 1, channels_first(x))
    if average:
        spec = spec._replace(divisor=_divisor(spec, pad, count_include_pad, divisor_override))
    return spec


def _divisor(spec: PoolSpec, pad, count_include_pad: bool, divisor_override):
    """The number each window's sum is divided by: a scalar, or (Ho, Wo) where it varies."""
    if divisor_override is not None:
        if divisor_override <= 0:
            raise ValueError(f"divisor_override must be positive, got {divisor_override}")
        return float(divisor_override)
    (h, w), (ph, pw) = spec.in_shape[2:], pad
    counted = np.zeros(padded_hw(spec))
    if count_include_pad:
        counted[:h + 2 * ph, :w + 2 * pw] = 1.0
    else:
        counted[ph:ph + h, pw:pw + w] = 1.0
    divisor = sum(counted[rows, columns] for rows, columns in slices(spec))
    if np.all(divisor == divisor.flat[0]):
        return float(divisor.flat[0])
    return divisor


def _pool(function, op: str, x, spatial: int, **options) -> Tensor:
    x = as_tensor(x)
    batched = check_input(x, op, spatial)
    if not batched:
        x = unsqueeze(x, 0)
    spec = _spec(op, lift(x.data), spatial=spatial, **options)
    out = function.apply(x, spec=spec)  # 1-d: a height-1 2-d pooling inside
    return out if batched else squeeze(out, 0)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False) -> Tensor:
    """2-D max pooling over an (N, C, H, W) batch, as ``torch.nn.functional.max_pool2d``.

    out[n, c, h, w] = max_{i, j} x_pad[n, c, s·h + d·i, s·w + d·j] (padding is -inf).
    The gradient goes to the first maximum of each window (row-major), as PyTorch.

    Args:
        input: (N, C, H, W), or (C, H, W) without a batch.
        kernel_size: int or (kH, kW); stride defaults to kernel_size.
        padding: int or pair, at most half the kernel.  dilation: spacing of window elements.
        ceil_mode: round the output size up instead of down.

    Shape: Ho = floor((H + 2·p - d·(kH - 1) - 1) / s) + 1, likewise Wo.

    Example:
        >>> import chainrule as cr
        >>> max_pool2d(cr.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
    """
    return _pool(MaxPool, "max_pool2d", input, 2, kernel_size=kernel_size, stride=stride,
                 padding=padding, dilation=dilation, ceil_mode=ceil_mode)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False) -> Tensor:
    """1-D max pooling over an (N, C, L) batch: out[n, c, l] = max_i x_pad[n, c, s·l + d·i].

    Args as ``max_pool2d`` with ints. Shape: Lo = floor((L + 2·p - d·(k - 1) - 1) / s) + 1.

    Example:
        >>> import chainrule as cr
        >>> max_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2)
        tensor([[[3., 2.]]])
    """
    return _pool(MaxPool, "max_pool1d", input, 1, kernel_size=kernel_size, stride=stride,
                 padding=padding, dilation=dilation, ceil_mode=ceil_mode)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """2-D average pooling over an (N, C, H, W) batch, as ``torch.nn.functional.avg_pool2d``.

    out[n, c, h, w] = Σ_{i, j} x_pad[n, c, s·h + i, s·w + j] / divisor, where the divisor is
    kH·kW (count_include_pad=True, zeros of the padding counted), the number of real input
    elements in the window (False), or divisor_override.

    Args:
        input: (N, C, H, W), or (C, H, W) without a batch.
        kernel_size: int or (kH, kW); stride defaults to kernel_size; padding at most half kernel.

    Shape: Ho = floor((H + 2·p - kH) / s) + 1, likewise Wo.

    Example:
        >>> import chainrule as cr
        >>> avg_pool2d(cr.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 2.5,  4.5],
                  [10.5, 12.5]]]])
    """
    return _pool(AvgPool, "avg_pool2d", input, 2, kernel_size=kernel_size, stride=stride,
                 padding=padding, dilation=1, ceil_mode=ceil_mode, average=True,
                 count_include_pad=count_include_pad, divisor_override=divisor_override)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """1-D average pooling over an (N, C, L) batch: out[n, c, l] = Σ_i x_pad[n, c, s·l + i] / k.

    Args as ``avg_pool2d`` with ints. Shape: Lo = floor((L + 2·p - k) / s) + 1.

    Example:
        >>> import chainrule as cr
        >>> avg_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2)
        tensor([[[2., 1.]]])
    """
    return _pool(AvgPool, "avg_pool1d", input, 1, kernel_size=kernel_size, stride=stride,
                 padding=padding, dilation=1, ceil_mode=ceil_mode, average=True,
                 count_include_pad=count_include_pad)
