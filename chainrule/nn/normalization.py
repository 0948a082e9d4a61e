"""Normalization layers: ``BatchNorm1d``, ``BatchNorm2d`` and ``LayerNorm``."""

from __future__ import annotations

import numpy as np

from chainrule import backend
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter, factory_dtype
from chainrule.tensor import Tensor

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm"]


class _BatchNorm(Module):
    _expected_ndim: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=None):
        super().__init__()
        if not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"{type(self).__name__}: num_features must be a positive int, got "
                             f"{num_features!r}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dtype = factory_dtype(type(self).__name__, device, dtype)
        if affine:
            self.weight = Parameter(Tensor._make(backend.ones((num_features,), dtype)))
            self.bias = Parameter(Tensor._make(backend.zeros((num_features,), dtype)))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean",
                                 Tensor._make(backend.zeros((num_features,), dtype)))
            self.register_buffer("running_var", Tensor._make(backend.ones((num_features,), dtype)))
            self.register_buffer("num_batches_tracked",
                                 Tensor._make(np.zeros((), dtype=backend.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches tracked."""
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        """Reset the running statistics, and γ = 1, β = 0."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in self._expected_ndim:
            wanted = " or ".join(f"{d}D" for d in self._expected_ndim)
            raise ValueError(f"{type(self).__name__}: expected {wanted} input (got {input.ndim}D "
                             f"input of shape {tuple(input.shape)})")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.data[...] += 1
            self.num_batches_tracked._version += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.data)
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        tracked = not self.training or self.track_running_stats
        return self._normalize(input, self.running_mean if tracked else None,
                               self.running_var if tracked else None, use_batch_stats, factor)

    def _normalize(self, input: Tensor, running_mean, running_var, use_batch_stats: bool,
                   momentum: float) -> Tensor:
        """The normalization itself (SyncBatchNorm takes its statistics over all processes)."""
        return F.batch_norm(input, running_mean, running_var, self.weight, self.bias,
                            use_batch_stats, momentum, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization (Ioffe & Szegedy 2015) of (N, C) or (N, C, L) inputs per channel C.

    Training: y = γ·(x - mean_B)/√(var_B + eps) + β with the batch statistics, and
    running = (1 - momentum)·running + momentum·batch (unbiased variance); momentum=None keeps
    a cumulative average. Eval: the running statistics. ``num_batches_tracked`` counts the
    training batches. All three statistics are buffers, saved by ``state_dict``.

    Args: num_features, eps, momentum, affine, track_running_stats, device, dtype as PyTorch's;
    ``dtype`` (floating-point, float32 by default) is that of γ, β and the running mean and
    variance; ``num_batches_tracked`` is int64 always. ``device``: only the CPU.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> bn = cr.nn.BatchNorm1d(3)
        >>> _ = bn(cr.randn(16, 3))
        >>> int(bn.num_batches_tracked.item())
        1
    """

    _expected_ndim = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) inputs per channel, statistics over N, H and W
    (see ``BatchNorm1d`` for the formulas)."""

    _expected_ndim = (4,)


class LayerNorm(Module):
    """Layer normalization (Ba et al. 2016): each sample normalized over its last dimensions,
    y = (x - mean)/√(var + eps)·γ + β with γ, β of ``normalized_shape`` (elementwise).
    The same in training and eval.

    Args: normalized_shape (an int or the trailing shape), eps, elementwise_affine, bias, device
    (only the CPU) and dtype (of γ and β, floating-point, float32 by default), as PyTorch's.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> cr.nn.LayerNorm(8)(cr.randn(4, 8)).shape
        (4, 8)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        dtype = factory_dtype("LayerNorm", device, dtype)
        if elementwise_affine:
            self.weight = Parameter(Tensor._make(backend.ones(self.normalized_shape, dtype)))
            if bias:
                self.bias = Parameter(Tensor._make(backend.zeros(self.normalized_shape, dtype)))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        """γ = 1, β = 0."""
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
