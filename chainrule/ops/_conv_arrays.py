"""The convolutions' array kernels: columns (im2col), their adjoint (col2im) and the products.

Columns come in one of two layouts, picked per call from the shapes (``plan``):

- plain: (C·kh·kw, N·Ho·Wo), built from a padded (C, N, Hp, Wp) copy with kh·kw strided slice
  copies (any stride, dilation, groups). For small outputs (``use_batch_last``: a strided layer
  late in a network, a 1-d layer of a few positions) the batch goes last instead: columns
  (C·kh·kw, Ho·Wo·N) from a padded (C, Hp, Wp, N) copy, so that each slice copy and col2im add
  runs along the batch rather than restarting for every short output row (2.5x faster at the
  MNIST-1D CNN's (100, 25, 19) layer). The output is then stored (O, Ho, Wo, N), and the next
  such layer reads it without a gather;
- flat, for stride 1: the input is copied into one flat row per channel in which images follow
  each other with a shared zero border (``gap_h`` rows, ``gap_w`` columns). Kernel offset (i, j)
  is then the same flat row shifted by ``i·dh·row + j·dw``, so the columns are kh·kw contiguous
  copies and col2im kh·kw contiguous adds. The product computes an output at every position of
  the flat grid, (H + gap_h)·(W + gap_w) per image instead of Ho·Wo (~1.15x the multiply-adds
  at 14×14), and the valid (Ho, Wo) block is a view of it. The output gradient goes into the
  same grid with zeros at the positions that are not outputs, so the weight and input gradients
  need no mask.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from chainrule import threads
from chainrule.ops._conv_util import buffers, window_slices
from chainrule.ops._util import ones_vector

Plan = namedtuple("Plan", ["in_shape", "kernel", "geometry", "out_hw", "flat", "gap_h", "row",
                           "image", "start", "shifts", "length", "batch_last"])
Plan.__doc__ = ("Where a convolution's columns live: the shapes, for the flat layout its "
                "grid (row and image strides, where the first image starts, the kernel "
                "offsets' shifts, the flat row's length), and whether the plain layout keeps "
                "the batch last.")

#: Weight gradients with at most this many column rows (C·kh·kw) go sample by sample.
FEW_ROWS = 32
#: The flat layout is used while its grid has at most this many positions per output.
FLAT_OVERHEAD = 1.5
#: The plain layout keeps the batch last when an image has at most this many outputs.
SMALL_OUTPUT = 64


def shape4(shape: tuple) -> tuple:
    """A 1-d op's (N, C, L) shape as (N, C, 1, L)."""
    return tuple(shape) if len(shape) == 4 else (shape[0], shape[1], 1, shape[2])


def plan(in_shape: tuple, kernel: tuple, geometry, out_hw: tuple) -> Plan:
    """The layout of a convolution of an input of ``in_shape`` (N, C, H, W) by ``kernel``."""
    n, c, h, w = in_shape
    (kh, kw), (dh, dw) = kernel, geometry.dilation
    pt, pb, pl, pr = geometry.padding
    # A gap between images (rows) and between image rows (columns) serves as the bottom or right
    # padding of one and the top or left padding of the next, and holds the whole output grid.
    gap_h = max(pt, pb, out_hw[0] - h)
    gap_w = max(pl, pr, out_hw[1] - w)
    row, image = w + gap_w, (h + gap_h) * (w + gap_w)
    flat = use_flat(in_shape, kernel, geometry, image / max(1, out_hw[0] * out_hw[1]))
    shifts = tuple(i * dh * row + j * dw for i in range(kh) for j in range(kw))
    start = pt * row + pl
    length = max(start + n * image, n * image + shifts[-1])
    return Plan(in_shape, kernel, geometry, out_hw, flat, gap_h, row, image, start, shifts,
                length, not flat and use_batch_last(in_shape, kernel, out_hw))


def use_flat(in_shape: tuple, kernel: tuple, geometry, overhead: float) -> bool:
    """Whether the flat layout wins: stride 1, more than ``FEW_ROWS`` column rows (a first layer
    is faster with the plain layout's per-sample weight gradient) and a grid not too large."""
    rows = in_shape[1] * kernel[0] * kernel[1]
    return geometry.stride == (1, 1) and rows > FEW_ROWS and overhead <= FLAT_OVERHEAD


def use_batch_last(in_shape: tuple, kernel: tuple, out_hw: tuple) -> bool:
    """Whether the plain layout orders its columns (Ho, Wo, N) instead of (N, Ho, Wo): for small
    outputs (a strided layer late in a network, the layers of a 1-d network) of a batch at least
    twice as long as an output row, so that every slice copy and add runs along the batch
    instead of restarting for each short row. Its weight gradient is one product with the output
    gradient's rows, which a batch-last network hands over without a copy."""
    positions = out_hw[0] * out_hw[1]
    return positions <= SMALL_OUTPUT and in_shape[0] >= 2 * out_hw[1]


