"""Map-style datasets: ``Dataset``, ``TensorDataset``, ``Subset``, ``ConcatDataset``, splits.

A dataset is anything with ``__len__`` and ``__getitem__(i)`` returning one sample (a tuple such
as ``(image, label)``). Datasets backed by arrays (``TensorDataset`` and ``Subset``s of it) let the
``DataLoader`` gather a whole batch with one fancy-indexing call instead of a Python loop.
"""

from __future__ import annotations

import bisect
import math
from typing import Any, NamedTuple, Sequence

import numpy as np

from chainrule import backend
from chainrule.creation import from_numpy

__all__ = [
    "DataError",
    "Dataset",
    "TensorDataset",
    "Subset",
    "ConcatDataset",
    "Splits",
    "random_split",
]


class DataError(ValueError):
    """Raised when data on disk or in memory is missing, truncated or malformed.

    The message names the file (or argument), what was expected and what was found.

    Example:
        >>> raise DataError("train.csv, line 3: could not read 'abc' as a number")
        Traceback (most recent call last):
        ...
        chainrule.data.dataset.DataError: train.csv, line 3: could not read 'abc' as a number
    """


def to_numpy(value: Any) -> np.ndarray:
    """Return the NumPy array behind a chainrule Tensor, or ``np.asarray(value)`` otherwise."""
    if isinstance(value, np.ndarray):
        return value
    data = getattr(value, "data", None)
    if isinstance(data, np.ndarray):  # a chainrule Tensor: share its memory
        return data
    return np.asarray(value)


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A NumPy Generator from an int seed, a Generator, or chainrule's global one (None)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return backend.generator()
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(
            f"seed must be an int, a numpy.random.Generator or None, got "
            f"{type(seed).__name__}: {seed!r}"
        )
    return np.random.default_rng(int(seed))


class Dataset:
    """Base class of map-style datasets: subclasses define ``__len__`` and ``__getitem__``.

    ``dataset[i]`` returns one sample, usually a tuple ``(input, target)`` of NumPy arrays or
    scalars. ``a + b`` concatenates two datasets.

    Example:
        >>> class Squares(Dataset):
        ...     def __len__(self): return 4
        ...     def __getitem__(self, i): return (np.float32(i), np.float32(i * i))
        >>> len(Squares()), Squares()[3]
        (4, (np.float32(3.0), np.float32(9.0)))
    """

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index: int):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


def _check_index(index, length: int, owner: str) -> int:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(
            f"{owner} index must be an int, got {type(index).__name__}: {index!r}; "
            "use a DataLoader or Subset to take many samples"
        )
    index = int(index)
    if not -length <= index < length:
        raise IndexError(f"{owner} index {index} is out of range for a dataset of {length} samples")
    return index + length if index < 0 else index


