"""Shape ops: reshape, transpose, broadcast, concatenate, pad and indexing."""

from __future__ import annotations

import numbers

import numpy as np

from chainrule.autograd.function import Function, ViewFunction
from chainrule.ops._util import (
    as_tensor, broadcast_shapes, normalize_dims, result_type, unbroadcast, unbroadcast_batched,
)
from chainrule.ops.indexing import getitem
from chainrule.tensor import Tensor


def _shape_arg(shape) -> tuple:
    """Accept ``f(2, 3)`` and ``f((2, 3))``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


class Reshape(ViewFunction):
    """Same data, new shape;  the gradient is reshaped back."""

    needs_inputs = False
    saved_is_metadata = True

    def forward(self, x, shape=None):
        self.saved = x.shape
        return x.reshape(shape)

    def backward(self, grad_output):
        return reshape(grad_output, self.saved)

    def backward_batched(self, grads):
        return grads.reshape((len(grads),) + tuple(self.saved))


def reshape(x, *shape) -> Tensor:
    """The same elements in a new shape (one dimension may be -1); alias ``view``."""
    x = as_tensor(x)
    shape = _shape_arg(shape)
    if shape == x.shape:
        return x
    known = int(np.prod([s for s in shape if s != -1]))
    if shape.count(-1) > 1 or (
        -1 not in shape and known != x.size
    ) or (-1 in shape and (known == 0 or x.size % known)):
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {tuple(x.shape)} ({x.size} elements) "
            f"into shape {shape}"
        )
    return Reshape.apply(x, shape=shape)


view = reshape


def flatten(x, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim`` .. ``end_dim`` (inclusive) into one."""
    x = as_tensor(x)
    if x.ndim == 0:
        return reshape(x, (1,))
    start, end = normalize_dims(start_dim, x.ndim, "flatten")[0], normalize_dims(
        end_dim, x.ndim, "flatten")[0]
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = int(np.prod(x.shape[start:end + 1]))
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1:])


class Permute(ViewFunction):
    """Reorder dimensions;  the gradient is permuted back with the inverse order."""

    needs_inputs = False
    saved_is_metadata = True

    def forward(self, x, dims=None):
        self.saved = dims
        return np.transpose(x, dims)

    def backward(self, grad_output):
        return permute(grad_output, tuple(np.argsort(self.saved)))

    def backward_batched(self, grads):
        return grads.transpose((0,) + tuple(1 + int(d) for d in np.argsort(self.saved)))


def swap_last_two(x: Tensor) -> Tensor:
    """``x`` with its last two dimensions swapped (no checks: the ops' fast path)."""
    ndim = x.data.ndim
    dims = (1, 0) if ndim == 2 else tuple(range(ndim - 2)) + (ndim - 1, ndim - 2)
    return Permute.apply(x, dims=dims)


def permute(x, *dims) -> Tensor:
    """Reorder the dimensions: ``permute(x, (2, 0, 1))`` moves the last dimension first."""
    x = as_tensor(x)
    if dims == ((1, 0),) and x.data.ndim == 2:
        return Permute.apply(x, dims=(1, 0))
    dims = _shape_arg(dims)
    if sorted(d % max(x.ndim, 1) for d in dims) != list(range(x.ndim)):
        raise ValueError(
            f"permute: dims {dims} must be a reordering of 0..{x.ndim - 1} for a tensor of shape "
            f"{tuple(x.shape)}"
        )
    dims = tuple(d % x.ndim for d in dims)
    if dims == tuple(range(x.ndim)):
        return x
    return Permute.apply(x, dims=dims)


