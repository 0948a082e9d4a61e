"""Indexing: ``x[index]`` (a view for basic indices), its scatter-add backward, ``x[index] =
value`` out of place, the write-back of in-place ops through views (CopySlices), one_hot."""

from __future__ import annotations

import numpy as np

from chainrule.autograd.function import Function, ViewFunction
from chainrule.ops._util import as_tensor, unbroadcast
from chainrule.tensor import Tensor


def _normalize_index(index):
    """Tensors inside an index become arrays; lists become integer or bool arrays."""
    if isinstance(index, tuple):
        return tuple(_normalize_index_item(i) for i in index)
    return _normalize_index_item(index)


def _normalize_index_item(item):
    if isinstance(item, Tensor):
        return item.data
    if isinstance(item, list):
        return np.asarray(item)
    return item


def _is_advanced(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, np.ndarray) and i.dtype.kind in "iu" for i in items)


class GetItem(ViewFunction):
    """x[index];  the gradient is scattered back (summed where an index repeats)."""

    needs_inputs = False
    saved_is_metadata = True

    def forward(self, x, index=None):
        self.saved = (x.shape, index)
        out = x[index]
        if not isinstance(out, np.ndarray):  # one element: a 0-d view, as PyTorch's x[i, j]
            out = x[(index if isinstance(index, tuple) else (index,)) + (Ellipsis,)]
        return out

    def backward(self, grad_output):
        shape, index = self.saved
        return IndexAdd.apply(grad_output, shape=shape, index=index)


class IndexAdd(Function):
    """zeros(shape) with ``grad`` added at ``index``: the backward of ``x[index]``."""

    needs_inputs = False
    saved_is_metadata = True

    def forward(self, grad, shape=None, index=None):
        self.saved = index
        out = np.zeros(shape, dtype=grad.dtype)
        if _is_advanced(index):
            np.add.at(out, index, grad)
        else:
            out[index] = grad
        return out

    def backward(self, grad_output):
        return getitem(grad_output, self.saved)


def getitem(x, index) -> Tensor:
    """``x[index]`` with ints, slices, None, Ellipsis, bool masks and integer arrays."""
    x = as_tensor(x)
    index = _normalize_index(index)
    try:
        return GetItem.apply(x, index=index)
    except IndexError as error:
        raise IndexError(f"index {index!r} is invalid for a tensor of shape "
                         f"{tuple(x.shape)}: {error}") from None


class IndexPut(Function):
    """x with ``x[index] = value``;  x's gradient is zero at index, value's is grad[index]."""

    needs_inputs = False
    saved_is_metadata = True

    def forward(self, x, value, index=None):
        self.saved = (index, value.shape)
        out = x.copy()
        out[index] = value
        return out

    def backward(self, grad_output):
        index, value_shape = self.saved
        grad_x = grad_value = None
        if self.next[0] is not None:
            grad_x = IndexPut.apply(grad_output, Tensor._make(np.zeros((), grad_output.dtype)),
                                    index=index)
        if self.next[1] is not None:
            grad_value = unbroadcast(getitem(grad_output, index), value_shape)
        return grad_x, grad_value


def index_put(x, index, value) -> Tensor:
    """``x`` with the elements at ``index`` replaced by ``value`` (``x[index] = value``)."""
    index = _normalize_index(index)
    value = as_tensor(value, x)
    if value.dtype != x.dtype:
        value = value.to(x.dtype)
    return IndexPut.apply(x, value, index=index)


class CopySlices(Function):
    """``base`` with the view that ``steps`` make of it replaced by ``value``.

    The graph node of an in-place op through a view: the base's new value is its old value
    outside the view and the op's result inside. With ``inplace`` the write goes into ``base``'s
    own memory (the tensor being changed); otherwise into a copy (its use in backward).
    base's gradient is the output gradient with the view zeroed; value's is the view of it.
    """

    needs_inputs = False
    saved_is_metadata = True

    def forward(self, base, value, steps=(), inplace=False):
        self.saved = steps
        out = base if inplace else np.copy(base, order="K")
        region = out
        for function, params in steps:
            region = object.__new__(function).forward(region, **params)
        if region.size and not np.may_share_memory(region, out):
            raise RuntimeError(
                "an in-place op through this view cannot be written back to its base (the view "
                "is a copy of the base's memory layout). Use an out-of-place op instead."
            )
        region[...] = value
        return out

    def backward(self, grad_output):
        steps = self.saved
        grad_base = grad_value = None
        if self.next[0] is not None:
            zero = Tensor._make(np.zeros((), dtype=grad_output.dtype))
            grad_base = CopySlices.apply(grad_output, zero, steps=steps)
        if self.next[1] is not None:
            grad_value = grad_output
            for function, params in steps:
                grad_value = function.apply(grad_value, **params)
        return grad_base, grad_value


def copy_slices(base: Tensor, value: Tensor, steps: tuple) -> Tensor:
    """Write ``value`` into the view ``steps`` make of ``base``, in ``base``'s memory."""
    return CopySlices.apply(base, value, steps=steps, inplace=True)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Class indices -> int64 one-hot vectors in a new last dimension.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> cr.nn.functional.one_hot(cr.tensor([0, 2]), 3)
        tensor([[1, 0, 0],
                [0, 0, 1]])
    """
    labels = as_tensor(tensor).data
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot is only applicable to index tensors (int64), got dtype "
                        f"{labels.dtype}; use .long()")
    if num_classes == -1:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = int(labels.min()) if labels.min() < 0 else int(labels.max())
        raise ValueError(f"one_hot: class index {bad} is out of range for num_classes="
                         f"{num_classes}; expected values in [0, {num_classes})")
    return Tensor._make((labels[..., None] == np.arange(num_classes)).astype(np.int64))
