"""Recurrent cells as composites of chainrule ops (one time step), and the recorded
backpropagation through time that the fused ``Recurrence`` (ops/rnn.py) uses when a graph of its
backward is wanted (gradients of gradients).

The cells, with PyTorch's gate order (σ the logistic sigmoid, ⊙ elementwise):

    RNN    h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)                    act = tanh or relu
    GRU    r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr)      z likewise
           n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn))              h' = (1 - z) ⊙ n + z ⊙ h
    LSTM   i, f, o = σ(...), g = tanh(...)  (of x W_ihᵀ + b_ih + h W_hhᵀ + b_hh, in that order)
           c' = f ⊙ c + i ⊙ g                                            h' = o ⊙ tanh(c')
"""

from __future__ import annotations

import numpy as np

from chainrule.ops._rnn_arrays import GATES, unpack, time_steps
from chainrule.ops.pointwise import relu, sigmoid, tanh
from chainrule.ops.linalg import linear, matmul
from chainrule.ops.reduce import sum as reduce_sum
from chainrule.ops.shape import cat, chunk, reshape, stack
from chainrule.tensor import Tensor

__all__ = ["rnn_tanh_cell", "rnn_relu_cell", "gru_cell", "lstm_cell"]


def _affine(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    return linear(x, weight, bias)


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """One step of an Elman RNN: h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh).

    Shape: input (B, I), hx (B, H), w_ih (H, I), w_hh (H, H), biases (H,) -> (B, H).
    """
    return tanh(_affine(input, w_ih, b_ih) + _affine(hx, w_hh, b_hh))


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """One step of an RNN with ReLU: h' = relu(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)."""
    return relu(_affine(input, w_ih, b_ih) + _affine(hx, w_hh, b_hh))


def _gru_gates(input_part: Tensor, hidden_part: Tensor) -> tuple:
    """r, z, n of a GRU from x W_ihᵀ + b_ih and h W_hhᵀ + b_hh (each (B, 3H))."""
    i_r, i_z, i_n = chunk(input_part, 3, 1)
    h_r, h_z, h_n = chunk(hidden_part, 3, 1)
    r, z = sigmoid(i_r + h_r), sigmoid(i_z + h_z)
    return r, z, tanh(i_n + r * h_n), h_n


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """One GRU step (see the module docstring); w_ih (3H, I), w_hh (3H, H) stacked r, z, n."""
    r, z, new, _ = _gru_gates(_affine(input, w_ih, b_ih), _affine(hx, w_hh, b_hh))
    return new + z * (hx - new)


def _lstm_gates(pre: Tensor) -> tuple:
    i, f, g, o = chunk(pre, 4, 1)
    return sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)


def lstm_cell(input, hx: tuple, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None) -> tuple:
    """One LSTM step: ``(h', c')`` from ``hx = (h, c)``; w_ih (4H, I), w_hh (4H, P) stacked
    i, f, g, o; with a projection w_hr (P, H), h' = (o ⊙ tanh(c')) W_hrᵀ."""
    h, c = hx
    i, f, g, o = _lstm_gates(_affine(input, w_ih, b_ih) + _affine(h, w_hh, b_hh))
    c_new = f * c + i * g
    h_new = o * tanh(c_new)
    return (h_new if w_hr is None else matmul(h_new, w_hr.T)), c_new


# ---------------------------------------------------------------------------- recorded BPTT
def _rows(t: Tensor, n: int) -> Tensor:
    return t if n == t.shape[0] else t[:n]


def _merge(active: Tensor, old: Tensor, n: int) -> Tensor:
    """The first n rows from ``active``, the rest kept from ``old``."""
    return active if n == old.shape[0] else cat([active, old[n:]], 0)


def _pad_rows(t: Tensor, rows: int) -> Tensor:
    if t.shape[0] == rows:
        return t
    return cat([t, Tensor._make(np.zeros((rows - t.shape[0],) + t.shape[1:], t.dtype))], 0)


def _forward_steps(mode: str, p, reverse: bool, batch_sizes) -> list:
    """Recompute the forward with chainrule ops; per step (in processing order) what its
    backward needs: t, n, the previous state(s), the gates."""
    steps, batch = p.x.shape[:2]
    x_part = linear(p.x, p.w_ih, p.b_ih)
    h, c = p.h0, p.c0
    records = []
    for t in time_steps(steps, reverse):
        n = batch if batch_sizes is None else batch_sizes[t]
        prev, prev_c = _rows(h, n), None if c is None else _rows(c, n)
        hidden_part = linear(prev, p.w_hh, p.b_hh)
        record = {"t": t, "n": n, "prev": prev}
        if mode == "gru":
            r, z, new, h_n = _gru_gates(x_part[t][:n], hidden_part)
            record.update(r=r, z=z, new=new, h_n=h_n)
            h_new = new + z * (prev - new)
        elif mode == "lstm":
            i, f, g, o = _lstm_gates(x_part[t][:n] + hidden_part)
            c_new = f * prev_c + i * g
            tc = tanh(c_new)
            m = o * tc
            record.update(i=i, f=f, g=g, o=o, prev_c=prev_c, tc=tc, m=m)
            h_new = m if p.w_hr is None else matmul(m, p.w_hr.T)
            c = _merge(c_new, c, n)
        else:
            h_new = (tanh if mode == "rnn_tanh" else relu)(x_part[t][:n] + hidden_part)
            record["h"] = h_new
        h = _merge(h_new, h, n)
        records.append(record)
    return records


