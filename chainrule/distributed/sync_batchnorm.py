"""``SyncBatchNorm``: batch normalization whose batch statistics are those of all processes.

With plain ``BatchNorm`` each process normalizes by the statistics of its own batch; with
``SyncBatchNorm`` by those of the batches of all ranks together, so N processes with batches of
B samples compute what one process computes on the combined N·B samples, forward and backward.

The statistics are differentiable sums over the ranks (``all_reduce_sum``, whose gradient is
again the sum over the ranks of the gradients), so the gradient of each rank's loss reaches
the other ranks' inputs through the shared mean and variance as it would in one process; the
same graph gives gradients of gradients.
"""

from __future__ import annotations

import numpy as np

from chainrule.autograd.function import Function
from chainrule.distributed import comm
from chainrule.nn.module import Module
from chainrule.nn.normalization import _BatchNorm
from chainrule.tensor import Tensor

__all__ = ["SyncBatchNorm", "all_reduce_sum", "sync_batch_norm"]


class AllReduceSum(Function):
    """y = Σ_ranks x (every rank gets the sum); the gradient is Σ_ranks of the gradients."""

    needs_inputs = False

    def forward(self, x):
        return comm.all_reduce_(np.array(x, order="C", copy=True))

    def backward(self, grad_output):
        return all_reduce_sum(grad_output)


def all_reduce_sum(x: Tensor) -> Tensor:
    """The sum of ``x`` over all ranks, on every rank, differentiably (a collective: every rank
    must call it, in the same order).

    Example:
        >>> all_reduce_sum(cr.ones(2))   # doctest: +SKIP
        tensor([2., 2.])                  # in 2 processes
    """
    return AllReduceSum.apply(x)


def sync_batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
                    weight: Tensor | None, bias: Tensor | None, momentum: float = 0.1,
                    eps: float = 1e-5) -> Tensor:
    """Training-mode batch normalization over dimension 1 with the statistics of all ranks'
    inputs: μ = Σ_ranks Σ x / n, σ² = Σ_ranks Σ (x − μ)² / n (n: the values per channel over
    all ranks), y = γ·(x − μ)/√(σ² + ε) + β; the running statistics are updated as
    ``batch_norm`` updates them, with the unbiased σ²·n/(n − 1). A collective.

    Shape: input (N, C, *) (N may differ across ranks); running stats, weight, bias (C,).
    """
    channels = input.shape[1]
    for name, tensor in (("running_mean", running_mean), ("running_var", running_var),
                         ("weight", weight), ("bias", bias)):
        if tensor is not None and tensor.dtype != input.dtype:
            raise TypeError(f"sync_batch_norm: input dtype {input.dtype} does not match {name} "
                            f"dtype {tensor.dtype}; convert the input (x.float()) or the model "
                            "(model.double())")
    axes = (0,) + tuple(range(2, input.ndim))
    shape = (1, channels) + (1,) * (input.ndim - 2)
    count = int(comm.all_reduce_(np.array([input.data.size // channels], np.int64))[0])
    if count <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {tuple(input.shape)} on this rank and {count} value(s) per "
                         "channel over all ranks")
    mean = all_reduce_sum(input.sum(axes, keepdim=True)) / count
    centered = input - mean
    var = all_reduce_sum((centered * centered).sum(axes, keepdim=True)) / count
    output = centered * (var + eps) ** -0.5
    if weight is not None:
        output = output * weight.reshape(shape)
    if bias is not None:
        output = output + bias.reshape(shape)
    for running, batch in ((running_mean, mean.data), (running_var, var.data * count /
                                                       (count - 1))):
        if running is not None:
            data = running.data
            data *= 1.0 - momentum
            data += (batch.reshape(-1) * momentum).astype(data.dtype, copy=False)
            running._version += 1
    return output


class SyncBatchNorm(_BatchNorm):
    """Batch normalization of (N, C, *) inputs with the batch statistics of all processes.

    Everything else is ``BatchNorm``'s (parameters, buffers, state_dict keys, eval mode with the
    running statistics). In eval mode, or when ``chainrule.distributed`` is not initialized or
    the job has one process, it computes exactly what ``BatchNorm1d``/``BatchNorm2d`` compute.
    In training every rank must run it (it is a collective).

    Args: as ``BatchNorm1d`` (num_features, eps, momentum, affine, track_running_stats, device,
    dtype).

    Example:
        >>> model = SyncBatchNorm.convert_sync_batchnorm(model)   # doctest: +SKIP
    """

    _expected_ndim = (2, 3, 4, 5)

    def _normalize(self, input: Tensor, running_mean, running_var, use_batch_stats: bool,
                   momentum: float) -> Tensor:
        if input.shape[1] != self.num_features:
            raise ValueError(f"SyncBatchNorm: expected {self.num_features} channels, got input "
                             f"of shape {tuple(input.shape)}")
        if not use_batch_stats or not comm.is_initialized() or comm.world_size() == 1:
            return super()._normalize(input, running_mean, running_var, use_batch_stats,
                                      momentum)
        return sync_batch_norm(input, running_mean, running_var, self.weight, self.bias,
                               momentum, self.eps)

    @classmethod
    def convert_sync_batchnorm(cls, module: Module) -> Module:
        """``module`` with every ``BatchNorm1d``/``BatchNorm2d`` replaced by a ``SyncBatchNorm``
        that holds the same parameters and buffers (the same Tensors, so an optimizer built
        before still updates them); returns the converted module (a new one when ``module``
        is itself a batch norm).
        """
        if isinstance(module, _BatchNorm) and not isinstance(module, cls):
            converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats, dtype=_dtype_of(module))
            for table in ("_parameters", "_buffers"):
                getattr(converted, table).update(getattr(module, table))
            converted.train(module.training)
            return converted
        for name, child in list(module._modules.items()):
            if child is not None:
                module._modules[name] = cls.convert_sync_batchnorm(child)  # keeps the order
        return module


def _dtype_of(module: _BatchNorm):
    tensors = [t for t in (module.weight, module.running_mean) if t is not None]
    return tensors[0].dtype if tensors else None
