"""Pooling's array kernels: the windows of a PoolSpec as strided slices, padding, the
channels-first memory layout convolutions return, the scatter of values to window positions,
and the 2×2 stride-2 max pool by column and row pairs (``pairs_max``): the max of column pairs,
then of row pairs of those, saving two 0/1 masks (which column of each pair won, which row) in
the input's dtype, so its backward is plain multiplies and subtractions.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from chainrule.ops._conv_util import buffers, window_slices

PoolSpec = namedtuple("PoolSpec", ["kernel", "stride", "dilation", "padding", "in_shape",
                                   "out_hw", "divisor", "channels_first"])
PoolSpec.__doc__ = "A pooling's windows: pairs, (top, bottom, left, right) padding, shapes."


def padded_hw(spec: PoolSpec) -> tuple[int, int]:
    """The input's (height, width) with its padding."""
    pt, pb, pl, pr = spec.padding
    return spec.in_shape[2] + pt + pb, spec.in_shape[3] + pl + pr


def slices(spec: PoolSpec):
    """The (rows, columns) slices of the padded input that each kernel offset reads."""
    return window_slices(spec.kernel, spec.stride, spec.dilation, spec.out_hw)


def overlapping(spec: PoolSpec) -> bool:
    """Whether two windows can touch the same input element (then scatters must add)."""
    return any(s < d * (k - 1) + 1 for k, s, d in zip(spec.kernel, spec.stride, spec.dilation))


def pad(x: np.ndarray, spec: PoolSpec, value: float) -> np.ndarray:
    """``x`` with the spec's padding of ``value`` around each image (``x`` itself without)."""
    pt, pb, pl, pr = spec.padding
    if not (pt or pb or pl or pr):
        return x
    n, c, h, w = x.shape
    padded = empty((n, c, h + pt + pb, w + pl + pr), x.dtype, spec)
    padded.fill(value)
    padded[:, :, pt:pt + h, pl:pl + w] = x
    return padded