def recorded_backward(mode: str, inputs: tuple, grad: Tensor, needs: tuple, reverse: bool,
                      bias: bool, proj: bool, batch_sizes) -> tuple:
    """The gradients of ``Recurrence`` with chainrule ops, in its input order (``None`` where
    ``needs`` is False), so that they can be differentiated again."""
    p = unpack(inputs, mode, bias, proj)
    steps, batch, features = p.x.shape
    gh, size = p.w_ih.shape[0], p.w_hh.shape[1]
    hidden = gh // GATES[mode]
    total = steps * batch * size
    g_out = reshape(grad[:total], (steps, batch, size))
    dh = reshape(grad[total:total + batch * size], (batch, size))
    dc = reshape(grad[total + batch * size:], (batch, hidden)) if mode == "lstm" else None
    d_input, d_hidden, prevs, d_proj, ms = {}, {}, {}, {}, {}
    for record in reversed(_forward_steps(mode, p, reverse, batch_sizes)):
        t, n, prev = record["t"], record["n"], record["prev"]
        d = _rows(dh, n) + g_out[t][:n]
        if mode == "rnn_tanh":
            da = d * (1.0 - record["h"] * record["h"])
            d_input[t] = d_hidden[t] = da
            d_prev = matmul(da, p.w_hh)
        elif mode == "rnn_relu":
            da = d * Tensor._make((record["h"].data > 0).astype(d.dtype))
            d_input[t] = d_hidden[t] = da
            d_prev = matmul(da, p.w_hh)
        elif mode == "gru":
            r, z, new = record["r"], record["z"], record["new"]
            d_new = d * (1.0 - z) * (1.0 - new * new)
            d_r = d_new * record["h_n"] * r * (1.0 - r)
            d_z = d * (prev - new) * z * (1.0 - z)
            d_input[t] = cat([d_r, d_z, d_new], 1)
            d_hidden[t] = cat([d_r, d_z, d_new * r], 1)
            d_prev = d * z + matmul(d_hidden[t], p.w_hh)
        else:
            i, f, g, o, tc = record["i"], record["f"], record["g"], record["o"], record["tc"]
            dm = d
            if p.w_hr is not None:
                d_proj[t], ms[t] = d, record["m"]
                dm = matmul(d, p.w_hr)
            dcn = _rows(dc, n) + dm * o * (1.0 - tc * tc)
            d_gates = cat([dcn * g * i * (1.0 - i), dcn * record["prev_c"] * f * (1.0 - f),
                           dcn * i * (1.0 - g * g), dm * tc * o * (1.0 - o)], 1)
            d_input[t] = d_hidden[t] = d_gates
            d_prev = matmul(d_gates, p.w_hh)
            dc = _merge(dcn * f, dc, n)
        prevs[t] = prev
        dh = _merge(d_prev, dh, n)
    return _weight_grads(p, needs, mode, bias, proj, (steps, batch, features, gh, size, hidden),
                         d_input, d_hidden, prevs, d_proj, ms, dh, dc)


def _stacked(per_step: dict, steps: int, batch: int, width: int, dtype) -> Tensor:
    """(T·B, width): the per-step rows in time order, inactive rows as zeros."""
    if not steps:
        return Tensor._make(np.zeros((0, width), dtype))
    rows = [_pad_rows(per_step[t], batch) for t in range(steps)]
    return reshape(stack(rows, 0), (steps * batch, width))


def _weight_grads(p, needs, mode, bias, proj, dims, d_input, d_hidden, prevs, d_proj, ms, dh,
                  dc) -> tuple:
    steps, batch, features, gh, size, hidden = dims
    dtype = p.x.dtype
    flat_in = _stacked(d_input, steps, batch, gh, dtype)
    flat_hidden = _stacked(d_hidden, steps, batch, gh, dtype)
    wants = dict(zip(("x", "h0") + (("c0",) if mode == "lstm" else ()) + ("w_ih", "w_hh")
                     + (("b_ih", "b_hh") if bias else ()) + (("w_hr",) if proj else ()), needs))
    grads = {}
    if wants["x"]:
        grads["x"] = reshape(matmul(flat_in, p.w_ih), (steps, batch, features))
    if wants["h0"]:
        grads["h0"] = dh
    if wants.get("c0"):
        grads["c0"] = dc
    if wants["w_ih"]:
        grads["w_ih"] = matmul(flat_in.T, reshape(p.x, (steps * batch, features)))
    if wants["w_hh"]:
        flat_prev = _stacked(prevs, steps, batch, size, dtype)
        grads["w_hh"] = matmul(flat_hidden.T, flat_prev)
    if wants.get("b_ih"):
        grads["b_ih"] = reduce_sum(flat_in, 0)
    if wants.get("b_hh"):
        grads["b_hh"] = reduce_sum(flat_hidden, 0)
    if wants.get("w_hr"):
        grads["w_hr"] = matmul(_stacked(d_proj, steps, batch, size, dtype).T,
                               _stacked(ms, steps, batch, hidden, dtype))
    return tuple(grads.get(name) for name in wants)
