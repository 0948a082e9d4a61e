"""Fully connected layers: ``Linear`` and ``Maxout``."""

from __future__ import annotations

import math

from chainrule import backend
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter, factory_dtype
from chainrule.nn import functional as F
from chainrule.ops.shape import reshape
from chainrule.ops.reduce import amax
from chainrule.tensor import Tensor

__all__ = ["Linear", "Maxout"]


def _positive(value: int, name: str, layer: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{layer}: {name} must be a non-negative int, got {value!r}")
    return value


class Linear(Module):
    """y = x Wᵀ + b.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: learn an additive bias (default True).
        device: accepted for PyTorch compatibility; only the CPU (None or 'cpu').
        dtype: parameter dtype, floating-point (float32 by default); the same initial values
            are drawn whatever the dtype.

    Shape: (*, in_features) -> (*, out_features); weight (out_features, in_features).

    Initialization (PyTorch's): weight ~ kaiming_uniform_(a=√5), i.e. U(-1/√in, 1/√in), bias
    ~ U(-1/√in, 1/√in); ``reset_parameters()`` draws them again.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> layer = cr.nn.Linear(20, 30)
        >>> layer(cr.randn(128, 20)).shape
        (128, 30)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        self.in_features = _positive(in_features, "in_features", "Linear")
        self.out_features = _positive(out_features, "out_features", "Linear")
        dtype = factory_dtype("Linear", device, dtype)
        self.weight = Parameter(Tensor._make(backend.empty((out_features, in_features), dtype)))
        if bias:
            self.bias = Parameter(Tensor._make(backend.empty((out_features,), dtype)))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the weight and bias again with PyTorch's default initialization."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Maxout(Module):
    """Maxout unit (Goodfellow et al. 2013): a linear layer with out_features·pool_size outputs
    and the maximum over each group of ``pool_size`` consecutive outputs.

    y_j = max_{k < pool_size} (x Wᵀ + b)_{j·pool_size + k}

    Shape: (*, in_features) -> (*, out_features); the inner ``linear`` has weight
    (out_features·pool_size, in_features), with ``bias``, ``device`` and ``dtype`` as ``Linear``.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> cr.nn.Maxout(4, 3, pool_size=2)(cr.randn(5, 4)).shape
        (5, 3)
    """

    def __init__(self, in_features: int, out_features: int, pool_size: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        if not isinstance(pool_size, int) or pool_size < 1:
            raise ValueError(f"Maxout: pool_size must be a positive int, got {pool_size!r}")
        self.in_features, self.out_features, self.pool_size = in_features, out_features, pool_size
        dtype = factory_dtype("Maxout", device, dtype)
        self.linear = Linear(in_features, out_features * pool_size, bias, dtype=dtype)

    def forward(self, input: Tensor) -> Tensor:
        pieces = self.linear(input)
        grouped = reshape(pieces, pieces.shape[:-1] + (self.out_features, self.pool_size))
        return amax(grouped, -1)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"pool_size={self.pool_size}")