def transpose(x, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions."""
    x = as_tensor(x)
    if x.ndim < 2:
        return x
    a = normalize_dims(dim0, x.ndim, "transpose")[0]
    b = normalize_dims(dim1, x.ndim, "transpose")[0]
    dims = list(range(x.ndim))
    dims[a], dims[b] = dims[b], dims[a]
    return permute(x, tuple(dims))


def squeeze(x, dim=None) -> Tensor:
    """Remove dimensions of size 1 (all of them, or only ``dim`` if it has size 1)."""
    x = as_tensor(x)
    if dim is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    axes = normalize_dims(dim, x.ndim, "squeeze") if x.ndim else ()
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if not (i in axes and s == 1)))


def unsqueeze(x, dim: int) -> Tensor:
    """Insert a dimension of size 1 at ``dim`` (negative counts from the end of the result)."""
    x = as_tensor(x)
    axis = normalize_dims(dim, x.ndim + 1, "unsqueeze")[0]
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


class Expand(ViewFunction):
    """Broadcast to a larger shape without copying;  the gradient is summed back."""

    needs_inputs = False
    saved_is_metadata = True

    def forward(self, x, shape=None):
        self.saved = x.shape
        return np.broadcast_to(x, shape)

    def backward(self, grad_output):
        return unbroadcast(grad_output, self.saved)

    def backward_batched(self, grads):
        return unbroadcast_batched(grads, tuple(self.saved))


def expand(x, *sizes) -> Tensor:
    """Broadcast ``x`` to ``sizes`` (-1 keeps a dimension); the result shares memory."""
    x = as_tensor(x)
    sizes = _shape_arg(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ValueError(
            f"expand: the target shape {sizes} has fewer dimensions than the tensor's "
            f"{tuple(x.shape)}"
        )
    shape = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    if shape == x.shape:
        return x
    broadcast_shapes("expand", x.shape, shape)
    if np.broadcast_shapes(x.shape, shape) != shape:
        raise ValueError(f"expand: cannot expand shape {tuple(x.shape)} to {shape}")
    return Expand.apply(x, shape=shape)


class Repeat(Function):
    """Tile the tensor ``sizes`` times along each dimension (PyTorch's ``repeat``)."""

    needs_inputs = False
    saved_is_metadata = True

    def forward(self, x, sizes=None):
        self.saved = (x.shape, sizes)
        return np.tile(x.reshape((1,) * (len(sizes) - x.ndim) + x.shape), sizes)

    def backward(self, grad_output):
        shape, sizes = self.saved
        padded = (1,) * (len(sizes) - len(shape)) + shape
        interleaved = tuple(v for pair in zip(sizes, padded) for v in pair)
        grad = reshape(grad_output, interleaved).sum(tuple(range(0, 2 * len(sizes), 2)))
        return reshape(grad, shape)


def repeat(x, *sizes) -> Tensor:
    """Tile ``x``: ``repeat(x, 2, 1)`` stacks two copies along dimension 0 (as PyTorch)."""
    x = as_tensor(x)
    sizes = _shape_arg(sizes)
    if len(sizes) < x.ndim:
        raise ValueError(
            f"repeat: give at least one count per dimension ({x.ndim}), got {len(sizes)}"
        )
    return Repeat.apply(x, sizes=sizes)


class Cat(Function):
    """Concatenate along ``dim``;  each input's gradient is its slice of the output gradient."""

    needs_inputs = False
    saved_is_metadata = True

    def forward(self, *arrays, axis=0):
        self.saved = (axis, [a.shape[axis] for a in arrays])
        return np.concatenate(arrays, axis=axis)

    def backward(self, grad_output):
        axis, sizes = self.saved
        grads, start = [], 0
        for size, edge in zip(sizes, self.next):
            if edge is None:
                grads.append(None)
            else:
                index = (slice(None),) * axis + (slice(start, start + size),)
                grads.append(getitem(grad_output, index))
            start += size
        return tuple(grads)


def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension; all other dimensions must match."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    first = tensors[0]
    axis = normalize_dims(dim, first.ndim, "cat")[0]
    for position, t in enumerate(tensors[1:], start=1):
        if t.ndim != first.ndim or any(
            i != axis and a != b for i, (a, b) in enumerate(zip(t.shape, first.shape))
        ):
            raise ValueError(
                f"cat: tensor {position} has shape {tuple(t.shape)}, which does not match "
                f"tensor 0's {tuple(first.shape)} outside dimension {axis}"
            )
    dtype = result_type(*tensors)
    tensors = [t if t.dtype == dtype else t.to(dtype) for t in tensors]
    return Cat.apply(*tensors, axis=axis)


concatenate = cat


def stack(tensors, dim: int = 0) -> Tensor:
    """Join tensors of the same shape along a new dimension."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    for position, t in enumerate(tensors[1:], start=1):
        if t.shape != tensors[0].shape:
            raise ValueError(
                f"stack: tensor {position} has shape {tuple(t.shape)} but tensor 0 has "
                f"{tuple(tensors[0].shape)}; stack needs equal shapes"
            )
    return cat([unsqueeze(t, dim) for t in tensors], dim)


def split(x, split_size_or_sections, dim: int = 0) -> tuple:
    """Split into pieces of ``split_size`` (the last may be smaller) or of the listed sizes."""
    x = as_tensor(x)
    axis = normalize_dims(dim, x.ndim, "split")[0]
    length = x.shape[axis]
    if isinstance(split_size_or_sections, numbers.Integral):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [size] * (length // size) + ([length % size] if length % size else [])
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != length:
            raise ValueError(
                f"split: sizes {sizes} add up to {sum(sizes)} but dimension {axis} has {length}"
            )
    pieces, start = [], 0
    for size in sizes:
        pieces.append(getitem(x, (slice(None),) * axis + (slice(start, start + size),)))
        start += size
    return tuple(pieces)


def chunk(x, chunks: int, dim: int = 0) -> tuple:
    """Split into ``chunks`` pieces of equal size (the last may be smaller), as PyTorch."""
    x = as_tensor(x)
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    axis = normalize_dims(dim, x.ndim, "chunk")[0]
    size = -(-x.shape[axis] // chunks)
    return split(x, max(size, 1), axis)


class Pad(Function):
    """Constant padding;  the gradient is the un-padded slice."""

    needs_inputs = False
    saved_is_metadata = True

    def forward(self, x, widths=None, value=0.0):
        self.saved = widths
        return np.pad(x, widths, mode="constant", constant_values=value)

    def backward(self, grad_output):
        index = tuple(slice(before, grad_output.shape[i] - after)
                      for i, (before, after) in enumerate(self.saved))
        return getitem(grad_output, index)


def pad(x, pad: tuple, mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad with a constant, PyTorch's way: ``pad=(left, right)`` pads the last dimension,
    ``(left, right, top, bottom)`` the last two, and so on from the last dimension backwards."""
    x = as_tensor(x)
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported, got mode={mode!r}")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(
            f"pad: expected pairs (before, after) for at most {x.ndim} dimensions, got {pad}"
        )
    if any(p < 0 for p in pad):
        raise ValueError(f"pad: widths must be non-negative, got {pad}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return Pad.apply(x, widths=tuple(widths), value=value)
