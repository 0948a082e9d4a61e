"""Dropout modules: active in training mode, the identity in eval mode."""

from __future__ import annotations

from chainrule.nn.module import Module
from chainrule.nn import functional as F
from chainrule.ops.dropout import check_p
from chainrule.tensor import Tensor

__all__ = ["Dropout", "Dropout1d", "Dropout2d"]


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        self.p = check_p(p, type(self).__name__)
        self.inplace = inplace  # accepted for PyTorch compatibility; always out of place

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Inverted dropout (Srivastava et al. 2014): in training, zero each element with
    probability ``p`` and scale the others by 1/(1-p), so E[output] = input; identity in eval.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> drop = cr.nn.Dropout(0.5).eval()
        >>> bool((drop(cr.ones(3)) == 1).all())
        True
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) inputs with probability ``p`` in training."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout1d(input, self.p, self.training)


class Dropout2d(_DropoutNd):
    """Zero whole feature maps of (N, C, H, W) inputs with probability ``p`` in training
    (neighbouring pixels are correlated, so dropping single pixels regularizes little)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training)
