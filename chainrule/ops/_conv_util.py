"""Helpers shared by convolution and pooling: argument pairs, output sizes, window slices and a
pool of reusable scratch buffers."""

from __future__ import annotations

import sys
import threading

import numpy as np

from chainrule.tensor import Tensor


def pair(value, name: str, op: str, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints as a pair, checked against ``minimum``."""
    if isinstance(value, Tensor):
        value = value.tolist()
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value
    ):
        values = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(values) < minimum:
        raise ValueError(f"{op}: {name} must be at least {minimum}, got {value!r}")
    return values


def single(value, name: str, op: str, minimum: int = 1) -> int:
    """An int or a one-element tuple as an int (the 1-d ops' arguments)."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be an int or a 1-tuple of ints, got {value!r}")
    if value < minimum:
        raise ValueError(f"{op}: {name} must be at least {minimum}, got {value!r}")
    return int(value)


def output_size(size: int, kernel: int, stride: int, before: int, after: int,
                dilation: int = 1) -> int:
    """Number of window positions: floor((size + pads - dilation·(kernel-1) - 1) / stride) + 1."""
    return (size + before + after - dilation * (kernel - 1) - 1) // stride + 1


def window_slices(kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int],
                  out_hw: tuple[int, int]) -> list[tuple[slice, slice]]:
    """For each kernel offset (row-major), the strided slices of the padded input it touches."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    return [
        (slice(i * dh, i * dh + sh * (ho - 1) + 1, sh),
         slice(j * dw, j * dw + sw * (wo - 1) + 1, sw))
        for i in range(kh) for j in range(kw)
    ]


def lift(array: np.ndarray) -> np.ndarray:
    """A 1-d op's (N, C, L) array as (N, C, 1, L): the 1-d ops are 2-d ones with height 1."""
    return array if array.ndim == 4 else array[:, :, None, :]


def check_input(x: Tensor, op: str, spatial: int) -> bool:
    """Raise unless ``x`` is a floating tensor (N, C, *spatial) or unbatched (C, *spatial);
    return whether it is batched."""
    batched_layout = "(N, C, H, W)" if spatial == 2 else "(N, C, L)"
    unbatched_layout = "(C, H, W)" if spatial == 2 else "(C, L)"
    if x.ndim not in (spatial + 1, spatial + 2):
        raise ValueError(
            f"{op} expects a {spatial + 2}-D input {batched_layout} (or an unbatched "
            f"{spatial + 1}-D one {unbatched_layout}), got shape {tuple(x.shape)}"
        )
    if x.data.dtype.kind != "f":
        raise TypeError(f"{op} needs a floating-point input, got dtype {x.dtype}; use .float()")
    return x.ndim == spatial + 2


# ---------------------------------------------------------------------------- scratch buffers
class BufferPool:
    """Reusable scratch arrays, so that each training step does not page-fault fresh memory.

    A buffer is handed out again only when nothing but the pool refers to it (its reference count
    says so): columns saved for backward stay busy until the graph releases them. At most
    ``max_per_key`` buffers of one kind and ``max_bytes`` in all are kept; when a new kind does not
    fit, free buffers of other kinds are dropped (batch sizes change at the end of an epoch).
    """

    def __init__(self, max_per_key: int = 4, max_bytes: int = 256 << 20):
        self._buffers: dict[tuple, list[np.ndarray]] = {}
        self._max_per_key = max_per_key
        self._max_bytes = max_bytes
        self._bytes = 0
        self._lock = threading.Lock()

    def take(self, shape: tuple, dtype, tag: str = "", zeros: bool = False) -> np.ndarray:
        """An array of ``shape`` and ``dtype`` that no one else holds.

        Its content is whatever its last user left, except that a newly made one is zeros when
        ``zeros`` is set (callers that only ever write the interior of a padded buffer rely on
        this, and put the padding in ``tag``).
        """
        key = (tag, shape, np.dtype(dtype))
        with self._lock:  # two threads must not both see the same buffer free
            buffers = self._buffers.setdefault(key, [])
            for position, count in enumerate(_refcounts(buffers)):
                if count <= _FREE:
                    return buffers[position]
            buffer = (np.zeros if zeros else np.empty)(shape, dtype)
            if self._bytes + buffer.nbytes > self._max_bytes:
                self._drop_free()
            if len(buffers) < self._max_per_key and self._bytes + buffer.nbytes <= self._max_bytes:
                buffers.append(buffer)
                self._bytes += buffer.nbytes
            return buffer

    def _drop_free(self) -> None:
        for buffers in self._buffers.values():
            kept = [b for b, count in zip(buffers, _refcounts(buffers)) if count > _FREE]
            self._bytes -= sum(b.nbytes for b in buffers) - sum(b.nbytes for b in kept)
            buffers[:] = kept  # in place: take() may hold this very list

    def clear(self) -> None:
        """Forget every buffer (memory is freed once their last users drop them)."""
        with self._lock:
            self._buffers.clear()
            self._bytes = 0


def _refcounts(arrays: list) -> list[int]:
    return [sys.getrefcount(array) for array in arrays]


# The count _refcounts sees for an array that only its list holds (interpreter-dependent).
_FREE = _refcounts([np.empty(1)])[0]

buffers = BufferPool()
