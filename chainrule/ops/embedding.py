"""Embedding lookup: rows of a weight matrix picked by integer indices (``F.embedding``).

    y[..., :] = weight[indices[...], :]

The gradient adds each output row's gradient into the row it came from; rows at ``padding_idx``
get none, and ``scale_grad_by_freq`` divides by how often an index occurs in the batch, as
PyTorch does.
"""

from __future__ import annotations

import numpy as np

from chainrule.autograd.function import Function
from chainrule.autograd.grad_mode import no_grad
from chainrule.ops._util import as_tensor
from chainrule.ops.indexing import IndexAdd
from chainrule.tensor import Tensor

__all__ = ["embedding"]


def _row_scale(indices: np.ndarray, padding_idx, scale_grad_by_freq: bool, dtype):
    """Per looked-up row, the factor its gradient gets (0 at padding_idx, 1/count by freq)."""
    scale = None
    if scale_grad_by_freq:
        _, inverse, counts = np.unique(indices, return_inverse=True, return_counts=True)
        scale = (1.0 / counts[inverse.reshape(indices.shape)]).astype(dtype)
    if padding_idx is not None:
        keep = (indices != padding_idx).astype(dtype)
        scale = keep if scale is None else scale * keep
    return None if scale is None else scale[..., None]


class EmbeddingLookup(Function):
    """y = weight[indices];  d weight = Σ over the positions of each index of its row's gradient
    (times the row scale: padding rows 0, frequency scaling)."""

    needs_inputs = False
    saved_is_metadata = True

    def forward(self, weight, indices=None, padding_idx=None, scale_grad_by_freq=False):
        self.saved = (weight.shape, indices, padding_idx, scale_grad_by_freq)
        return weight[indices]

    def _scale(self, dtype):
        _, indices, padding_idx, by_freq = self.saved
        return _row_scale(indices, padding_idx, by_freq, dtype)

    def backward(self, grad_output):
        shape, indices = self.saved[:2]
        scale = self._scale(grad_output.dtype)
        if scale is not None:
            grad_output = grad_output * Tensor._make(scale)
        return IndexAdd.apply(grad_output, shape=shape, index=indices)

    def backward_arrays(self, grad_output):
        shape, indices = self.saved[:2]
        scale = self._scale(grad_output.dtype)
        if scale is not None:
            grad_output = grad_output * scale
        grad = np.zeros(shape, grad_output.dtype)
        np.add.at(grad, indices.reshape(-1), grad_output.reshape(indices.size, shape[1]))
        return grad


def _renormalize_(weight: Tensor, indices: np.ndarray, max_norm: float, norm_type: float):
    """Rows used by ``indices`` with a norm above max_norm are scaled to it, in place (as
    PyTorch's embedding_renorm_, with the same 1e-7 guard)."""
    rows = np.unique(indices)
    with no_grad():
        data = weight.data
        norms = np.linalg.norm(data[rows], ord=norm_type, axis=1)
        over = norms > max_norm
        scale = (max_norm / (norms[over] + 1e-7)).astype(data.dtype)
        data[rows[over]] *= scale[:, None]
        weight._version += 1


def embedding(input, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False,
              sparse: bool = False) -> Tensor:
    """Look up rows of ``weight`` (num_embeddings, embedding_dim) at integer ``input``, as
    ``torch.nn.functional.embedding``.

    Args:
        input: integer indices of any shape, each in [0, num_embeddings).
        weight: the embedding matrix.
        padding_idx: rows at this index get no gradient (a negative value counts from the end).
        max_norm: rows looked up with a larger ``norm_type``-norm are rescaled to it in place.
        scale_grad_by_freq: divide each row's gradient by its index's count in the batch.
        sparse: PyTorch's sparse gradients; chainrule has dense ones only (must be False).

    Shape: input (*) -> (*, embedding_dim).

    Example:
        >>> import chainrule as cr
        >>> weight = cr.arange(6.0).reshape(3, 2)
        >>> embedding(cr.tensor([2, 0]), weight).tolist()
        [[4.0, 5.0], [0.0, 1.0]]
    """
    weight = as_tensor(weight)
    indices = input.data if isinstance(input, Tensor) else np.asarray(input)
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {tuple(weight.shape)}")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding: the input must hold integer indices, got dtype "
                        f"{indices.dtype}; convert it with .long()")
    rows = weight.shape[0]
    if indices.size and (indices.min() < 0 or indices.max() >= rows):
        raise IndexError(f"embedding: indices must be in [0, {rows}) (num_embeddings={rows}), "
                         f"got values from {int(indices.min())} to {int(indices.max())}")
    if sparse:
        raise ValueError("embedding: sparse=True asks for a sparse gradient, which chainrule "
                         "does not have; use sparse=False (the gradient is a dense matrix)")
    if padding_idx is not None:
        if not -rows <= padding_idx < rows:
            raise ValueError(f"embedding: padding_idx must be within num_embeddings "
                             f"({rows}), got {padding_idx}")
        padding_idx = padding_idx % rows
    if max_norm is not None:
        _renormalize_(weight, indices, float(max_norm), float(norm_type))
    return EmbeddingLookup.apply(weight, indices=indices.astype(np.int64),
                                 padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq)
