"""``DistributedSampler``: each rank a distinct shard of the dataset, reshuffled every epoch."""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from chainrule.data.loader import DataLoader
from chainrule.distributed import comm

__all__ = ["DistributedSampler", "distribute_loader"]


def _whole(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"DistributedSampler: {name} must be a whole number >= {minimum}, got "
                         f"{value!r}")
    return int(value)


class DistributedSampler:
    """The dataset positions one rank visits each epoch, for ``DataLoader(sampler=...)``.

    Epoch ``e``'s order is the permutation ``numpy.random.default_rng([seed, e])`` draws (with
    ``shuffle``; ``0..n-1`` without) — the order of ``DataLoader(shuffle=True, seed=seed)`` —
    made a multiple of ``num_replicas`` long, by repeating its first positions (the default) or
    dropping its last ones (``drop_last=True``); rank ``r`` takes every ``num_replicas``-th
    position from ``r``. So every rank has the same number of samples and batches (they stay in
    step), and batch ``k`` of all ranks together is batch ``k`` of one process with the
    ``num_replicas`` times larger batch. The ``DataLoader`` sets the epoch from its own count.
    As PyTorch's, except ``pad=False``: no repetition, the first ``n % num_replicas`` ranks get
    one sample more (for evaluation, where ranks need not stay in step).

    Args:
        dataset: a map-style dataset (only its length is used).
        num_replicas, rank: the job's size and this process's rank (default: from
            ``chainrule.distributed``, which must be initialized).
        shuffle, seed, drop_last: as PyTorch's. pad: see above.

    Example:
        >>> sampler = DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False)
        >>> list(sampler), len(sampler)
        ([1, 3, 0], 3)
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False,
                 pad: bool = True) -> None:
        if not hasattr(dataset, "__len__"):
            raise TypeError(f"DistributedSampler needs a dataset with a length, got "
                            f"{type(dataset).__name__}")
        num_replicas = comm.world_size() if num_replicas is None else num_replicas
        rank = comm.rank() if rank is None else rank
        self.num_replicas = _whole("num_replicas", num_replicas, 1)
        self.rank = _whole("rank", rank, 0)
        if self.rank >= self.num_replicas:
            raise ValueError(f"DistributedSampler: rank {rank} is outside 0..{num_replicas - 1} "
                             f"(num_replicas={num_replicas})")
        self.seed = _whole("seed", seed, 0)
        if drop_last and not pad:
            raise ValueError("DistributedSampler: drop_last=True evens the shards by dropping "
                             "samples, pad=False leaves them uneven; choose one")
        self.dataset, self.shuffle = dataset, bool(shuffle)
        self.drop_last, self.pad = bool(drop_last), bool(pad)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s order (the DataLoader calls it at the start of each epoch)."""
        self.epoch = int(epoch)

    @property
    def total_size(self) -> int:
        """How many positions all ranks visit together in one epoch."""
        n, replicas = len(self.dataset), self.num_replicas
        if not self.pad:
            return n
        if self.drop_last:
            return (n // replicas) * replicas
        return math.ceil(n / replicas) * replicas

    def epoch_indices(self, epoch: int) -> np.ndarray:
        """This rank's positions in epoch ``epoch`` (int64)."""
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng([self.seed, int(epoch)]).permutation(n)
        else:
            order = np.arange(n)
        total = self.total_size
        if total > n:  # pad: repeat the order's first positions (several times if it is short)
            order = np.resize(order, total) if n else order
        return order[:total][self.rank::self.num_replicas].astype(np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_indices(self.epoch).tolist())

    def __len__(self) -> int:
        total = self.total_size
        if self.pad:
            return total // self.num_replicas
        return len(range(self.rank, total, self.num_replicas))

    def __repr__(self) -> str:
        return (f"DistributedSampler({len(self.dataset)} samples, rank {self.rank} of "
                f"{self.num_replicas}, {len(self)} here, shuffle={self.shuffle}, "
                f"seed={self.seed}, drop_last={self.drop_last}, pad={self.pad})")


def distribute_loader(loader: DataLoader, shuffle: bool | None = None,
                      pad: bool = True) -> DataLoader:
    """A ``DataLoader`` like ``loader`` (dataset, batch size, transform, collate) over this
    rank's shard: a ``DistributedSampler`` seeded with the loader's seed, shuffling when the
    loader shuffles (or as ``shuffle`` says), with ``pad`` as in ``DistributedSampler``.
    A loader that already has a sampler is returned as it is."""
    if getattr(loader, "sampler", None) is not None:
        return loader
    shuffle = loader.shuffle if shuffle is None else shuffle
    sampler = DistributedSampler(loader.dataset, shuffle=shuffle, seed=loader.seed,
                                 drop_last=loader.drop_last and pad, pad=pad)
    result = DataLoader(loader.dataset, loader.batch_size, sampler=sampler,
                        drop_last=loader.drop_last, transform=loader.transform,
                        seed=loader.seed, collate_fn=loader.collate_fn)
    result.set_epoch(loader.epoch)
    return result