def _grid(flat_rows: np.ndarray, p: Plan, hw: tuple) -> np.ndarray:
    """The (rows, N, hw) block of a (rows, N·image) array laid out on the flat grid."""
    rows = flat_rows.shape[0]
    grid = flat_rows.reshape(rows, p.in_shape[0], p.image // p.row, p.row)
    return grid[:, :, :hw[0], :hw[1]]


def im2col(x: np.ndarray, p: Plan) -> np.ndarray:
    """Columns (C·kh·kw, positions): row (c, i, j) holds input channel c shifted by (i, j)."""
    n, c, h, w = x.shape
    kh, kw = p.kernel
    if p.flat:
        # Only the images are ever written, so the zero gaps of a reused buffer stay zero.
        flat = buffers.take((c, p.length), x.dtype, f"flat{p}", zeros=True)
        _grid(flat[:, p.start:p.start + n * p.image], p, (h, w))[...] = x.transpose(1, 0, 2, 3)
        cols = buffers.take((c, kh * kw, n * p.image), x.dtype, "cols")
        for k, shift in enumerate(p.shifts):
            cols[:, k] = flat[:, shift:shift + n * p.image]
        return cols.reshape(c * kh * kw, n * p.image)
    g = p.geometry
    pt, pb, pl, pr = g.padding
    if p.batch_last:
        padded = buffers.take((c, h + pt + pb, w + pl + pr, n), x.dtype, f"padT{g.padding}",
                              zeros=True)
        padded[:, pt:pt + h, pl:pl + w] = x.transpose(1, 2, 3, 0)
        cols = buffers.take((c, kh * kw) + tuple(p.out_hw) + (n,), x.dtype, "colsT")
        for k, (rows_, columns) in enumerate(window_slices(p.kernel, g.stride, g.dilation,
                                                           p.out_hw)):
            cols[:, k] = padded[:, rows_, columns]
        return cols.reshape(c * kh * kw, -1)
    channels_first = x.transpose(1, 0, 2, 3)
    if pt or pb or pl or pr:
        padded = buffers.take((c, n, h + pt + pb, w + pl + pr), x.dtype, f"pad{g.padding}",
                              zeros=True)
        padded[:, :, pt:pt + h, pl:pl + w] = channels_first
    else:
        padded = channels_first
    cols = buffers.take((c, kh * kw, n) + tuple(p.out_hw), x.dtype, "cols")
    for k, (rows, columns) in enumerate(window_slices(p.kernel, g.stride, g.dilation, p.out_hw)):
        cols[:, k] = padded[:, :, rows, columns]
    return cols.reshape(c * kh * kw, n * p.out_hw[0] * p.out_hw[1])


def col2im(grad_cols: np.ndarray, p: Plan) -> np.ndarray:
    """The adjoint of ``im2col``: add each column back where it was read from (N, C, H, W)."""
    n, c, h, w = p.in_shape
    kh, kw = p.kernel
    if p.flat:
        positions = n * p.image
        flat = buffers.take((c, p.length), grad_cols.dtype, "col2im")
        grad_cols = grad_cols.reshape(c, kh * kw, positions)
        flat[:, :positions] = grad_cols[:, 0]  # shifts[0] is 0
        flat[:, positions:] = 0
        for k, shift in enumerate(p.shifts[1:], start=1):
            flat[:, shift:shift + positions] += grad_cols[:, k]
        return _grid(flat[:, p.start:p.start + positions], p, (h, w)).transpose(1, 0, 2, 3)
    g = p.geometry
    pt, pb, pl, pr = g.padding
    slices = window_slices(p.kernel, g.stride, g.dilation, p.out_hw)
    if p.batch_last:
        padded = buffers.take((c, h + pt + pb, w + pl + pr, n), grad_cols.dtype, "col2imT")
        padded.fill(0)
        grad_cols = grad_cols.reshape((c, kh * kw) + tuple(p.out_hw) + (n,))
        for k, (rows_, columns) in enumerate(slices):
            padded[:, rows_, columns] += grad_cols[:, k]
        return padded[:, pt:pt + h, pl:pl + w].transpose(3, 0, 1, 2)
    padded = buffers.take((c, n, h + pt + pb, w + pl + pr), grad_cols.dtype, "col2im")
    padded.fill(0)
    grad_cols = grad_cols.reshape((c, kh * kw, n) + tuple(p.out_hw))
    for k, (rows_, columns) in enumerate(slices):
        padded[:, :, rows_, columns] += grad_cols[:, k]
    return padded[:, :, pt:pt + h, pl:pl + w].transpose(1, 0, 2, 3)


def rows(grad_output: np.ndarray, p: Plan) -> np.ndarray:
    """(N, O, Ho, Wo) as (O, positions) in the columns' layout; free for the plain layout when
    the array is already stored channels first."""
    channels_first = grad_output.transpose(1, 0, 2, 3)
    if p.flat:
        out_channels, n = channels_first.shape[:2]
        # As in im2col, only the outputs are written: the other grid positions stay zero.
        grid = buffers.take((out_channels, n * p.image), grad_output.dtype, f"rows{p}",
                            zeros=True)
        _grid(grid, p, p.out_hw)[...] = channels_first
        return grid
    if p.batch_last:
        channels_first = grad_output.transpose(1, 2, 3, 0)  # (O, Ho, Wo, N)
    shape = (channels_first.shape[0], channels_first[0].size)
    if channels_first.flags.c_contiguous:
        return channels_first.reshape(shape)
    copy = buffers.take(channels_first.shape, grad_output.dtype, "rows")
    np.copyto(copy, channels_first)
    return copy.reshape(shape)


def output(out2d: np.ndarray, p: Plan) -> np.ndarray:
    """The product (O, positions) as the (N, O, Ho, Wo) output (a view, stored channels first)."""
    if p.flat:
        return _grid(out2d, p, p.out_hw).transpose(1, 0, 2, 3)
    if p.batch_last:
        return out2d.reshape((out2d.shape[0],) + tuple(p.out_hw) + (p.in_shape[0],)).transpose(
            3, 0, 1, 2)
    return out2d.reshape((out2d.shape[0], p.in_shape[0]) + tuple(p.out_hw)).transpose(1, 0, 2, 3)


def _matmul(a: np.ndarray, b: np.ndarray, tag: str) -> np.ndarray:
    """a @ b written into a reused buffer (big products page-fault when freshly allocated)."""
    shape = a.shape[:-1] + b.shape[-1:]
    return threads.matmul(a, b, out=buffers.take(shape, np.result_type(a, b), tag))


def weight_times_cols(weight: np.ndarray, cols: np.ndarray, groups: int) -> np.ndarray:
    """weight (O, C/groups, kh, kw) times the columns, group by group: (O, positions)."""
    out_channels = weight.shape[0]
    if groups == 1:
        return _matmul(weight.reshape(out_channels, -1), cols, "out")
    w = weight.reshape(groups, out_channels // groups, -1)
    cols = cols.reshape(groups, cols.shape[0] // groups, cols.shape[1])
    return _matmul(w, cols, "out").reshape(out_channels, cols.shape[2])


def per_sample(p: Plan, groups: int) -> bool:
    """Whether the weight gradient goes sample by sample straight from grad_output (plain
    layout, few column rows): then it needs no channels-first copy of grad_output."""
    return (not p.flat and not p.batch_last and groups == 1
            and p.in_shape[1] * p.kernel[0] * p.kernel[1] <= FEW_ROWS)


def grad_weight(grad_output: np.ndarray, grad2d, cols: np.ndarray, p: Plan, groups: int,
                w_shape) -> np.ndarray:
    """grad2d (O, positions) @ colsᵀ, or one small product per sample (``per_sample``)."""
    n, out_channels = grad_output.shape[:2]
    if per_sample(p, groups):
        positions = grad_output.shape[2] * grad_output.shape[3]
        by_sample = grad_output.reshape(n, out_channels, positions)
        by_sample_cols = cols.reshape(cols.shape[0], n, positions).transpose(1, 2, 0)
        return threads.matmul(by_sample, by_sample_cols).sum(axis=0).reshape(w_shape)
    if grad2d is None:
        grad2d = rows(grad_output, p)
    if groups == 1:
        # colsᵀ's rows are long and contiguous here: the product in this order is ~20% faster.
        return threads.matmul(cols, grad2d.T).T.reshape(w_shape)
    g = grad2d.reshape(groups, grad2d.shape[0] // groups, grad2d.shape[1])
    c = cols.reshape(groups, cols.shape[0] // groups, cols.shape[1])
    return threads.matmul(g, c.transpose(0, 2, 1)).reshape(w_shape)


def channel_sum(grad_output: np.ndarray, grad2d) -> np.ndarray:
    """Σ over (N, H, W) per channel, as products with ones (BLAS is ~3x faster than np.sum)."""
    if grad2d is not None:
        return threads.matmul(grad2d, ones_vector(grad2d.shape[1], grad2d.dtype))
    n, channels = grad_output.shape[:2]
    by_sample = grad_output.reshape(n, channels, grad_output.shape[2] * grad_output.shape[3])
    return threads.matmul(by_sample, ones_vector(by_sample.shape[2], grad_output.dtype)).sum(axis=0)


def grad_cols(weight: np.ndarray, grad2d: np.ndarray, groups: int) -> np.ndarray:
    """weightᵀ times the output gradient's rows: the columns' gradient (C·kh·kw, positions)."""
    out_channels = weight.shape[0]
    if groups == 1:
        return _matmul(weight.reshape(out_channels, -1).T, grad2d, "grad_cols")
    w = weight.reshape(groups, out_channels // groups, -1).transpose(0, 2, 1)
    g = grad2d.reshape(groups, grad2d.shape[0] // groups, grad2d.shape[1])
    return _matmul(w, g, "grad_cols").reshape(groups * w.shape[1], grad2d.shape[1])
