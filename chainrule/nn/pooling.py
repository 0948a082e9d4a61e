"""Pooling layers: max, average and adaptive average pooling in 1-D and 2-D."""

from __future__ import annotations

from chainrule.nn import functional as F
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d"]


class _MaxPoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation, self.ceil_mode = padding, dilation, ceil_mode

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool2d(_MaxPoolNd):
    """2-D max pooling: out[n, c, h, w] = max over the window at (s·h, s·w) (see F.max_pool2d).

    Args:
        kernel_size: int or (kH, kW).  stride: defaults to kernel_size.
        padding: implicit -inf padding, at most half the kernel.  dilation: window spacing.
        ceil_mode: round the output size up.

    Shape: (N, C, H, W) -> (N, C, Ho, Wo), Ho = floor((H + 2·p - d·(kH - 1) - 1)/s) + 1.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.MaxPool2d(2)(cr.zeros(1, 3, 28, 28)).shape
        (1, 3, 14, 14)
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode)


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling: out[n, c, l] = max_i x[n, c, s·l + d·i - p] (see F.max_pool1d).

    Shape: (N, C, L) -> (N, C, Lo), Lo = floor((L + 2·p - d·(k - 1) - 1)/s) + 1.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.MaxPool1d(2)(cr.zeros(1, 3, 9)).shape
        (1, 3, 4)
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode)


class _AvgPoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad = count_include_pad

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """2-D average pooling: the mean over each window, padding zeros counted by default
    (count_include_pad=True, as PyTorch) (see F.avg_pool2d).

    Shape: (N, C, H, W) -> (N, C, Ho, Wo), Ho = floor((H + 2·p - kH)/s) + 1.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.AvgPool2d(2)(cr.ones(1, 3, 4, 4)).shape
        (1, 3, 2, 2)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        self.divisor_override = divisor_override

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class AvgPool1d(_AvgPoolNd):
    """1-D average pooling: out[n, c, l] = Σ_i x[n, c, s·l + i - p] / k (see F.avg_pool1d).

    Shape: (N, C, L) -> (N, C, Lo), Lo = floor((L + 2·p - k)/s) + 1.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.AvgPool1d(3)(cr.ones(1, 2, 9)).shape
        (1, 2, 3)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        # Kept as 1-tuples, as PyTorch's AvgPool1d shows them.
        as_single = (lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v,))
        super().__init__(as_single(kernel_size), None if stride is None else as_single(stride),
                         as_single(padding), ceil_mode, count_include_pad)

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size (oH, oW) whatever the input size;
    ``AdaptiveAvgPool2d(1)`` is global average pooling (see F.adaptive_avg_pool2d).

    Shape: (N, C, H, W) -> (N, C, oH, oW).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.AdaptiveAvgPool2d(1)(cr.ones(2, 8, 7, 7)).shape
        (2, 8, 1, 1)
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(Module):
    """Average pooling of (N, C, L) to a fixed length oL (see F.adaptive_avg_pool1d).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.AdaptiveAvgPool1d(4)(cr.ones(2, 3, 10)).shape
        (2, 3, 4)
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool1d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
