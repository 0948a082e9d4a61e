"""Functions that create tensors: ``tensor``, ``zeros``, ``randn``, ..."""

from __future__ import annotations

import numpy as np

from chainrule import backend
from chainrule.tensor import Tensor


def _shape(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"sizes must be non-negative integers, got {tuple(size)}")
    return tuple(int(s) for s in size)


def _new(array: np.ndarray, requires_grad: bool) -> Tensor:
    tensor = Tensor._make(array)
    if requires_grad:
        tensor.requires_grad_(True)
    return tensor


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data``.

    Floating data becomes float32 unless ``dtype`` is given (also for float64 ndarrays and
    Python floats); integers become int64; bools stay bool.

    Example:
        >>> import chainrule as cr
        >>> cr.tensor([[1, 2], [3, 4]]).dtype
        dtype('int64')
    """
    if isinstance(data, Tensor):
        data = data.data
    array = backend.as_array(data, dtype)
    if array is data or (isinstance(data, np.ndarray) and np.shares_memory(array, data)):
        array = array.copy()
    return _new(array, requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor that shares memory with ``array`` and keeps its dtype."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    return Tensor._make(array)


def zeros(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return _new(backend.zeros(_shape(size), dtype), requires_grad)


def ones(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return _new(backend.ones(_shape(size), dtype), requires_grad)


def full(size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (float32 for a Python float)."""
    size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    return _new(backend.full(_shape(size), fill_value, dtype), requires_grad)


def empty(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """An uninitialized tensor (its values are whatever the memory held)."""
    return _new(backend.empty(_shape(size), dtype), requires_grad)


def zeros_like(other: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and dtype, unless given) of ``other``."""
    return _new(np.zeros(other.shape, dtype=backend.resolve_dtype(dtype) or other.dtype),
                requires_grad)


def ones_like(other: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and dtype, unless given) of ``other``."""
    return _new(np.ones(other.shape, dtype=backend.resolve_dtype(dtype) or other.dtype),
                requires_grad)


def full_like(other: Tensor, fill_value, dtype=None) -> Tensor:
    """``fill_value`` everywhere, with the shape (and dtype, unless given) of ``other``."""
    return _new(np.full(other.shape, fill_value, dtype=backend.resolve_dtype(dtype) or other.dtype),
                False)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` (excluded) by ``step``; int64 for integer arguments."""
    return _new(backend.arange(start, end, step, dtype), requires_grad)


def linspace(start, end, steps: int, dtype=None, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` (both included)."""
    return _new(backend.linspace(start, end, steps, dtype), requires_grad)


def eye(n: int, m: int | None = None, dtype=None, requires_grad: bool = False) -> Tensor:
    """The identity matrix (n × m)."""
    return _new(backend.eye(n, m, dtype), requires_grad)


def rand(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1), from the generator ``manual_seed`` resets."""
    return _new(backend.rand(_shape(size), dtype), requires_grad)


def randn(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples, from the generator ``manual_seed`` resets."""
    return _new(backend.randn(_shape(size), dtype), requires_grad)


def randint(low: int, high: int | None = None, size=(), dtype=None) -> Tensor:
    """Integers in [low, high) (``randint(high, size)`` as PyTorch also works); int64."""
    if high is None:
        low, high = 0, low
    if isinstance(size, (int, np.integer)):
        size = (size,)
    return _new(backend.randint(low, high, _shape(tuple(size)), dtype), False)


def randperm(n: int) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    return _new(backend.generator().permutation(n).astype(np.int64), False)
