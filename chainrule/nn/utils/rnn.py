"""Variable-length batches for the recurrent layers, with PyTorch's semantics: ``pad_sequence``,
``pack_padded_sequence``, ``pad_packed_sequence``, ``pack_sequence`` and ``PackedSequence``.

A packed batch holds the sequences sorted by decreasing length, time step by time step: the
rows of step t are the first ``batch_sizes[t]`` sequences at that step. A recurrent layer given
one runs each sequence only up to its end, so its ``h_n`` is the state at the sequence's last
element (for the reverse direction: at its first, having started at its last).

Example:
    >>> import chainrule as cr
    >>> from chainrule.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    >>> packed = pack_padded_sequence(cr.ones(4, 2, 3), [4, 2])
    >>> packed.batch_sizes.tolist()
    [2, 2, 1, 1]
    >>> padded, lengths = pad_packed_sequence(packed)
    >>> padded.shape, lengths.tolist()
    ((4, 2, 3), [4, 2])
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from chainrule.ops._util import as_tensor
from chainrule.ops.indexing import getitem
from chainrule.ops.shape import cat
from chainrule.tensor import Tensor

__all__ = ["PackedSequence", "pad_sequence", "pack_padded_sequence", "pad_packed_sequence",
           "pack_sequence"]


class PackedSequence(NamedTuple):
    """A packed batch: ``data`` (sum of lengths, *), ``batch_sizes`` (int64, one per step),
    ``sorted_indices`` (the batch order by decreasing length, or None when the batch was already
    sorted) and ``unsorted_indices`` (its inverse)."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None


def _int64(values) -> Tensor:
    return Tensor._make(np.asarray(values, dtype=np.int64))


def _lengths_array(lengths, op: str) -> np.ndarray:
    values = lengths.data if isinstance(lengths, Tensor) else np.asarray(lengths)
    if values.ndim != 1 or values.dtype.kind not in "iu":
        raise ValueError(f"{op}: lengths must be a 1-D list or tensor of ints, got "
                         f"{values.dtype} of shape {values.shape}")
    if values.size and values.min() <= 0:
        raise ValueError(f"{op}: every length must be greater than 0, got {values.tolist()}")
    return values.astype(np.int64)


def batch_sizes_of(lengths: np.ndarray) -> np.ndarray:
    """The number of sequences still running at each step, for lengths sorted decreasing."""
    steps = int(lengths.max()) if lengths.size else 0
    return (lengths[None, :] > np.arange(steps)[:, None]).sum(axis=1).astype(np.int64)


def packed_positions(batch_sizes) -> tuple[np.ndarray, np.ndarray]:
    """(time, batch) of each row of a packed batch's data."""
    sizes = np.asarray(batch_sizes, dtype=np.int64)
    times = np.repeat(np.arange(len(sizes)), sizes)
    rows = np.concatenate([np.arange(n) for n in sizes]) if len(sizes) else np.zeros(0, np.int64)
    return times, rows.astype(np.int64)


def padded_to_packed(padded: Tensor, batch_sizes) -> Tensor:
    """A time-first (T, B, *) batch, sorted by decreasing length, as packed data."""
    times, rows = packed_positions(batch_sizes)
    return getitem(padded, (times, rows))


