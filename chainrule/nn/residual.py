"""Residual connections: ``Residual``, ``ResidualMLPBlock`` and ResNet's ``BasicBlock``.

A residual block learns F(x) and outputs F(x) + x, so the gradient reaches early layers through
the identity path unchanged (He et al. 2016): the remedy for vanishing gradients in deep nets.
"""

from __future__ import annotations

from typing import Callable

from chainrule.nn import functional as F
from chainrule.nn.activation import ReLU
from chainrule.nn.container import Identity, Sequential
from chainrule.nn.conv import Conv1d, Conv2d
from chainrule.nn.linear import Linear
from chainrule.nn.module import Module
from chainrule.nn.normalization import BatchNorm1d, BatchNorm2d
from chainrule.tensor import Tensor

__all__ = ["Residual", "ResidualMLPBlock", "BasicBlock"]

_LAYERS = {1: (Conv1d, BatchNorm1d), 2: (Conv2d, BatchNorm2d)}  # BasicBlock's, by spatial_dims


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

        out = act(bn2(conv2(act(bn1(conv1(x))))) + shortcut(x)),  act = relu by default

    Names follow torchvision (conv1, bn1, conv2, bn2, downsample), so a torchvision block's
    state_dict converted to NumPy loads as it is.

    Args:
        in_channels, out_channels: channels of the input and of the output.
        stride: of the first convolution (2 halves the size).
        activation: keyword-only; a callable returning a new activation layer (e.g.
            ``nn.Tanh``), called twice for the modules ``act1`` and ``act2``. None: ReLU as a
            function, as torchvision.
        spatial_dims: keyword-only; 2 for images (Conv2d, BatchNorm2d), 1 for signals
            (Conv1d, BatchNorm1d).
        device, dtype: keyword-only; of every convolution and batch norm (only the CPU).

    Shape: (N, in_channels, H, W) -> (N, out_channels, ⌈H/stride⌉, ⌈W/stride⌉); with
    ``spatial_dims=1``, (N, in_channels, L) -> (N, out_channels, ⌈L/stride⌉).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> cr.nn.BasicBlock(3, 8, stride=2)(cr.randn(2, 3, 8, 8)).shape
        (2, 8, 4, 4)
        >>> cr.nn.BasicBlock(1, 4, activation=cr.nn.Tanh, spatial_dims=1)(cr.randn(2, 1, 9)).shape
        (2, 4, 9)
    """

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, *,
                 activation: Callable[[], Module] | None = None, spatial_dims: int = 2,
                 device=None, dtype=None):
        super().__init__()
        if spatial_dims not in _LAYERS:
            raise ValueError(f"BasicBlock: spatial_dims must be 1 (signals) or 2 (images), got "
                             f"{spatial_dims!r}")
        Conv, Norm = _LAYERS[spatial_dims]
        kw = {"device": device, "dtype": dtype}
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.conv1 = Conv(in_channels, out_channels, 3, stride=stride, padding=1, bias=False, **kw)
        self.bn1 = Norm(out_channels, **kw)
        self.act1 = None if activation is None else activation()  # None: F.relu
        self.conv2 = Conv(out_channels, out_channels, 3, stride=1, padding=1, bias=False, **kw)
        self.bn2 = Norm(out_channels, **kw)
        self.act2 = None if activation is None else activation()
        if stride != 1 or in_channels != out_channels:
            self.downsample = Sequential(
                Conv(in_channels, out_channels, 1, stride=stride, bias=False, **kw),
                Norm(out_channels, **kw),
            )
        else:
            self.downsample = None

    def forward(self, x: Tensor) -> Tensor:
        act1 = F.relu if self.act1 is None else self.act1
        act2 = F.relu if self.act2 is None else self.act2
        out = self.bn2(self.conv2(act1(self.bn1(self.conv1(x)))))
        shortcut = x if self.downsample is None else self.downsample(x)
        return act2(out + shortcut)
