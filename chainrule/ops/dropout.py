"""Dropout: elementwise, and of whole channels (dropout1d, dropout2d)."""

from __future__ import annotations


import numpy as np

from chainrule import backend
from chainrule.ops._util import float_input
from chainrule.tensor import Tensor


# ---------------------------------------------------------------------------- dropout
def check_p(p: float, op: str) -> float:
    """``p`` as a float, which must be a probability in [0, 1] (``op`` names the caller)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    return float(p)


def _dropout_with_mask_shape(x: Tensor, p: float, mask_shape: tuple) -> Tensor:
    if p == 1.0:
        return x * 0.0
    keep = backend.generator().random(mask_shape, dtype=np.float32) >= p
    scale = keep.astype(x.dtype)
    scale *= 1.0 / (1.0 - p)
    return x * Tensor._make(scale)


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale the rest by
    1/(1-p), so the expected value is unchanged; the identity when not ``training``.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> x = cr.ones(4)
        >>> bool((cr.nn.functional.dropout(x, 0.5, training=False) == x).all())
        True
    """
    p = check_p(p, "dropout")
    x = float_input(input, "dropout")
    if not training or p == 0.0:
        return x
    return _dropout_with_mask_shape(x, p, x.shape)


def _channel_dropout(input, p, training, op: str, min_ndim: int) -> Tensor:
    p = check_p(p, op)
    x = float_input(input, op)
    if x.ndim < min_ndim:
        raise ValueError(f"{op}: expected an input with at least {min_ndim} dimensions "
                         f"(N, C, ...), got shape {tuple(x.shape)}")
    if not training or p == 0.0:
        return x
    return _dropout_with_mask_shape(x, p, x.shape[:2] + (1,) * (x.ndim - 2))


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero whole channels of an (N, C, L) input with probability ``p`` (scaled by 1/(1-p))."""
    return _channel_dropout(input, p, training, "dropout1d", 2)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero whole channels (feature maps) of an (N, C, H, W) input with probability ``p``,
    scaling the kept ones by 1/(1-p) (Tompson et al. 2015)."""
    return _channel_dropout(input, p, training, "dropout2d", 2)
