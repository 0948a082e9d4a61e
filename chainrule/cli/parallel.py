"""``chainrule train`` in several processes: under ``mpiexec -n N chainrule train ...`` (or
``chainrule train --nproc N ...``, which starts mpiexec) every process trains on its shard of
the training data with the same model (``chainrule.distributed``); rank 0 alone prints, writes
the run folder and its checkpoints and evaluates the test split.

The batch size is per process (as in PyTorch): N processes with ``--batch-size 32`` take steps
on 32·N samples, with the batch-norm statistics of all of them (``SyncBatchNorm``), as one
process with ``--batch-size`` 32·N would; the validation split is shared out too and its
metrics combined.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from chainrule import distributed
from chainrule.cli.config import SECOND_ORDER, TrainConfig, UsageError
from chainrule.train import callbacks as cb

__all__ = ["Processes", "launch_if_asked", "fail"]


class Processes:
    """This process's place in the job: ``rank``, ``size``, ``lead`` (rank 0, which writes)."""

    def __init__(self) -> None:
        if distributed.launched():
            distributed.init()
            self.rank, self.size = distributed.rank(), distributed.world_size()
        else:
            self.rank, self.size = 0, 1
        self.lead = self.rank == 0

    def check(self, config: TrainConfig) -> None:
        """Refuse what cannot run in several processes."""
        if self.size > 1 and config.optimizer in SECOND_ORDER:
            raise UsageError(f"chainrule train: error: --optimizer {config.optimizer} trains "
                             "full batch with a line search on the loss, which every process "
                             "would see differently; run it in one process (without mpiexec "
                             "or --nproc)")

    def note(self, config: TrainConfig) -> str:
        """The line that says how the job is shared out ('' in one process)."""
        if self.size == 1:
            return ""
        batch = config.batch_size or "its whole shard"
        return (f"\n{self.size} processes (MPI): each trains on 1/{self.size} of the training "
                f"data, batch {batch} per process, gradients averaged, batch-norm statistics "
                "over all processes")

    def prepare(self, model, train_loader, val_loader):
        """(model, train_loader, val_loader) for this process: in a job of several, the model
        with SyncBatchNorm wrapped in DistributedDataParallel and the loaders over this rank's
        shards (the validation shards unpadded, so every sample counts once)."""
        if self.size == 1:
            return model, train_loader, val_loader
        model = distributed.SyncBatchNorm.convert_sync_batchnorm(model)
        model = distributed.DistributedDataParallel(model)
        train_loader = distributed.distribute_loader(train_loader)
        if val_loader is not None:
            val_loader = distributed.distribute_loader(val_loader, pad=False)
        return model, train_loader, val_loader

    def callbacks(self, callbacks: list, outputs: Sequence[Any]) -> list:
        """``callbacks`` with those in ``outputs`` (that print or write files) muted on ranks
        other than 0; the list keeps its length and order, so a checkpoint's callback states
        load into the same places on every rank."""
        if self.lead:
            return callbacks
        return [_Muted(c) if any(c is o for o in outputs) else c for c in callbacks]


class _Muted(cb.Callback):
    """Stands where an output callback stands on rank 0, doing nothing."""

    def __init__(self, callback: cb.Callback) -> None:
        self.order = getattr(callback, "order", 0)


def launch_if_asked(args: Any, argv: Sequence[str]) -> int | None:
    """``--nproc N`` (N > 1) outside mpiexec: run this command line in N processes and return
    the job's exit status; None when this process should train itself."""
    nproc, hostfile = getattr(args, "nproc", None), getattr(args, "hostfile", None)
    if nproc is None:
        if hostfile is not None:
            raise UsageError("chainrule train: error: --hostfile lists the machines for "
                             "--nproc; give --nproc N too")
        return None
    if nproc < 1:
        raise UsageError(f"chainrule train: error: --nproc {nproc} is not accepted: expected a "
                         "number of processes >= 1")
    if distributed.launched():
        size = int(next((os.environ[v] for v in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
                         if v in os.environ), "1"))
        if size != nproc:
            raise UsageError(f"chainrule train: error: --nproc {nproc}, but this is already a "
                             f"job of {size} processes under mpiexec; drop --nproc")
        return None  # a process of the job that --nproc started
    if nproc == 1:
        return None
    if hostfile is not None and not Path(hostfile).is_file():
        raise UsageError(f"chainrule train: error: --hostfile {hostfile}: no such file (MPICH's "
                         "list of machines, one host or host:processes a line)")
    try:
        return distributed.launch(nproc, list(argv), hostfile, program="chainrule train")
    except (FileNotFoundError, ImportError) as error:
        raise UsageError(f"chainrule train: error: {error}") from None


def fail(message: str, status: int) -> None:
    """In a job of several processes, report ``message`` once and stop every process; (every
    rank meets a wrong command line alike). Returns when this process is alone."""
    if distributed.launched():
        distributed.init()
        distributed.abort(message, status, every_rank=True)
