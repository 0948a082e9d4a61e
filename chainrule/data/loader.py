"""``DataLoader``: batches of a dataset as chainrule Tensors, shuffled reproducibly.

For array-backed datasets (``TensorDataset`` and ``Subset``s of one) a batch is gathered with
one fancy-indexing call per array, ``array[batch_indices]``: no Python loop over samples.
Other datasets are read sample by sample and stacked.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

import numpy as np

from chainrule.creation import from_numpy
from chainrule.data.dataset import Dataset, array_view, as_generator, to_numpy

__all__ = ["DataLoader", "default_collate"]


def _as_tensor(array: np.ndarray):
    """Wrap a NumPy batch as a chainrule Tensor, sharing memory and keeping its dtype."""
    return from_numpy(array)


def _stack_field(values: Sequence[Any]) -> np.ndarray:
    first = values[0]
    if isinstance(first, bool):
        return np.asarray(values, dtype=np.bool_)
    if isinstance(first, int):
        return np.asarray(values, dtype=np.int64)
    if isinstance(first, float):
        return np.asarray(values, dtype=np.float32)  # float32 by default, never float64
    arrays = [to_numpy(v) for v in values]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(
            f"cannot stack samples of different shapes {sorted(shapes)} into one batch; "
            "resize them first (e.g. with a transform) or pass your own collate_fn"
        )
    return np.stack(arrays)


def default_collate(samples: Sequence[Any]) -> tuple[np.ndarray, ...] | np.ndarray:
    """Stack a list of samples into a batch of NumPy arrays, field by field.

    Samples that are tuples ``(x, y, ...)`` give a tuple of stacked arrays; single arrays or
    scalars give one array. Python ints become int64, Python floats float32.

    Example:
        >>> xs, ys = default_collate([(np.zeros(2), 1), (np.ones(2), 0)])
        >>> xs.shape, ys.dtype
        ((2, 2), dtype('int64'))
    """
    if not samples:
        raise ValueError("default_collate got an empty list of samples")
    if isinstance(samples[0], (tuple, list)):
        return tuple(_stack_field(field) for field in zip(*samples))
    return _stack_field(samples)


def _check_batch_size(batch_size: Any) -> int:
    if batch_size is None:
        return 0
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(
            f"batch_size must be an int (0 or None for the whole dataset in one batch), got "
            f"{type(batch_size).__name__}: {batch_size!r}"
        )
    if batch_size < 0:
        raise ValueError(
            f"batch_size must be a positive int, or 0 for the whole dataset in one batch, "
            f"got {batch_size}"
        )
    return int(batch_size)


class DataLoader:
    """Iterate over ``dataset`` in batches of chainrule Tensors.

    Each epoch (each ``iter(loader)``) visits every sample exactly once (minus the last short
    batch with ``drop_last=True``). With ``shuffle=True`` the order of epoch ``e`` is a
    permutation drawn from ``numpy.random.default_rng([seed, e])``: the same seed gives the
    same sequence of epochs, and each epoch differs from the last.

    Args:
        dataset: a map-style dataset; ``TensorDataset`` (or a ``Subset`` of one) is batched
            with one indexing call per array.
        batch_size: samples per batch; ``0`` or ``None`` puts the whole dataset in one batch.
        shuffle: draw a new random order every epoch.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        transform: applied to the input (first element) of each NumPy batch, e.g. a
            ``transforms.Compose``. A transform with ``batch_pair = True`` (MixUp, CutMix) is
            called as ``transform(inputs, targets)`` and returns both.
        seed: seeds the shuffling order; ``None`` draws one from chainrule's global generator
            (so ``chainrule.manual_seed`` makes it reproducible).
        collate_fn: turns a list of samples into a batch; the default stacks each field.
        sampler: the dataset positions to visit, in order, instead of ``shuffle`` (e.g.
            ``chainrule.distributed.DistributedSampler``): anything with ``__len__`` and
            ``__iter__``; one with ``set_epoch`` is told the loader's epoch before each pass.

    Shape:
        Batches are tuples of Tensors ``(inputs (B, ...), targets (B, ...))`` for datasets
        whose samples are tuples, a single Tensor otherwise.

    Example:
        >>> from chainrule.data import TensorDataset
        >>> ds = TensorDataset(np.zeros((10, 3), np.float32), np.arange(10))
        >>> loader = DataLoader(ds, batch_size=4, shuffle=True, seed=0)
        >>> len(loader), [tuple(x.shape) for x, y in loader]
        (3, [(4, 3), (4, 3), (2, 3)])
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int | None = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        transform: Callable | None = None,
        seed: int | None = None,
        collate_fn: Callable | None = None,
        sampler: Any = None,
    ) -> None:
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(
                f"DataLoader needs a map-style dataset with __len__ and __getitem__, got "
                f"{type(dataset).__name__}"
            )
        for name, value in (("transform", transform), ("collate_fn", collate_fn)):
            if value is not None and not callable(value):
                raise TypeError(f"{name} must be callable or None, got {type(value).__name__}")
        if sampler is not None:
            if not hasattr(sampler, "__len__") or not hasattr(sampler, "__iter__"):
                raise TypeError(f"sampler must have __len__ and __iter__ (dataset positions), "
                                f"got {type(sampler).__name__}")
            if shuffle:
                raise ValueError("sampler and shuffle=True both choose the order; pass "
                                 "shuffle=False with a sampler (a DistributedSampler shuffles "
                                 "itself)")
        if seed is None:
            seed = int(as_generator(None).integers(2**63 - 1))
        elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an int or None, got {type(seed).__name__}: {seed!r}")
        self.dataset = dataset
        self.batch_size = _check_batch_size(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.transform = transform
        self.seed = int(seed)
        self.collate_fn = collate_fn
        self.sampler = sampler
        self.epoch = 0

    def _batch_bounds(self) -> list[tuple[int, int]]:
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        size = self.batch_size or n
        if size == 0:
            return []
        stop = n - n % size if self.drop_last else n
        return [(start, min(start + size, n)) for start in range(0, stop, size)]

    def __len__(self) -> int:
        return len(self._batch_bounds())

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter(loader)`` produce the order of epoch ``epoch`` (counted from 0)."""
        self.epoch = int(epoch)

    def epoch_order(self, epoch: int) -> np.ndarray:
        """The order of dataset positions that epoch ``epoch`` visits (int64 array)."""
        if self.sampler is not None:
            if hasattr(self.sampler, "set_epoch"):
                self.sampler.set_epoch(epoch)
            return np.fromiter(iter(self.sampler), dtype=np.int64, count=len(self.sampler))
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n, dtype=np.int64)
        return np.random.default_rng([self.seed, int(epoch)]).permutation(n).astype(np.int64)

    def __iter__(self) -> Iterator:
        order = self.epoch_order(self.epoch)
        self.epoch += 1
        view = None if self.collate_fn is not None else array_view(self.dataset)
        for start, stop in self._batch_bounds():
            positions = order[start:stop]
            if view is not None:
                arrays, row_of = view
                rows = positions if row_of is None else row_of[positions]
                batch = tuple(array[rows] for array in arrays)
                if len(batch) == 1:
                    batch = batch[0]
            else:
                samples = [self.dataset[int(i)] for i in positions]
                batch = (self.collate_fn or default_collate)(samples)
            yield self._finish(batch)

    def _finish(self, batch: Any):
        single = not isinstance(batch, (tuple, list))
        fields = [batch] if single else list(batch)
        if self.transform is not None:
            if getattr(self.transform, "batch_pair", False):
                if len(fields) < 2:
                    raise ValueError(
                        f"{type(self.transform).__name__} needs (inputs, targets) batches, but "
                        "the dataset's samples have a single field; use a dataset of pairs"
                    )
                fields[0], fields[1] = self.transform(to_numpy(fields[0]), to_numpy(fields[1]))
            else:
                fields[0] = self.transform(to_numpy(fields[0]))
        fields = [_as_tensor(f) if isinstance(f, np.ndarray) else f for f in fields]
        return fields[0] if single else tuple(fields)

    def __repr__(self) -> str:
        size = self.batch_size or "full"
        return (
            f"DataLoader({len(self.dataset)} samples, batch_size={size}, shuffle={self.shuffle}, "
            f"drop_last={self.drop_last}, {len(self)} batches)"
        )