def like(out: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``out`` back to 3-D when the op was called on (N, C, L) arrays."""
    return out[:, :, 0] if reference.ndim == 3 else out


def matching(array: np.ndarray, spec: PoolSpec) -> np.ndarray:
    """``array`` in the memory layout of the pooled input: one copy is ~4x cheaper than the
    mismatched strided loops it saves (a gradient arriving from Flatten is (N, C, H, W))."""
    if array.ndim != 4 or channels_first(array) == spec.channels_first:
        return array
    matched = empty(array.shape, array.dtype, spec)
    np.copyto(matched, array)
    return matched


def channels_first(x: np.ndarray) -> bool:
    """Whether an (N, C, H, W) array is stored channels first, (C, N, H, W), as convolutions
    return them (the order of strides decides; a crop of such an array still counts)."""
    return x.shape[0] > 1 and x.shape[1] > 1 and x.strides[1] > x.strides[0]


def empty(shape: tuple, dtype, spec: PoolSpec, tag: str = "") -> np.ndarray:
    """An (N, C, H, W) array laid out as the pooled input was, so that elementwise loops over it
    and the arrays around it (ReLU masks, winners) run over matching strides; with a ``tag``, a
    reused one from the scratch pool (busy while anyone holds it)."""
    stored = (shape[1], shape[0]) + tuple(shape[2:]) if spec.channels_first else tuple(shape)
    array = buffers.take(stored, dtype, tag) if tag else np.empty(stored, dtype)
    return array.transpose(1, 0, 2, 3) if spec.channels_first else array


def scatter(values: np.ndarray, masks, spec: PoolSpec) -> np.ndarray:
    """Σ over kernel offsets k of values·masks(k) placed at the input positions that offset k
    reads (masks None: values alone); cropped to the input."""
    n, c, h, w = spec.in_shape
    pt, pb, pl, pr = spec.padding
    padded = empty((n, c) + padded_hw(spec), values.dtype, spec)
    adds = overlapping(spec)
    covered = tuple(spec.stride) == tuple(spec.kernel) and spec.dilation == (1, 1) and all(
        o * s == size for o, s, size in zip(spec.out_hw, spec.stride, padded_hw(spec)))
    if adds or not covered:
        padded.fill(0)
    for k, (rows, columns) in enumerate(slices(spec)):
        target = padded[:, :, rows, columns]
        mask = None if masks is None else masks(k)
        if adds:
            target += values if mask is None else values * mask
        elif mask is None:
            target[...] = values
        else:
            np.multiply(values, mask, out=target)
    return padded[:, :, pt:pt + h, pl:pl + w]


# ---------------------------------------------------------------------------- 2×2 max pooling
Pairs = namedtuple("Pairs", ["rows", "columns"])
Pairs.__doc__ = ("The winners of a 2×2 stride-2 max pool: rows (N, C, Ho, Wo) is 1 where the "
                 "bottom row won, columns (N, C, 2·Ho, Wo) 1 where the right column of a pair won.")


def pairs(spec: PoolSpec) -> bool:
    """Whether the windows are the 2×2 tiles of a stride-2 pool without padding."""
    return spec.kernel == (2, 2) and spec.stride == (2, 2) and spec.dilation == (1, 1) and \
        not any(spec.padding)


def pairs_max(x: np.ndarray, spec: PoolSpec, recording: bool):
    """Max of column pairs, then of row pairs; ties go to the left column and then the top
    row, which is the first maximum in row-major order (as PyTorch)."""
    (n, c), (ho, wo) = x.shape[:2], spec.out_hw
    tiles = x[:, :, :2 * ho, :2 * wo]  # a last odd row or column belongs to no window
    left, right = tiles[..., 0::2], tiles[..., 1::2]
    half = empty((n, c, 2 * ho, wo), x.dtype, spec, "pairs_half")
    np.maximum(left, right, out=half)
    top, bottom = half[:, :, 0::2], half[:, :, 1::2]
    out = np.maximum(top, bottom, out=empty((n, c, ho, wo), x.dtype, spec, "pairs_out"))
    if not recording:
        return out, None
    columns = np.greater(right, left, out=empty(half.shape, x.dtype, spec, "pairs_columns"),
                         casting="unsafe")
    rows = np.greater(bottom, top, out=empty(out.shape, x.dtype, spec, "pairs_rows"),
                      casting="unsafe")
    return out, Pairs(rows, columns)


def pairs_scatter(grad_output: np.ndarray, winners: Pairs, spec: PoolSpec) -> np.ndarray:
    """The gradient routed to the winners: g·m and g - g·m are exact for a 0/1 mask m."""
    (n, c, h, w), (ho, wo) = spec.in_shape, spec.out_hw
    half = empty((n, c, 2 * ho, wo), grad_output.dtype, spec, "pairs_grad_half")
    bottom = np.multiply(grad_output, winners.rows, out=half[:, :, 1::2])
    np.subtract(grad_output, bottom, out=half[:, :, 0::2])
    grad = empty((n, c, h, w), grad_output.dtype, spec, "pairs_grad")
    grad[:, :, 2 * ho:] = 0
    grad[..., 2 * wo:] = 0
    right = np.multiply(half, winners.columns, out=grad[:, :, :2 * ho, 1:2 * wo:2])
    np.subtract(half, right, out=grad[:, :, :2 * ho, 0:2 * wo:2])
    return grad


def pairs_offsets(winners: Pairs) -> np.ndarray:
    """The winners as kernel offsets 0..3 (row-major), for the gather of the double backward."""
    top, bottom = winners.columns[:, :, 0::2], winners.columns[:, :, 1::2]
    column = top + winners.rows * (bottom - top)  # exact: all of them are 0 or 1
    return (2 * winners.rows + column).astype(np.uint8)
