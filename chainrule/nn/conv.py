"""Convolution layers: ``Conv1d`` and ``Conv2d`` (weights laid out as PyTorch's)."""

from __future__ import annotations

import math

import numpy as np

from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter, factory_dtype
from chainrule.tensor import Tensor

__all__ = ["Conv1d", "Conv2d"]


def _tuple(value, n: int, name: str, layer: str, minimum: int) -> tuple:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value),) * n
    value = tuple(value)
    if len(value) != n or not all(isinstance(v, (int, np.integer)) for v in value):
        raise TypeError(f"{layer}: {name} must be an int or {n} ints, got {value!r}")
    if min(value) < minimum:
        raise ValueError(f"{layer}: {name} must be at least {minimum}, got {value!r}")
    return tuple(int(v) for v in value)


class _ConvNd(Module):
    """What Conv1d and Conv2d share: arguments, parameters, default init and repr."""

    _spatial = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__()
        layer, n = type(self).__name__, self._spatial
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"{layer}: in_channels and out_channels must be positive, got "
                             f"{in_channels} and {out_channels}")
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{layer}: groups={groups} must divide in_channels ({in_channels}) and "
                f"out_channels ({out_channels})"
            )
        if padding_mode != "zeros":
            raise NotImplementedError(
                f"{layer}: only padding_mode='zeros' is supported, got {padding_mode!r}; pad the "
                "input yourself (chainrule.pad) for other modes"
            )
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _tuple(kernel_size, n, "kernel_size", layer, 1)
        self.stride = _tuple(stride, n, "stride", layer, 1)
        self.dilation = _tuple(dilation, n, "dilation", layer, 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{layer}: padding must be 'same', 'valid' or ints, got "
                                 f"{padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{layer}: padding='same' is not supported for strided "
                                 "convolutions")
            self.padding = padding
        else:
            self.padding = _tuple(padding, n, "padding", layer, 0)
        self.padding_mode = padding_mode
        dtype = factory_dtype(layer, device, dtype)
        shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        self.bias = Parameter(np.empty(out_channels, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: weight ~ kaiming_uniform_(a=√5), i.e. U(±1/√fan_in), and bias
        ~ U(±1/√fan_in) with fan_in = in_channels/groups · kernel elements."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        n = self._spatial
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0,) * n:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class Conv2d(_ConvNd):
    """2-D convolution layer: y = conv2d(x, weight, bias, stride, padding, dilation, groups).

    out[n, o, h, w] = bias[o] + Σ_{c,i,j} weight[o, c, i, j] · x[n, c, s·h + d·i - p, s·w + d·j - p]

    Args:
        in_channels, out_channels: C_in and C_out.
        kernel_size, stride, dilation: int or (h, w).
        padding: int, (h, w), 'valid' or 'same'.
        groups: C_in and C_out split into this many independent groups.
        bias: learn an additive bias per output channel.
        padding_mode: only 'zeros'.
        device: only the CPU (None or 'cpu'), accepted for PyTorch compatibility.
        dtype: parameter dtype, floating-point (float32 by default).

    Shape: (N, C_in, H, W) -> (N, C_out, Ho, Wo), Ho = floor((H + 2·p - d·(k - 1) - 1)/s) + 1.
    Weight (C_out, C_in/groups, kH, kW), bias (C_out,), initialized as PyTorch.

    Example:
        >>> import chainrule as cr
        >>> conv = cr.nn.Conv2d(1, 8, 3, padding=1)
        >>> conv(cr.zeros(2, 1, 28, 28)).shape
        (2, 8, 28, 28)
    """

    _spatial = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)


class Conv1d(_ConvNd):
    """1-D convolution layer: y = conv1d(x, weight, bias, stride, padding, dilation, groups).

    out[n, o, l] = bias[o] + Σ_{c, i} weight[o, c, i] · x[n, c, s·l + d·i - p]

    Args: as ``Conv2d`` with single ints.

    Shape: (N, C_in, L) -> (N, C_out, Lo), Lo = floor((L + 2·p - d·(k - 1) - 1)/s) + 1.
    Weight (C_out, C_in/groups, k), bias (C_out,).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Conv1d(3, 4, 5)(cr.zeros(2, 3, 20)).shape
        (2, 4, 16)
    """

    _spatial = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)

    def forward(self, x: Tensor) -> Tensor:
        padding = self.padding if isinstance(self.padding, str) else self.padding[0]
        return F.conv1d(x, self.weight, self.bias, self.stride[0], padding, self.dilation[0],
                        self.groups)
