"""Convolutions (conv1d, conv2d) by im2col and one matrix product; pooling lives in pool.py.

The forward builds columns (C·kh·kw, N·Ho·Wo) from a padded (C, N, Hp, Wp) copy of the input
with kh·kw strided slice copies, multiplies ``weight.reshape(O, -1) @ columns`` and transposes
(O, N, Ho, Wo) to NCHW without a copy. Three Functions are each other's adjoints, so gradients of
any order are convolutions again:

    Convolution            y  = conv(x, w)
    ConvolutionInputGrad   gx = conv_transpose(gy, w)    (d/dgy: conv(·, w); d/dw: weight grad)
    ConvolutionWeightGrad  gw = correlate(x, gy)         (d/dx: conv_transpose; d/dgy: conv)
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from chainrule import threads
from chainrule.autograd.function import Function
from chainrule.ops._conv_util import (
    buffers, check_input, lift as _lift, output_size, pair, single, window_slices,
)
from chainrule.ops._util import as_tensor
from chainrule.ops.shape import expand, reshape, squeeze, unsqueeze
from chainrule.tensor import Tensor

__all__ = ["conv1d", "conv2d"]

Geometry = namedtuple("Geometry", ["stride", "padding", "dilation", "groups"])
Geometry.__doc__ = "A 2-D convolution's options: stride and dilation pairs, padding (t, b, l, r)."


# ---------------------------------------------------------------------------- array kernels
def _shape4(shape: tuple) -> tuple:
    return tuple(shape) if len(shape) == 4 else (shape[0], shape[1], 1, shape[2])


def _out_hw(in_hw, kernel, g: Geometry) -> tuple[int, int]:
    pt, pb, pl, pr = g.padding
    return (output_size(in_hw[0], kernel[0], g.stride[0], pt, pb, g.dilation[0]),
            output_size(in_hw[1], kernel[1], g.stride[1], pl, pr, g.dilation[1]))


def _im2col(x: np.ndarray, kernel, g: Geometry, out_hw) -> np.ndarray:
    """Columns (C·kh·kw, N·Ho·Wo): row (c, i, j) holds input channel c shifted by offset (i, j)."""
    n, c, h, w = x.shape
    pt, pb, pl, pr = g.padding
    channels_first = x.transpose(1, 0, 2, 3)
    if pt or pb or pl or pr:
        # Only the interior is ever written, so the zero border of a reused buffer stays zero.
        padded = buffers.take((c, n, h + pt + pb, w + pl + pr), x.dtype, f"pad{g.padding}",
                              zeros=True)
        padded[:, :, pt:pt + h, pl:pl + w] = channels_first
    else:
        padded = channels_first
    kh, kw = kernel
    cols = buffers.take((c, kh * kw, n) + tuple(out_hw), x.dtype, "cols")
    for k, (rows, columns) in enumerate(window_slices(kernel, g.stride, g.dilation, out_hw)):
        cols[:, k] = padded[:, :, rows, columns]
    return cols.reshape(c * kh * kw, n * out_hw[0] * out_hw[1])


def _col2im(grad_cols: np.ndarray, x_shape, kernel, g: Geometry, out_hw) -> np.ndarray:
    """The adjoint of ``_im2col``: add each column back where it was read from (N, C, H, W)."""
    n, c, h, w = x_shape
    pt, pb, pl, pr = g.padding
    kh, kw = kernel
    padded = buffers.take((c, n, h + pt + pb, w + pl + pr), grad_cols.dtype, "col2im")
    padded.fill(0)
    grad_cols = grad_cols.reshape((c, kh * kw, n) + tuple(out_hw))
    for k, (rows, columns) in enumerate(window_slices(kernel, g.stride, g.dilation, out_hw)):
        padded[:, :, rows, columns] += grad_cols[:, k]
    return padded[:, :, pt:pt + h, pl:pl + w].transpose(1, 0, 2, 3)


# Weight gradients with at most this many column rows (C·kh·kw) go sample by sample.
_FEW_ROWS = 32


def _rows(grad_output: np.ndarray) -> np.ndarray:
    """(N, O, Ho, Wo) as (O, N·Ho·Wo); free when it is already laid out channels first."""
    channels_first = grad_output.transpose(1, 0, 2, 3)
    shape = (channels_first.shape[0], channels_first[0].size)
    if channels_first.flags.c_contiguous:
        return channels_first.reshape(shape)
    rows = buffers.take(channels_first.shape, grad_output.dtype, "rows")
    np.copyto(rows, channels_first)
    return rows.reshape(shape)


def _matmul(a: np.ndarray, b: np.ndarray, tag: str) -> np.ndarray:
    """a @ b written into a reused buffer (big products page-fault when freshly allocated)."""
    shape = a.shape[:-1] + b.shape[-1:]
    return threads.matmul(a, b, out=buffers.take(shape, np.result_type(a, b), tag))


def _weight_times_cols(weight: np.ndarray, cols: np.ndarray, groups: int) -> np.ndarray:
    out_channels = weight.shape[0]
    if groups == 1:
        return _matmul(weight.reshape(out_channels, -1), cols, "out")
    w = weight.reshape(groups, out_channels // groups, -1)
    cols = cols.reshape(groups, cols.shape[0] // groups, cols.shape[1])
    return _matmul(w, cols, "out").reshape(out_channels, cols.shape[2])


def _grad_weight(grad_output: np.ndarray, grad2d, cols: np.ndarray, groups: int,
                 w_shape) -> np.ndarray:
    """grad2d (O, N·L) @ colsᵀ; with few rows per output (a first layer) one small product per
    sample straight from grad_output is faster and needs no channels-first copy."""
    n, out_channels = grad_output.shape[:2]
    if groups == 1 and (grad2d is None or cols.shape[0] <= _FEW_ROWS):
        positions = grad_output.shape[2] * grad_output.shape[3]
        per_sample = grad_output.reshape(n, out_channels, positions)
        per_sample_cols = cols.reshape(cols.shape[0], n, positions).transpose(1, 2, 0)
        return threads.matmul(per_sample, per_sample_cols).sum(axis=0).reshape(w_shape)
    if grad2d is None:
        grad2d = _rows(grad_output)
    if groups == 1:
        return threads.matmul(grad2d, cols.T).reshape(w_shape)
    g = grad2d.reshape(groups, grad2d.shape[0] // groups, grad2d.shape[1])
    c = cols.reshape(groups, cols.shape[0] // groups, cols.shape[1])
    return threads.matmul(g, c.transpose(0, 2, 1)).reshape(w_shape)


def _channel_sum(grad_output: np.ndarray, grad2d) -> np.ndarray:
    """Σ over (N, H, W) per channel, as products with ones (BLAS is ~3x faster than np.sum)."""
    if grad2d is not None:
        return threads.matmul(grad2d, np.ones(grad2d.shape[1], grad2d.dtype))
    n, channels = grad_output.shape[:2]
    per_sample = grad_output.reshape(n, channels, grad_output.shape[2] * grad_output.shape[3])
    ones = np.ones(per_sample.shape[2], grad_output.dtype)
    return threads.matmul(per_sample, ones).sum(axis=0)


def _grad_cols(weight: np.ndarray, grad2d: np.ndarray, groups: int) -> np.ndarray:
    out_channels = weight.shape[0]
    if groups == 1:
        return _matmul(weight.reshape(out_channels, -1).T, grad2d, "grad_cols")
    w = weight.reshape(groups, out_channels // groups, -1).transpose(0, 2, 1)
    g = grad2d.reshape(groups, grad2d.shape[0] // groups, grad2d.shape[1])
    return _matmul(w, g, "grad_cols").reshape(groups * w.shape[1], grad2d.shape[1])


# ---------------------------------------------------------------------------- Functions
class Convolution(Function):
    """y[n, o] = b[o] + Σ_c Σ_ij w[o, c, i, j] · x_pad[n, c, s·h + d·i, s·w + d·j] (per group).

    dL/dx = conv_transpose(gy, w), dL/dw = correlate(x, gy), dL/db = Σ_{n,h,w} gy.
    """

    def forward(self, x, weight, *bias, geometry=None):
        one_d = x.ndim == 3
        x, weight = _lift(x), _lift(weight)
        kernel = weight.shape[2:]
        out_hw = _out_hw(x.shape[2:], kernel, geometry)
        cols = _im2col(x, kernel, geometry, out_hw)
        out = _weight_times_cols(weight, cols, geometry.groups)
        if bias:
            out += bias[0][:, None]
        self.geometry = geometry
        if self.recording:
            self.saved = cols
        out = out.reshape((weight.shape[0], x.shape[0]) + out_hw).transpose(1, 0, 2, 3)
        return out[:, :, 0] if one_d else out

    def backward(self, grad_output):
        x, weight = self.inputs[0], self.inputs[1]
        g = self.geometry
        # The channels-first copy of grad_output is shared by the three gradients; a first layer
        # (no input gradient) with few column rows does without it.
        grad2d = None
        if self.next[0] is not None or self.saved.shape[0] > _FEW_ROWS or g.groups > 1 or \
                _lift(grad_output.data).transpose(1, 0, 2, 3).flags.c_contiguous:
            grad2d = _rows(_lift(grad_output.data))
        grad_x = grad_w = grad_b = None
        if self.next[0] is not None:
            grad_x = ConvolutionInputGrad.apply(grad_output, weight, x_shape=x.shape, geometry=g,
                                                grad2d=grad2d)
        if self.next[1] is not None:
            grad_w = ConvolutionWeightGrad.apply(x, grad_output, w_shape=weight.shape,
                                                 geometry=g, cols=self.saved, grad2d=grad2d)
        if len(self.next) == 3 and self.next[2] is not None:
            grad_b = ChannelSum.apply(grad_output, grad2d=grad2d)
        return grad_x, grad_w, grad_b


class ConvolutionInputGrad(Function):
    """gx = conv_transpose(gy, w): the gradient of a convolution with respect to its input.

    Its own gradients: d/dgy = conv(·, w), d/dw = correlate(·, gy).
    """

    def forward(self, grad_output, weight, x_shape=None, geometry=None, grad2d=None):
        self.geometry = geometry
        grad_output, weight = _lift(grad_output), _lift(weight)
        if grad2d is None:
            grad2d = _rows(grad_output)
        grad_cols = _grad_cols(weight, grad2d, geometry.groups)
        grad = _col2im(grad_cols, _shape4(x_shape), weight.shape[2:], geometry,
                       grad_output.shape[2:])
        return grad.reshape(x_shape)

    def backward(self, grad):
        grad_output, weight = self.inputs
        d_grad_output = d_weight = None
        if self.next[0] is not None:
            d_grad_output = Convolution.apply(grad, weight, geometry=self.geometry)
        if self.next[1] is not None:
            d_weight = ConvolutionWeightGrad.apply(grad, grad_output, w_shape=weight.shape,
                                                   geometry=self.geometry)
        return d_grad_output, d_weight


class ConvolutionWeightGrad(Function):
    """gw = correlate(x, gy): the gradient of a convolution with respect to its weight.

    Its own gradients: d/dx = conv_transpose(gy, ·), d/dgy = conv(x, ·).
    """

    def forward(self, x, grad_output, w_shape=None, geometry=None, cols=None, grad2d=None):
        self.geometry = geometry
        x, grad_output = _lift(x), _lift(grad_output)
        if cols is None:
            cols = _im2col(x, _shape4(w_shape)[2:], geometry, grad_output.shape[2:])
        return _grad_weight(grad_output, grad2d, cols, geometry.groups, w_shape)

    def backward(self, grad):
        x, grad_output = self.inputs
        d_x = d_grad_output = None
        if self.next[0] is not None:
            d_x = ConvolutionInputGrad.apply(grad_output, grad, x_shape=x.shape,
                                             geometry=self.geometry)
        if self.next[1] is not None:
            d_grad_output = Convolution.apply(x, grad, geometry=self.geometry)
        return d_x, d_grad_output


class ChannelSum(Function):
    """Σ over (N, H, W) of an (N, C, H, W) tensor: the bias gradient;  backward broadcasts."""

    needs_inputs = False
    saved_is_metadata = True

    def forward(self, x, grad2d=None):
        self.saved = x.shape
        return _channel_sum(_lift(x), grad2d)

    def backward(self, grad):
        shape = self.saved
        return expand(reshape(grad, (1, shape[1]) + (1,) * (len(shape) - 2)), shape)


# ---------------------------------------------------------------------------- arguments
def _padding(padding, kernel, dilation, stride, spatial: int, op: str) -> tuple:
    """(top, bottom, left, right) from an int, a tuple, 'valid' or 'same' (as PyTorch)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise ValueError(f"{op}: padding must be 'valid', 'same' or ints, got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(
                f"{op}: padding='same' is not supported for strided convolutions (stride "
                f"{stride[-spatial:] if spatial == 1 else stride}); use stride=1 or integer padding"
            )
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return (totals[0] // 2, totals[0] - totals[0] // 2,
                totals[1] // 2, totals[1] - totals[1] // 2)
    if spatial == 1:
        p = single(padding, "padding", op, minimum=0)
        return (0, 0, p, p)
    ph, pw = pair(padding, "padding", op, minimum=0)
    return (ph, ph, pw, pw)


def _geometry(op: str, x: Tensor, weight: Tensor, bias, stride, padding, dilation, groups,
              spatial: int) -> Geometry:
    """Check a convolution's arguments against each other; return them normalized to 2-D."""
    if weight.ndim != spatial + 2:
        layout = "(out_channels, in_channels/groups, kH, kW)" if spatial == 2 else \
            "(out_channels, in_channels/groups, kL)"
        raise ValueError(f"{op} expects a {spatial + 2}-D weight {layout}, got shape "
                         f"{tuple(weight.shape)}")
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    out_channels, in_channels = weight.shape[0], x.shape[1]
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"{op}: groups={groups} must divide both the input channels ({in_channels}) and the "
            f"output channels ({out_channels})"
        )
    if weight.shape[1] * groups != in_channels:
        raise ValueError(
            f"{op}: the input has {in_channels} channels but the weight expects "
            f"weight.shape[1] * groups = {weight.shape[1]} * {groups} = "
            f"{weight.shape[1] * groups}; weight shape {tuple(weight.shape)}, input shape "
            f"{tuple(x.shape)}"
        )
    if weight.dtype != x.dtype:
        raise TypeError(f"{op}: input dtype {x.dtype} and weight dtype {weight.dtype} differ; "
                        "convert one of them with .to(dtype)")
    if bias is not None:
        if tuple(bias.shape) != (out_channels,):
            raise ValueError(f"{op}: bias must have shape ({out_channels},) (one per output "
                             f"channel), got {tuple(bias.shape)}")
        if bias.dtype != x.dtype:
            raise TypeError(f"{op}: input dtype {x.dtype} and bias dtype {bias.dtype} differ")
    if spatial == 1:
        stride2 = (1, single(stride, "stride", op))
        dilation2 = (1, single(dilation, "dilation", op))
        kernel2 = (1,) + tuple(weight.shape[2:])
    else:
        stride2, dilation2 = pair(stride, "stride", op), pair(dilation, "dilation", op)
        kernel2 = tuple(weight.shape[2:])
    pads = _padding(padding, kernel2, dilation2, stride2, spatial, op)
    in_hw = (1,) + tuple(x.shape[2:]) if spatial == 1 else tuple(x.shape[2:])
    padded = (in_hw[0] + pads[0] + pads[1], in_hw[1] + pads[2] + pads[3])
    extent = tuple(d * (k - 1) + 1 for k, d in zip(kernel2, dilation2))
    if extent[0] > padded[0] or extent[1] > padded[1]:
        show = (lambda t: f"{t[1]}") if spatial == 1 else (lambda t: f"{t[0]}x{t[1]}")
        raise ValueError(
            f"{op}: the kernel (size {show(extent)} with dilation) is larger than the padded "
            f"input ({show(padded)}); use a smaller kernel, more padding or a larger input"
        )
    return Geometry(stride2, pads, dilation2, int(groups))


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1) -> Tensor:
    """2-D cross-correlation over an (N, C, H, W) batch, as ``torch.nn.functional.conv2d``.

    out[n, o, h, w] = bias[o] + Σ_{c,i,j} weight[o, c, i, j] · x[n, c, s·h + d·i - p, s·w + d·j - p]
    (c runs over the input channels of o's group; x is zero outside the image).

    Args:
        input: (N, C_in, H, W), or (C_in, H, W) without a batch.
        weight: (C_out, C_in / groups, kH, kW).
        bias: (C_out,) or None.
        stride, dilation: int or (h, w) pair.
        padding: int, (h, w) pair, 'valid' (no padding) or 'same' (output size = input size,
            stride 1 only; an odd total pads one more at the bottom/right, as PyTorch).
        groups: split the channels into groups convolved separately.

    Shape: Ho = floor((H + 2·p - d·(kH - 1) - 1) / s) + 1, likewise Wo; output (N, C_out, Ho, Wo).

    Example:
        >>> import chainrule as cr
        >>> x, w = cr.ones(1, 1, 4, 4), cr.ones(2, 1, 3, 3)
        >>> conv2d(x, w, padding=1).shape
        (1, 2, 4, 4)
    """
    x, weight = as_tensor(input), as_tensor(weight)
    bias = None if bias is None else as_tensor(bias)
    batched = check_input(x, "conv2d", 2)
    if not batched:
        x = unsqueeze(x, 0)
    geometry = _geometry("conv2d", x, weight, bias, stride, padding, dilation, groups, 2)
    tensors = (x, weight) if bias is None else (x, weight, bias)
    out = Convolution.apply(*tensors, geometry=geometry)
    return out if batched else squeeze(out, 0)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1) -> Tensor:
    """1-D cross-correlation over an (N, C, L) batch, as ``torch.nn.functional.conv1d``.

    out[n, o, l] = bias[o] + Σ_{c, i} weight[o, c, i] · x[n, c, s·l + d·i - p]

    Args:
        input: (N, C_in, L), or (C_in, L) without a batch.
        weight: (C_out, C_in / groups, k).
        bias: (C_out,) or None.
        stride, padding, dilation: ints (padding also 'valid' or 'same').
        groups: split the channels into groups convolved separately.

    Shape: Lo = floor((L + 2·p - d·(k - 1) - 1) / s) + 1; output (N, C_out, Lo).

    Example:
        >>> import chainrule as cr
        >>> conv1d(cr.ones(2, 3, 10), cr.ones(4, 3, 3)).shape
        (2, 4, 8)
    """
    x, weight = as_tensor(input), as_tensor(weight)
    bias = None if bias is None else as_tensor(bias)
    batched = check_input(x, "conv1d", 1)
    if not batched:
        x = unsqueeze(x, 0)
    geometry = _geometry("conv1d", x, weight, bias, stride, padding, dilation, groups, 1)
    tensors = (x, weight) if bias is None else (x, weight, bias)
    out = Convolution.apply(*tensors, geometry=geometry)  # height-1 conv2d inside
    return out if batched else squeeze(out, 0)
