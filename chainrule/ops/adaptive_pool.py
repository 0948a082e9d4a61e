"""Adaptive average pooling: a fixed output size whatever the input size (PyTorch's windows).

Window i of an axis of length L pooled to O covers [floor(i·L/O), ceil((i+1)·L/O)). Divisible
sizes are plain average pooling; otherwise the pooling is A_H · x · A_Wᵀ with constant averaging
matrices, differentiable to any order through matmul.
"""

from __future__ import annotations

import numpy as np

from chainrule.ops._conv_util import check_input
from chainrule.ops._util import as_tensor
from chainrule.ops.linalg import matmul
from chainrule.ops.pool import avg_pool2d
from chainrule.ops.reduce import mean
from chainrule.tensor import Tensor

__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d"]


def _adaptive_matrix(size: int, out: int, dtype) -> np.ndarray:
    """(out, size) averaging matrix: row i averages x[floor(i·size/out) : ceil((i+1)·size/out)]."""
    matrix = np.zeros((out, size), dtype=dtype)
    for i in range(out):
        start, end = (i * size) // out, -(-((i + 1) * size) // out)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


def _adaptive_sizes(output_size, in_sizes, op: str) -> tuple:
    spatial = len(in_sizes)
    if output_size is None or isinstance(output_size, (int, np.integer)):
        output_size = (output_size,) * spatial
    output_size = tuple(output_size)
    if len(output_size) != spatial:
        raise ValueError(f"{op}: output_size must be an int or {spatial} ints, got {output_size}")
    sizes = tuple(size if o is None else int(o) for o, size in zip(output_size, in_sizes))
    if min(sizes) < 1:
        raise ValueError(f"{op}: output_size must be positive, got {output_size}")
    return sizes


def adaptive_avg_pool2d(input, output_size) -> Tensor:
    """Average pooling to a fixed (oH, oW) whatever the input size, as PyTorch.

    out[..., i, j] = mean of x[..., floor(i·H/oH) : ceil((i+1)·H/oH), floor(j·W/oW) :
    ceil((j+1)·W/oW)]; output_size=1 is global average pooling. Computed as A_H · x · A_Wᵀ
    with constant averaging matrices, so it is differentiable to any order.

    Args:
        input: (N, C, H, W) or (C, H, W).
        output_size: int or (oH, oW); None in a place keeps that input size.

    Example:
        >>> import chainrule as cr
        >>> adaptive_avg_pool2d(cr.ones(2, 3, 5, 7), 1).shape
        (2, 3, 1, 1)
    """
    x = as_tensor(input)
    check_input(x, "adaptive_avg_pool2d", 2)
    oh, ow = _adaptive_sizes(output_size, x.shape[-2:], "adaptive_avg_pool2d")
    h, w = x.shape[-2:]
    if (oh, ow) == (1, 1):
        return mean(x, (-2, -1), keepdim=True)
    if h % oh == 0 and w % ow == 0:
        return avg_pool2d(x, (h // oh, w // ow))
    rows = Tensor._make(_adaptive_matrix(h, oh, x.dtype))
    columns = Tensor._make(_adaptive_matrix(w, ow, x.dtype).T.copy())
    return matmul(matmul(rows, x), columns)


def adaptive_avg_pool1d(input, output_size) -> Tensor:
    """Average pooling of an (N, C, L) batch to a fixed length oL, as PyTorch.

    out[..., i] = mean of x[..., floor(i·L/oL) : ceil((i+1)·L/oL)].

    Example:
        >>> import chainrule as cr
        >>> adaptive_avg_pool1d(cr.tensor([[[1.0, 2.0, 3.0]]]), 2)
        tensor([[[1.5, 2.5]]])
    """
    x = as_tensor(input)
    check_input(x, "adaptive_avg_pool1d", 1)
    (ol,) = _adaptive_sizes(output_size, x.shape[-1:], "adaptive_avg_pool1d")
    length = x.shape[-1]
    if ol == 1:
        return mean(x, -1, keepdim=True)
    columns = Tensor._make(_adaptive_matrix(length, ol, x.dtype).T.copy())
    return matmul(x, columns)
