"""Recurrent cells, one time step each: ``RNNCell``, ``GRUCell``, ``LSTMCell`` (PyTorch's names,
layouts and initialization). A loop over a sequence written with them computes what ``nn.RNN``,
``nn.GRU`` and ``nn.LSTM`` compute in one fused op per layer.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule import backend
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter, factory_dtype
from chainrule.nn.rnn import _count
from chainrule.ops._util import as_tensor
from chainrule.ops.rnn_cells import gru_cell, lstm_cell, rnn_relu_cell, rnn_tanh_cell
from chainrule.ops.shape import squeeze, unsqueeze
from chainrule.tensor import Tensor

__all__ = ["RNNCellBase", "RNNCell", "GRUCell", "LSTMCell"]


class RNNCellBase(Module):
    """Parameters weight_ih (G·H, I), weight_hh (G·H, H), bias_ih and bias_hh (G·H,), all
    ~ U(-1/√H, 1/√H) as PyTorch; G = 1 (RNN), 3 (GRU) or 4 (LSTM)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        self.input_size = _count(input_size, "input_size", name, 0)
        self.hidden_size = _count(hidden_size, "hidden_size", name, 1)
        self.bias = bool(bias)
        dtype = factory_dtype(name, device, dtype)
        gates = num_chunks * hidden_size
        self.weight_ih = Parameter(Tensor._make(backend.empty((gates, input_size), dtype)))
        self.weight_hh = Parameter(Tensor._make(backend.empty((gates, hidden_size), dtype)))
        if bias:
            self.bias_ih = Parameter(Tensor._make(backend.empty((gates,), dtype)))
            self.bias_hh = Parameter(Tensor._make(backend.empty((gates,), dtype)))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/√hidden_size, 1/√hidden_size)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def _prepare(self, input, hx) -> tuple:
        """(input, state, batched): a one-sample input gets a batch of one; no state is zeros."""
        name = type(self).__name__
        x = as_tensor(input)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected an input (batch, {self.input_size}) or "
                             f"({self.input_size},), got shape {tuple(x.shape)}")
        if x.dtype != self.weight_ih.dtype:
            raise TypeError(f"{name}: input dtype {x.dtype} does not match the cell's "
                            f"{self.weight_ih.dtype}; convert the input (x.float()) or the cell")
        batched = x.ndim == 2
        if not batched:
            x = unsqueeze(x, 0)
        states = hx if isinstance(hx, (tuple, list)) else (hx,)
        checked = []
        for state in states:
            if state is None:
                checked.append(Tensor._make(np.zeros((x.shape[0], self.hidden_size), x.dtype)))
                continue
            state = as_tensor(state)
            expected = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
            if tuple(state.shape) != expected:
                raise ValueError(f"{name}: expected a hidden state of shape {expected}, got "
                                 f"{tuple(state.shape)}")
            checked.append(state if batched else unsqueeze(state, 0))
        return x, checked, batched

    def _weights(self) -> tuple:
        return (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        return text if self.bias else text + ", bias=False"


class RNNCell(RNNCellBase):
    """h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), act ``'tanh'`` or ``'relu'``.

    Shape: input (B, I) or (I,), hx (B, H) or (H,) (zeros when omitted) -> h' like hx.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> cr.nn.RNNCell(10, 20)(cr.randn(3, 10)).shape
        (3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)

    def forward(self, input, hx=None) -> Tensor:
        x, (h,), batched = self._prepare(input, hx)
        cell = rnn_tanh_cell if self.nonlinearity == "tanh" else rnn_relu_cell
        out = cell(x, h, *self._weights())
        return out if batched else squeeze(out, 0)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else text + ", nonlinearity='relu'"


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n as ``nn.GRU``); weight_ih (3H, I), weight_hh (3H, H).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> cr.nn.GRUCell(10, 20)(cr.randn(3, 10), cr.zeros(3, 20)).shape
        (3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None) -> Tensor:
        x, (h,), batched = self._prepare(input, hx)
        out = gru_cell(x, h, *self._weights())
        return out if batched else squeeze(out, 0)


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o as ``nn.LSTM``): ``(h', c')`` from ``hx = (h, c)``.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> h, c = cr.nn.LSTMCell(10, 20)(cr.randn(3, 10))
        >>> h.shape, c.shape
        ((3, 20), (3, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None) -> tuple:
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"LSTMCell: hx must be a tuple (h, c), got {type(hx).__name__}")
        x, (h, c), batched = self._prepare(input, (None, None) if hx is None else hx)
        h_new, c_new = lstm_cell(x, (h, c), *self._weights())
        return (h_new, c_new) if batched else (squeeze(h_new, 0), squeeze(c_new, 0))
