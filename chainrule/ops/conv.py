"""Convolutions (conv1d, conv2d) by im2col and one matrix product; pooling lives in pool.py.

The forward builds columns (C·kh·kw, positions) from the input (``_conv_arrays``: a padded
copy read at kh·kw offsets, or for stride 1 one flat zero-bordered row per channel read at kh·kw
shifts), multiplies ``weight.reshape(O, -1) @ columns`` and views (O, N, Ho, Wo) as NCHW without
a copy. Three Functions are each other's adjoints, so gradients of
any order are convolutions again:

    Convolution            y  = conv(x, w)
    ConvolutionInputGrad   gx = conv_transpose(gy, w)    (d/dgy: conv(·, w); d/dw: weight grad)
    ConvolutionWeightGrad  gw = correlate(x, gy)         (d/dx: conv_transpose; d/dgy: conv)
"""

from __future__ import annotations

import functools
from collections import namedtuple

import numpy as np

from chainrule.autograd.function import Function
from chainrule.ops import _conv_arrays as arrays
from chainrule.ops._conv_util import check_input, lift as _lift, output_size, pair, single
from chainrule.ops._util import as_tensor
from chainrule.ops.shape import expand, reshape, squeeze, unsqueeze
from chainrule.tensor import Tensor

__all__ = ["conv1d", "conv2d"]

Geometry = namedtuple("Geometry", ["stride", "padding", "dilation", "groups"])
Geometry.__doc__ = "A 2-D convolution's options: stride and dilation pairs, padding (t, b, l, r)."


def _out_hw(in_hw, kernel, g: Geometry) -> tuple[int, int]:
    pt, pb, pl, pr = g.padding
    return (output_size(in_hw[0], kernel[0], g.stride[0], pt, pb, g.dilation[0]),
            output_size(in_hw[1], kernel[1], g.stride[1], pl, pr, g.dilation[1]))


@functools.lru_cache(maxsize=512)
def _plan(x_shape, w_shape, g: Geometry) -> arrays.Plan:
    """The columns' layout for these shapes (1-d ones as height 1); a network asks for the same
    few plans every step, so they are kept."""
    x_shape, kernel = arrays.shape4(x_shape), arrays.shape4(w_shape)[2:]
    return arrays.plan(x_shape, kernel, g, _out_hw(x_shape[2:], kernel, g))


# ---------------------------------------------------------------------------- Functions
class Convolution(Function):
    """y[n, o] = b[o] + Σ_c Σ_ij w[o, c, i, j] · x_pad[n, c, s·h + d·i, s·w + d·j] (per group).

    dL/dx = conv_transpose(gy, w), dL/dw = correlate(x, gy), dL/db = Σ_{n,h,w} gy.
    """

    def forward(self, x, weight, *bias, geometry=None):
        one_d = x.ndim == 3
        x, weight = _lift(x), _lift(weight)
        plan = _plan(x.shape, weight.shape, geometry)
        cols = arrays.im2col(x, plan)
        out = arrays.weight_times_cols(weight, cols, geometry.groups)
        if bias:
            out += bias[0][:, None]
        self.geometry = geometry
        if self.recording:
            self.saved = cols
        out = arrays.output(out, plan)
        return out[:, :, 0] if one_d else out

    def backward(self, grad_output):
        x, weight = self.inputs[0], self.inputs[1]
        g = self.geometry
        plan = _plan(x.shape, weight.shape, g)
        # The output gradient's rows are shared by the three gradients; a first layer (no input
        # gradient) whose weight gradient goes sample by sample does without them.
        grad2d = None
        if self.next[0] is not None or not arrays.per_sample(plan, g.groups) or \
                _lift(grad_output.data).transpose(1, 0, 2, 3).flags.c_contiguous:
            grad2d = arrays.rows(_lift(grad_output.data), plan)
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
        plan = _plan(x_shape, weight.shape, geometry)
        if grad2d is None:
            grad2d = arrays.rows(grad_output, plan)
        grad_cols = arrays.grad_cols(weight, grad2d, geometry.groups)
        return arrays.col2im(grad_cols, plan).reshape(x_shape)

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
        plan = _plan(x.shape, w_shape, geometry)
        if cols is None:
            cols = arrays.im2col(x, plan)
        return arrays.grad_weight(grad_output, grad2d, cols, plan, geometry.groups, w_shape)

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
        return arrays.channel_sum(_lift(x), grad2d)

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
