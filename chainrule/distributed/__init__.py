"""Data-parallel training over processes and machines, on MPI (mpi4py; ``pip install
'chainrule[distributed]'`` brings mpi4py and MPICH's ``mpiexec``).

Every process runs the same program on its own shard of the data; ``DistributedDataParallel``
averages the gradients after each backward, ``DistributedSampler`` gives each process its
shard, ``SyncBatchNorm`` takes batch statistics over all processes. ``fit`` and
``chainrule train`` work unchanged under ``mpiexec -n N`` (``chainrule train --nproc N``
starts mpiexec itself). Importing this package does not import mpi4py; ``init()`` does.

Example (``mpiexec -n 2 python3 train.py``):
    >>> from chainrule import distributed, nn, optim                     # doctest: +SKIP
    >>> from chainrule.data import DataLoader
    >>> distributed.init()
    >>> model = distributed.DistributedDataParallel(nn.Linear(4, 2))
    >>> loader = DataLoader(dataset, 32, sampler=distributed.DistributedSampler(dataset))
    >>> fit(model, "cross_entropy", optim.SGD(model.parameters(), 0.1), loader, epochs=3)
"""

from chainrule.distributed.comm import (
    DistributedError, abort, all_gather_object, all_reduce_, barrier, broadcast_, init,
    is_initialized, launched, rank, world_size,
)
from chainrule.distributed.ddp import DistributedDataParallel
from chainrule.distributed.launch import find_mpiexec, launch
from chainrule.distributed.sampler import DistributedSampler, distribute_loader
from chainrule.distributed.sync_batchnorm import SyncBatchNorm, all_reduce_sum, sync_batch_norm

__all__ = [
    "init", "is_initialized", "launched", "rank", "world_size", "barrier", "broadcast_",
    "all_reduce_", "all_gather_object", "abort", "DistributedError", "DistributedDataParallel",
    "DistributedSampler", "distribute_loader", "SyncBatchNorm", "all_reduce_sum",
    "sync_batch_norm", "find_mpiexec", "launch",
]
