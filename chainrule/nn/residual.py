"""Residual connections: ``Residual``, ``ResidualMLPBlock`` and ResNet's ``BasicBlock``.

A residual block learns F(x) and outputs F(x) + x, so the gradient reaches early layers through
the identity path unchanged (He et al. 2016): the remedy for vanishing gradients in deep nets.
"""

from __future__ import annotations

from chainrule.nn.activation import ReLU
from chainrule.nn.container import Identity, Sequential
from chainrule.nn.linear import Linear
from chainrule.nn.module import Module
from chainrule.nn.normalization import BatchNorm2d
from chainrule.ops.elementwise import relu
from chainrule.tensor import Tensor

__all__ = ["Residual", "ResidualMLPBlock", "BasicBlock"]


class Residual(Module):
    """out = module(x) + shortcut(x), with the identity as the default shortcut.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> block = nn.Residual(nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8)))
        >>> block(cr.randn(4, 8)).shape
        (4, 8)
    """

    def __init__(self, module: Module, shortcut: Module | None = None):
        super().__init__()
        self.module = module
        self.shortcut = shortcut if shortcut is not None else Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.module(x) + self.shortcut(x)


class ResidualMLPBlock(Module):
    """y = act(x + fc2(act(fc1(x)))): a fully connected residual block of width ``features``.

    Args:
        features: input and output size.
        activation: a module (default ``ReLU()``); the same instance is used twice.
        hidden: width of the inner layer (default ``features``).
        device, dtype: of the two ``Linear`` layers (keyword-only; only the CPU).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> cr.nn.ResidualMLPBlock(16)(cr.randn(2, 16)).shape
        (2, 16)
    """

    def __init__(self, features: int, activation: Module | None = None, hidden: int | None = None,
                 *, device=None, dtype=None):
        super().__init__()
        hidden = features if hidden is None else hidden
        self.fc1 = Linear(features, hidden, device=device, dtype=dtype)
        self.fc2 = Linear(hidden, features, device=device, dtype=dtype)
        self.activation = activation if activation is not None else ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.activation(x + self.fc2(self.activation(self.fc1(x))))


class BasicBlock(Module):
    """ResNet's basic block: two 3×3 convolutions with batch norm, and a shortcut that is the
    identity, or a 1×1 convolution with batch norm when the stride or channel count changes.

        out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))

    Names follow torchvision (conv1, bn1, conv2, bn2, downsample), so a torchvision block's
    state_dict converted to NumPy loads as it is. Keyword-only ``device`` (only the CPU) and
    ``dtype`` go to every convolution and batch norm.

    Shape: (N, in_channels, H, W) -> (N, out_channels, ⌈H/stride⌉, ⌈W/stride⌉).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> cr.nn.BasicBlock(3, 8, stride=2)(cr.randn(2, 3, 8, 8)).shape
        (2, 8, 4, 4)
    """

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, *, device=None,
                 dtype=None):
        super().__init__()
        from chainrule.nn.conv import Conv2d  # the conv layers live in their own module

        kw = {"device": device, "dtype": dtype}
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.conv1 = Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False,
                            **kw)
        self.bn1 = BatchNorm2d(out_channels, **kw)
        self.conv2 = Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False, **kw)
        self.bn2 = BatchNorm2d(out_channels, **kw)
        if stride != 1 or in_channels != out_channels:
            self.downsample = Sequential(
                Conv2d(in_channels, out_channels, 1, stride=stride, bias=False, **kw),
                BatchNorm2d(out_channels, **kw),
            )
        else:
            self.downsample = None

    def forward(self, x: Tensor) -> Tensor:
        out = relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return relu(out + shortcut)