def packed_to_padded(data: Tensor, batch_sizes, padding_value: float = 0.0,
                     total_length: int | None = None) -> Tensor:
    """Packed data as a time-first (T, B, *) batch, ``padding_value`` past each sequence."""
    sizes = np.asarray(batch_sizes, dtype=np.int64)
    steps = len(sizes) if total_length is None else total_length
    batch = int(sizes[0]) if len(sizes) else 0
    index = np.full((steps, batch), data.shape[0], dtype=np.int64)  # the padding row
    times, rows = packed_positions(sizes)
    index[times, rows] = np.arange(len(times))
    pad_row = Tensor._make(np.full((1,) + tuple(data.shape[1:]), padding_value, data.dtype))
    return getitem(cat([data, pad_row], 0), index)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack tensors of shapes (L_i, *) into (T, B, *) (``batch_first``: (B, T, *)), T the
    longest length, filling with ``padding_value`` (after each sequence, or before it with
    ``padding_side='left'``), as ``torch.nn.utils.rnn.pad_sequence``.

    Example:
        >>> import chainrule as cr
        >>> pad_sequence([cr.ones(2), cr.ones(3)], batch_first=True).tolist()
        [[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]
    """
    sequences = [as_tensor(s) for s in sequences]
    if not sequences:
        raise ValueError("pad_sequence: expected a non-empty list of tensors")
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got "
                         f"{padding_side!r}")
    trailing = tuple(sequences[0].shape[1:])
    for position, s in enumerate(sequences):
        if s.ndim == 0 or tuple(s.shape[1:]) != trailing:
            raise ValueError(
                f"pad_sequence: every sequence must have shape (L, {', '.join(map(str, trailing))})"
                f" like sequence 0 {tuple(sequences[0].shape)}; sequence {position} has "
                f"{tuple(s.shape)}")
    lengths = [s.shape[0] for s in sequences]
    steps, total = max(lengths), sum(lengths)
    index = np.full((len(sequences), steps), total, dtype=np.int64)
    start = 0
    for b, length in enumerate(lengths):
        offset = steps - length if padding_side == "left" else 0
        index[b, offset:offset + length] = np.arange(start, start + length)
        start += length
    dtype = sequences[0].dtype
    pad_row = Tensor._make(np.full((1,) + trailing, padding_value, dtype))
    stacked = cat([s if s.dtype == dtype else s.to(dtype) for s in sequences] + [pad_row], 0)
    return getitem(stacked, index if batch_first else index.T)


def pack_padded_sequence(input, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) (``batch_first``: (B, T, *)) of sequences of ``lengths``,
    as ``torch.nn.utils.rnn.pack_padded_sequence``; with ``enforce_sorted=False`` the lengths
    may come in any order (the batch is sorted inside, and the order kept in the result)."""
    input = as_tensor(input)
    lengths = _lengths_array(lengths, "pack_padded_sequence")
    batch_dim = 0 if batch_first else 1
    if input.ndim < 2 or input.shape[batch_dim] != len(lengths):
        raise ValueError(
            f"pack_padded_sequence: the input of shape {tuple(input.shape)} has "
            f"{input.shape[batch_dim] if input.ndim >= 2 else 'no'} sequences along dimension "
            f"{batch_dim} (batch_first={batch_first}), but {len(lengths)} lengths were given")
    steps = input.shape[1 - batch_dim]
    if lengths.size and lengths.max() > steps:
        raise ValueError(f"pack_padded_sequence: a length of {int(lengths.max())} is longer than "
                         f"the padded input's {steps} steps")
    sorted_indices = unsorted_indices = None
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise RuntimeError(
                f"pack_padded_sequence: `lengths` {lengths.tolist()} must be sorted in decreasing "
                "order when enforce_sorted is True; pass enforce_sorted=False to pack an unsorted "
                "batch")
    else:
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        sorted_indices = _int64(order)
        unsorted_indices = _int64(np.argsort(order))
        input = getitem(input, (order,) if batch_first else (slice(None), order))
    time_first = input if not batch_first else input.transpose(0, 1)
    batch_sizes = batch_sizes_of(lengths)
    return PackedSequence(padded_to_packed(time_first, batch_sizes), _int64(batch_sizes),
                          sorted_indices, unsorted_indices)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length: int | None = None) -> tuple:
    """The inverse of ``pack_padded_sequence``: ``(padded, lengths)`` in the original batch
    order, padded to the longest sequence (or to ``total_length`` steps)."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence expects a PackedSequence, got "
                        f"{type(sequence).__name__}")
    sizes = sequence.batch_sizes.data.astype(np.int64)
    if total_length is not None and total_length < len(sizes):
        raise ValueError(f"pad_packed_sequence: total_length={total_length} is shorter than the "
                         f"longest sequence ({len(sizes)} steps)")
    padded = packed_to_padded(sequence.data, sizes, padding_value, total_length)
    batch = int(sizes[0]) if len(sizes) else 0
    lengths = (sizes[None, :] > np.arange(batch)[:, None]).sum(axis=1)
    if sequence.unsorted_indices is not None:
        order = sequence.unsorted_indices.data
        padded = getitem(padded, (slice(None), order))
        lengths = lengths[order]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, _int64(lengths)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of tensors (L_i, *) directly (``pad_sequence`` then ``pack_padded_sequence``).

    Example:
        >>> import chainrule as cr
        >>> pack_sequence([cr.ones(3), cr.ones(2)]).batch_sizes.tolist()
        [2, 2, 1]
    """
    lengths = [as_tensor(s).shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)

