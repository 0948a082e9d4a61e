"""Recurrent cells (chainrule/ops/rnn_cells.py): one RNN (tanh, relu), GRU and LSTM step as
composites of chainrule ops, by the op specs against NumPy and PyTorch's cells (forward,
gradcheck, gradgradcheck), with and without biases, the LSTM with a projection."""

from __future__ import annotations

import numpy as np

from chainrule.ops.rnn_cells import gru_cell, lstm_cell, rnn_relu_cell, rnn_tanh_cell
from chainrule.ops.shape import cat
from tests.ops.spec import OpSpec, SpecChecks
from tests.ops.test_rnn import reference


def _one_step(mode, bias=True, proj=False):
    """The cell's reference: the layer reference over a sequence of one step."""
    run = reference(mode, bias=bias, proj=proj)

    def step(x, h, *rest):
        flat = run(x[None], h, *rest)
        cell_size = rest[0].shape[1] if mode == "lstm" else 0
        tail = flat[h.size:]  # after the one step's output: h_n (and c_n)
        h_n = tail[:h.size].reshape(h.shape)
        return h_n if mode != "lstm" else np.concatenate(
            [h_n, tail[h.size:].reshape(x.shape[0], cell_size)], 1)

    return step


def _lstm(x, h, c, *weights):
    return cat(lstm_cell(x, (h, c), *weights), 1)


def _torch_lstm(torch, x, h, c, *weights):
    return torch.cat(torch.lstm_cell(x, (h, c), *weights), 1)


CELL = [((2, 3), (2, 4), (4, 3), (4, 4), (4,), (4,)), ((0, 3), (0, 4), (4, 3), (4, 4), (4,), (4,))]
GRU = [((2, 3), (2, 2), (6, 3), (6, 2), (6,), (6,)), ((0, 3), (0, 2), (6, 3), (6, 2), (6,), (6,))]
LSTM = [((2, 3), (2, 2), (2, 2), (8, 3), (8, 2), (8,), (8,)),
        ((0, 3), (0, 2), (0, 2), (8, 3), (8, 2), (8,), (8,))]

SPECS = [
    OpSpec("rnn_tanh_cell", rnn_tanh_cell, _one_step("rnn_tanh"), CELL,
           torch=lambda torch, *a: torch.rnn_tanh_cell(*a)),
    OpSpec("rnn_tanh_cell_no_bias", rnn_tanh_cell, _one_step("rnn_tanh", bias=False),
           [c[:4] for c in CELL], torch=lambda torch, *a: torch.rnn_tanh_cell(*a, None, None)),
    OpSpec("rnn_relu_cell", rnn_relu_cell, _one_step("rnn_relu"), CELL,
           torch=lambda torch, *a: torch.rnn_relu_cell(*a)),
    OpSpec("gru_cell", gru_cell, _one_step("gru"), GRU,
           torch=lambda torch, *a: torch.gru_cell(*a)),
    OpSpec("gru_cell_no_bias", gru_cell, _one_step("gru", bias=False), [c[:4] for c in GRU],
           torch=lambda torch, *a: torch.gru_cell(*a, None, None)),
    OpSpec("lstm_cell", _lstm, _one_step("lstm"), LSTM, torch=_torch_lstm),
    OpSpec("lstm_cell_projection", _lstm, _one_step("lstm", proj=True),
           [((2, 3), (2, 2), (2, 4), (16, 3), (16, 2), (16,), (16,), (2, 4)),
            ((0, 3), (0, 2), (0, 4), (16, 3), (16, 2), (16,), (16,), (2, 4))]),
]


class TestSpecs(SpecChecks):
    specs = SPECS
