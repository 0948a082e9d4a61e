"""``Embedding``: a lookup table of learned vectors, one row per index (PyTorch's
``nn.Embedding``, in the module PyTorch keeps it in)."""

from __future__ import annotations

import numpy as np

from chainrule import backend
from chainrule.autograd.grad_mode import no_grad
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter, factory_dtype
from chainrule.nn.rnn import _count
from chainrule.ops._util import as_tensor
from chainrule.tensor import Tensor

__all__ = ["Embedding"]


class Embedding(Module):
    """y = weight[input]: each integer index picks a row of ``weight`` (num_embeddings,
    embedding_dim).

    Args:
        num_embeddings: the size of the table; embedding_dim: the size of each vector.
        padding_idx: this row starts at zeros and gets no gradient (it stays fixed).
        max_norm, norm_type, scale_grad_by_freq, sparse: as ``F.embedding``.
        _weight: a (num_embeddings, embedding_dim) tensor to use as the weight.
        _freeze: the weight does not require a gradient.
        device, dtype: as for every layer (float32 by default).

    Initialization (PyTorch's): weight ~ N(0, 1), the padding row zeros.

    Shape: input (*) integer -> (*, embedding_dim).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> table = cr.nn.Embedding(10, 3, padding_idx=0)
        >>> table(cr.tensor([[1, 2, 0], [4, 0, 0]])).shape
        (2, 3, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False, _weight=None,
                 _freeze: bool = False, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = _count(num_embeddings, "num_embeddings", "Embedding", 0)
        self.embedding_dim = _count(embedding_dim, "embedding_dim", "Embedding", 0)
        if padding_idx is not None:
            if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)) \
                    or not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx must be an int within num_embeddings "
                                 f"(-{num_embeddings} to {num_embeddings - 1}), got "
                                 f"{padding_idx!r}")
            padding_idx = int(padding_idx) % num_embeddings
        if sparse:
            raise ValueError("Embedding: sparse=True asks for sparse gradients, which chainrule "
                             "does not have; leave sparse=False")
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = bool(scale_grad_by_freq), False
        dtype = factory_dtype("Embedding", device, dtype)
        shape = (num_embeddings, embedding_dim)
        if _weight is None:
            self.weight = Parameter(Tensor._make(backend.empty(shape, dtype)),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            weight = as_tensor(_weight)
            if tuple(weight.shape) != shape:
                raise ValueError(f"Embedding: _weight must have shape {shape} "
                                 f"(num_embeddings, embedding_dim), got {tuple(weight.shape)}")
            self.weight = Parameter(Tensor._make(np.array(weight.data)),
                                    requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """weight ~ N(0, 1), the padding row zeros (PyTorch's initialization)."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight.data[self.padding_idx] = 0.0

    def forward(self, input) -> Tensor:
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, sparse: bool = False) -> "Embedding":
        """An Embedding whose weight is a copy of ``embeddings`` (2-D); ``freeze`` (default)
        keeps it fixed in training.

        Example:
            >>> import chainrule as cr
            >>> import chainrule.nn
            >>> table = cr.nn.Embedding.from_pretrained(cr.eye(3))
            >>> table.weight.requires_grad
            False
        """
        embeddings = as_tensor(embeddings)
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D "
                             f"(num_embeddings, embedding_dim), got shape "
                             f"{tuple(embeddings.shape)}")
        rows, dim = embeddings.shape
        return cls(rows, dim, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings, _freeze=freeze, dtype=embeddings.dtype)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.scale_grad_by_freq:
            text += ", scale_grad_by_freq=True"
        return text