class TensorDataset(Dataset):
    """A dataset of equal-length arrays: sample ``i`` is ``tuple(a[i] for a in arrays)``.

    Args:
        *arrays: NumPy arrays or chainrule Tensors, all with the same first dimension
            (e.g. images ``(N, C, H, W)`` and labels ``(N,)``). Memory is shared, not copied.
        num_classes: number of classes for classification data, ``None`` otherwise.
        classes: optional class names, ``classes[k]`` names label ``k``.
        name: a short name shown in ``repr`` (e.g. ``"digits/train"``).

    Attributes:
        arrays: the tuple of NumPy arrays. ``input_shape`` is ``arrays[0].shape[1:]``.

    Example:
        >>> ds = TensorDataset(np.zeros((5, 3), np.float32), np.arange(5))
        >>> len(ds), ds[2][1], ds.input_shape
        (5, np.int64(2), (3,))
    """

    def __init__(
        self,
        *arrays: Any,
        num_classes: int | None = None,
        classes: Sequence[str] | None = None,
        name: str | None = None,
    ) -> None:
        if not arrays:
            raise ValueError("TensorDataset needs at least one array, got none")
        arrays = tuple(to_numpy(a) for a in arrays)
        for position, array in enumerate(arrays):
            if array.ndim == 0:
                raise ValueError(
                    f"TensorDataset array {position} is a scalar; every array needs a first "
                    "(sample) dimension"
                )
        lengths = [len(a) for a in arrays]
        if len(set(lengths)) != 1:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(
                f"TensorDataset arrays must all have the same length (first dimension), got "
                f"lengths {lengths} (shapes {shapes}); slice them to the same number of samples"
            )
        self.arrays = arrays
        self.num_classes = num_classes
        self.classes = list(classes) if classes is not None else None
        self.name = name

    @property
    def tensors(self) -> tuple:
        """The arrays as chainrule Tensors (sharing memory), as in PyTorch's ``TensorDataset``."""
        return tuple(from_numpy(a) for a in self.arrays)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input sample: ``arrays[0].shape[1:]``."""
        return tuple(self.arrays[0].shape[1:])

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: int) -> tuple:
        index = _check_index(index, len(self), "TensorDataset")
        return tuple(a[index] for a in self.arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{a.shape} {a.dtype}" for a in self.arrays)
        name = f"{self.name!r}, " if self.name else ""
        return f"TensorDataset({name}{len(self)} samples: {shapes})"


class Subset(Dataset):
    """The samples of ``dataset`` at the given ``indices``, in that order.

    Args:
        dataset: any map-style dataset.
        indices: a sequence or 1-D integer array of positions in ``dataset``.

    Example:
        >>> ds = TensorDataset(np.arange(10))
        >>> sub = Subset(ds, [7, 2])
        >>> len(sub), sub[0]
        (2, (np.int64(7),))
    """

    def __init__(self, dataset: Dataset, indices: Sequence[int] | np.ndarray) -> None:
        indices = np.asarray(indices)
        if indices.size == 0:
            indices = indices.astype(np.int64)
        if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(
                f"Subset indices must be a 1-D sequence of ints, got shape {indices.shape} "
                f"dtype {indices.dtype}"
            )
        n = len(dataset)
        if indices.size and (indices.min() < -n or indices.max() >= n):
            bad = indices[(indices < -n) | (indices >= n)][0]
            raise IndexError(
                f"Subset index {int(bad)} is out of range for a dataset of {n} samples"
            )
        self.dataset = dataset
        self.indices = np.where(indices < 0, indices + n, indices).astype(np.int64)

    @property
    def num_classes(self) -> int | None:
        """``num_classes`` of the underlying dataset (``None`` when it has none)."""
        return getattr(self.dataset, "num_classes", None)

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        """``input_shape`` of the underlying dataset (``None`` when it has none)."""
        return getattr(self.dataset, "input_shape", None)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int):
        index = _check_index(index, len(self), "Subset")
        return self.dataset[int(self.indices[index])]

    def __repr__(self) -> str:
        return f"Subset({len(self)} of {self.dataset!r})"


class ConcatDataset(Dataset):
    """The datasets one after another: samples of ``datasets[0]``, then ``datasets[1]``, ...

    Example:
        >>> both = ConcatDataset([TensorDataset(np.arange(3)), TensorDataset(np.arange(5))])
        >>> len(both), both[4]
        (8, (np.int64(1),))
    """

    def __init__(self, datasets: Sequence[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset needs at least one dataset, got an empty list")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int):
        index = _check_index(index, len(self), "ConcatDataset")
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][index - start]


def array_view(dataset: Dataset) -> tuple[tuple[np.ndarray, ...], np.ndarray | None] | None:
    """``(arrays, indices)`` when ``dataset`` is array-backed (TensorDataset or Subsets of one).

    ``indices`` maps the dataset's positions to rows of the arrays (``None`` = identity).
    Returns ``None`` for any other dataset, which the loader then reads sample by sample.
    """
    if isinstance(dataset, TensorDataset):
        return dataset.arrays, None
    if isinstance(dataset, Subset):
        inner = array_view(dataset.dataset)
        if inner is None:
            return None
        arrays, inner_indices = inner
        indices = dataset.indices if inner_indices is None else inner_indices[dataset.indices]
        return arrays, indices
    return None


class Splits(NamedTuple):
    """The ``(train, test)`` pair every bundled dataset function returns.

    Example:
        >>> from chainrule.data.datasets import moons
        >>> train, test = moons(n_samples=100)
        >>> len(train) + len(test)
        100
    """

    train: TensorDataset
    test: TensorDataset


def _split_lengths(lengths: Sequence[int | float], total: int) -> list[int]:
    values = list(lengths)
    if not values:
        raise ValueError("random_split needs at least one length or fraction, got none")
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        if any(v < 0 for v in values) or sum(values) != total:
            raise ValueError(
                f"random_split lengths {values} must be non-negative and sum to the dataset "
                f"length {total} (they sum to {sum(values)})"
            )
        return [int(v) for v in values]
    if any(isinstance(v, bool) or not isinstance(v, (int, float, np.number)) for v in values):
        raise TypeError(f"random_split lengths must be ints or fractions, got {values!r}")
    if any(not 0 <= v <= 1 for v in values) or not math.isclose(sum(values), 1.0, abs_tol=1e-6):
        raise ValueError(
            f"random_split fractions {values} must each lie in [0, 1] and sum to 1 "
            f"(they sum to {sum(values)}); or pass integer lengths summing to {total}"
        )
    counts = [int(math.floor(total * v)) for v in values]
    for k in range(total - sum(counts)):  # hand out the remainder round-robin, as PyTorch does
        counts[k % len(counts)] += 1
    return counts


def random_split(
    dataset: Dataset,
    lengths: Sequence[int | float],
    generator: int | np.random.Generator | None = None,
) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given sizes.

    Args:
        dataset: the dataset to split.
        lengths: integer lengths summing to ``len(dataset)``, or fractions summing to 1
            (the remainder of ``floor(n * f)`` is handed out one by one from the first part).
        generator: an int seed, a ``numpy.random.Generator``, or ``None`` for chainrule's
            global generator (reset by ``chainrule.manual_seed``).

    Example:
        >>> train, val = random_split(TensorDataset(np.arange(10)), [0.8, 0.2], generator=0)
        >>> len(train), len(val)
        (8, 2)
    """
    counts = _split_lengths(lengths, len(dataset))
    order = as_generator(generator).permutation(len(dataset))
    bounds = np.cumsum([0] + counts)
    return [Subset(dataset, order[start:stop]) for start, stop in zip(bounds[:-1], bounds[1:])]
