"""Recurrent layers over whole sequences: ``RNN`` (tanh or relu), ``GRU`` and ``LSTM``, with
PyTorch's arguments, parameter names, layouts, gate order and initialization, so that a PyTorch
state_dict loads as it is. The cells (one step) are in ``nn/rnn_cells.py``.

Each layer and direction is one fused op (``ops.rnn.recurrence``); layers are stacked with
dropout between them; a ``PackedSequence`` input runs each sequence only up to its end.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from chainrule import backend
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter, factory_dtype
from chainrule.nn.utils.rnn import PackedSequence, packed_to_padded, padded_to_packed
from chainrule.ops._util import as_tensor
from chainrule.ops.indexing import getitem
from chainrule.ops.rnn import recurrence
from chainrule.ops.shape import cat, stack, squeeze, unsqueeze
from chainrule.tensor import Tensor

__all__ = ["RNNBase", "RNN", "GRU", "LSTM"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}


def _count(value, name: str, layer: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{layer}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


class RNNBase(Module):
    """The shared machinery of ``RNN``, ``GRU`` and ``LSTM`` (PyTorch's ``nn.RNNBase``).

    Args:
        mode: ``'RNN_TANH'``, ``'RNN_RELU'``, ``'GRU'`` or ``'LSTM'``.
        input_size, hidden_size: features of the input and of the hidden state.
        num_layers: stacked layers (each reads the previous one's output).
        bias: learn ``bias_ih`` and ``bias_hh``.
        batch_first: input and output are (B, T, *) instead of (T, B, *) (not the states).
        dropout: drop probability on the outputs of every layer but the last (training only).
        bidirectional: a second direction per layer that reads the sequence backwards; outputs
            are concatenated (forward first).
        proj_size: LSTM only: project the hidden state to this size with ``weight_hr``.
        device, dtype: as for every layer (float32 by default).
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None):
        super().__init__()
        name = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(mode, mode)
        if mode not in _GATES:
            raise ValueError(f"{name}: unknown mode {mode!r}; expected one of {sorted(_GATES)}")
        self.mode = mode
        self.input_size = _count(input_size, "input_size", name, 0)
        self.hidden_size = _count(hidden_size, "hidden_size", name, 1)
        self.num_layers = _count(num_layers, "num_layers", name, 1)
        self.proj_size = _count(proj_size, "proj_size", name, 0)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
                or not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: dropout must be a number in [0, 1] (the probability of an "
                             f"element to be zeroed), got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout={dropout} acts between layers, so with num_layers=1 "
                          "it does nothing; use num_layers > 1 or nn.Dropout on the output",
                          UserWarning, stacklevel=3)
        if proj_size and mode != "LSTM":
            raise ValueError(f"{name}: proj_size is an LSTM option, got proj_size={proj_size}")
        if proj_size >= hidden_size and proj_size:
            raise ValueError(f"LSTM: proj_size ({proj_size}) must be smaller than hidden_size "
                             f"({hidden_size})")
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        self.dropout, self.bidirectional = float(dropout), bool(bidirectional)
        dtype = factory_dtype(name, device, dtype)
        gates = _GATES[mode] * hidden_size
        real_hidden = proj_size or hidden_size
        directions = 2 if bidirectional else 1
        self._flat_weights_names = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else real_hidden * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = [("weight_ih", (gates, layer_input)), ("weight_hh", (gates, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gates,)), ("bias_hh", (gates,))]
                if proj_size:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                for param, shape in shapes:
                    setattr(self, param + suffix,
                            Parameter(Tensor._make(backend.empty(shape, dtype))))
                    self._flat_weights_names.append(param + suffix)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/√hidden_size, 1/√hidden_size), as PyTorch."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def _layer_weights(self, layer: int, direction: int) -> tuple:
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if self.bias else []) + (
            ["weight_hr"] if self.proj_size else [])
        return tuple(getattr(self, name + suffix) for name in names)

    def _state_shape(self, batch: int, size: int) -> tuple:
        return ((2 if self.bidirectional else 1) * self.num_layers, batch, size)

    def _check_state(self, state: Tensor, expected: tuple, what: str, batched: bool) -> Tensor:
        state = as_tensor(state)
        shape = expected if batched else (expected[0], expected[2])
        if tuple(state.shape) != shape:
            raise ValueError(f"{type(self).__name__}: expected {what} of shape {shape} "
                             f"(num_layers * num_directions, batch, size), got "
                             f"{tuple(state.shape)}")
        if state.dtype != self._dtype():
            raise TypeError(f"{type(self).__name__}: {what} has dtype {state.dtype}, the layer "
                            f"{self._dtype()}; convert one of them with .to(dtype)")
        return state if batched else unsqueeze(state, 1)

    def _dtype(self):
        return getattr(self, self._flat_weights_names[0]).dtype

    def forward(self, input, hx=None):
        """``(output, h_n)`` (LSTM: ``(output, (h_n, c_n))``) as PyTorch's layers return them."""
        packed = isinstance(input, PackedSequence)
        name = type(self).__name__
        if packed:
            sizes = tuple(int(n) for n in input.batch_sizes.data)
            x = packed_to_padded(input.data, sizes)
            batch, batched = (sizes[0] if sizes else 0), True
        else:
            x = as_tensor(input)
            sizes = None
            if x.ndim not in (2, 3):
                raise ValueError(f"{name}: expected an input of 3 dimensions (seq, batch, "
                                 f"features), or 2 without a batch, got shape {tuple(x.shape)}")
            batched = x.ndim == 3
            if not batched:
                x = unsqueeze(x, 1)
            elif self.batch_first:
                x = x.transpose(0, 1)
            batch = x.shape[1]
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input of {self.input_size} features (input_size),"
                             f" got {x.shape[-1]}; input shape {tuple(x.shape)}")
        if x.dtype != self._dtype():
            raise TypeError(f"{name}: input dtype {x.dtype} does not match the layer's "
                            f"{self._dtype()}; convert the input (x.float()) or the layer")
        h0, c0 = self._initial_state(hx, batch, batched, x)
        if packed and input.sorted_indices is not None:
            order = input.sorted_indices.data
            h0 = getitem(h0, (slice(None), order))
            c0 = None if c0 is None else getitem(c0, (slice(None), order))
        output, h_n, c_n = self._run(x, h0, c0, sizes)
        if packed:
            if input.unsorted_indices is not None:
                order = input.unsorted_indices.data
                h_n = getitem(h_n, (slice(None), order))
                c_n = None if c_n is None else getitem(c_n, (slice(None), order))
            output = PackedSequence(padded_to_packed(output, sizes), input.batch_sizes,
                                    input.sorted_indices, input.unsorted_indices)
        elif not batched:
            output, h_n = squeeze(output, 1), squeeze(h_n, 1)
            c_n = None if c_n is None else squeeze(c_n, 1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return (output, (h_n, c_n)) if self.mode == "LSTM" else (output, h_n)

    def _initial_state(self, hx, batch: int, batched: bool, x: Tensor) -> tuple:
        size = self.proj_size or self.hidden_size
        h_shape, c_shape = self._state_shape(batch, size), self._state_shape(batch,
                                                                             self.hidden_size)
        if hx is None:
            h0 = Tensor._make(np.zeros(h_shape, x.dtype))
            c0 = Tensor._make(np.zeros(c_shape, x.dtype)) if self.mode == "LSTM" else None
            return h0, c0
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"LSTM: hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
            return (self._check_state(hx[0], h_shape, "h_0", batched),
                    self._check_state(hx[1], c_shape, "c_0", batched))
        return self._check_state(hx, h_shape, "hx", batched), None

    def _run(self, x: Tensor, h0: Tensor, c0: Tensor | None, sizes) -> tuple:
        mode = self.mode.lower()
        directions = 2 if self.bidirectional else 1
        h_finals, c_finals = [], []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                index = layer * directions + direction
                out, h_n, c_n = recurrence(x, h0[index], self._layer_weights(layer, direction),
                                           mode, None if c0 is None else c0[index],
                                           reverse=bool(direction), batch_sizes=sizes)
                outputs.append(out)
                h_finals.append(h_n)
                c_finals.append(c_n)
            x = outputs[0] if directions == 1 else cat(outputs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)
        c_n = stack(c_finals, 0) if c0 is not None else None
        return x, stack(h_finals, 0), c_n

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            text += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh), act tanh or relu.

    Args: input_size, hidden_size, num_layers=1, nonlinearity='tanh' ('relu'), bias=True,
    batch_first=False, dropout=0, bidirectional=False, device, dtype (see ``RNNBase``).

    Shape: input (T, B, I) (``batch_first``: (B, T, I)), (T, I) unbatched, or a
    PackedSequence; h_0 (D·num_layers, B, H) -> output (T, B, D·H), h_n (D·num_layers, B, H)
    with D = 2 if bidirectional else 1.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> out, h_n = cr.nn.RNN(10, 20, num_layers=2)(cr.randn(5, 3, 10))
        >>> out.shape, h_n.shape
        ((5, 3, 20), (2, 3, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else text + ", nonlinearity='relu'"


class GRU(RNNBase):
    """Gated recurrent unit (Cho et al. 2014), PyTorch's gate order r, z, n:

        r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr),  z = σ(x W_izᵀ + b_iz + h W_hzᵀ + b_hz),
        n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn)),  h' = (1 - z) ⊙ n + z ⊙ h.

    Args and shapes as ``RNN`` (no nonlinearity); weight_ih_l0 is (3H, I).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> gru = cr.nn.GRU(1, 6, bidirectional=True, batch_first=True)
        >>> out, h_n = gru(cr.randn(100, 40, 1))
        >>> out.shape, h_n.shape
        ((100, 40, 12), (2, 100, 6))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)


class LSTM(RNNBase):
    """Long short-term memory (Hochreiter & Schmidhuber 1997), PyTorch's gate order i, f, g, o:

        i, f, o = σ(x W_ᵢᵀ + b_i + h W_hᵀ + b_h) (per gate),  g = tanh(...),
        c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c')  (with proj_size: h' = (o ⊙ tanh(c')) W_hrᵀ).

    Args as ``RNN`` plus proj_size; the state is a tuple (h, c): h (D·num_layers, B, P),
    c (D·num_layers, B, H), P = proj_size or H. Returns ``(output, (h_n, c_n))``.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> out, (h_n, c_n) = cr.nn.LSTM(32, 128)(cr.randn(50, 8, 32))
        >>> out.shape, c_n.shape
        ((50, 8, 128), (1, 8, 128))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device=device, dtype=dtype)
