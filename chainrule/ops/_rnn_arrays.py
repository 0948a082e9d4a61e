"""The array kernels of the fused recurrent layer (``ops/rnn.py``): forward and backpropagation
through time for one layer and one direction, on NumPy arrays.

The input projections of all steps are one GEMM before the loop, and the weight gradients are one
GEMM each after it; the loop does the recurrent product and the gates, in preallocated buffers.
In the backward every gate's gradient is the state gradient times a factor that is known from the
forward alone, so the factors are computed for all steps at once and the loop keeps only what is
sequential: add the output's gradient, scale by the factors, one product with ``w_hh``.

Layouts (PyTorch's): ``x`` (T, B, I) time first; ``w_ih`` (G·H, I) and ``w_hh`` (G·H, P) with
the gates stacked in PyTorch's order (RNN: one; GRU: r, z, n; LSTM: i, f, g, o); P = H, or the
projection size of an LSTM with ``w_hr`` (P, H). A ``batch_sizes`` tuple (a packed batch, sorted
by decreasing length) says how many of the first rows are active at each time step; the other
rows keep their state and output zeros.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from chainrule.ops._conv_util import buffers

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "gru": 3, "lstm": 4}


def _buffer(shape: tuple, dtype, tag: str, zeros: bool = False) -> np.ndarray:
    """A reused array (``ops._conv_util.buffers``: busy while anything, a cache included, holds
    it), so that a step does not page-fault megabytes of fresh memory; ``zeros`` clears it."""
    array = buffers.take(tuple(shape), dtype, "rnn_" + tag)
    if zeros:
        array.fill(0)
    return array


class Arrays(NamedTuple):
    """The inputs of one layer and direction (``None`` where a layer has no such input)."""

    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray | None
    w_ih: np.ndarray
    w_hh: np.ndarray
    b_ih: np.ndarray | None
    b_hh: np.ndarray | None
    w_hr: np.ndarray | None


def unpack(values: tuple, mode: str, bias: bool, proj: bool) -> Arrays:
    """The inputs in the order ``Recurrence`` takes them: x, h0, [c0], w_ih, w_hh, [b_ih, b_hh],
    [w_hr] (works on arrays and on Tensors alike)."""
    values = list(values)
    x, h0 = values.pop(0), values.pop(0)
    c0 = values.pop(0) if mode == "lstm" else None
    w_ih, w_hh = values.pop(0), values.pop(0)
    b_ih, b_hh = (values.pop(0), values.pop(0)) if bias else (None, None)
    w_hr = values.pop(0) if proj else None
    return Arrays(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr)


def time_steps(steps: int, reverse: bool) -> range:
    """The order in which the time steps are processed."""
    return range(steps - 1, -1, -1) if reverse else range(steps)


def _half_sigmoid_(a: np.ndarray) -> None:
    """σ in place of a pre-activation already halved: σ(2a) = ½·tanh(a) + ½ (tanh never
    overflows). The sigmoid gates' rows of the weights and biases are halved before the loop
    (exactly: a power of two), which saves a pass over the gates at every step."""
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5


def _halved(mode: str, p: Arrays) -> tuple:
    """(w_ih, w_hh, b_ih + b_hh or b_ih, b_hh) with the rows of the sigmoid gates halved:
    GRU r, z; LSTM i, f, o (``_half_sigmoid_``). An RNN's are returned as they are."""
    if mode not in ("gru", "lstm"):
        return p.w_ih, p.w_hh, p.b_ih, p.b_hh
    hidden = p.w_ih.shape[0] // GATES[mode]
    scale = np.full(p.w_ih.shape[0], 0.5, p.w_ih.dtype)
    scale[2 * hidden:3 * hidden] = 1.0  # GRU n, LSTM g: tanh
    biases = (None, None) if p.b_ih is None else (p.b_ih * scale, p.b_hh * scale)
    return p.w_ih * scale[:, None], p.w_hh * scale[:, None], *biases


def _in_time_order(states: np.ndarray, reverse: bool) -> tuple[np.ndarray, np.ndarray]:
    """(state before step t, state after step t) indexed by time, from the states in processing
    order (``states[0]`` is the initial one)."""
    if reverse:
        return states[-2::-1], states[:0:-1]
    return states[:-1], states[1:]


def _flat_columns(per_step: np.ndarray, tag: str) -> np.ndarray:
    """(T, F, B) as (F, T·B): the columns of all steps side by side, for one GEMM."""
    steps, features, batch = per_step.shape
    flat = _buffer((features, steps * batch), per_step.dtype, "flat_" + tag)
    np.copyto(flat.reshape(features, steps, batch), per_step.transpose(1, 0, 2))
    return flat


def forward(mode: str, p: Arrays, reverse: bool, batch_sizes) -> tuple[np.ndarray, dict]:
    """The flat output [outputs (T, B, P), h_n (B, P), c_n (B, H) for an LSTM] and the cache
    that ``backward`` reads."""
    x = p.x
    steps, batch, features = x.shape
    gh, size = p.w_ih.shape[0], p.w_hh.shape[1]
    hidden = gh // GATES[mode]
    dtype = x.dtype
    # Inside, a step's vectors are columns (features × batch): each gate is a contiguous block.
    # np.dot hands the transposed operand to BLAS as it is; matmul is ~10x slower here.
    w_ih, w_hh, b_ih, b_hh = _halved(mode, p)
    projected = np.dot(w_ih, x.reshape(steps * batch, features).T,
                       out=_buffer((gh, steps * batch), dtype, "projected"))
    xp = _buffer((steps, gh, batch), dtype, "xp")
    by_step = projected.reshape(gh, steps, batch).transpose(1, 0, 2)
    b_hn = None
    if b_ih is None:
        np.copyto(xp, by_step)
    else:
        bias = b_ih + b_hh
        if mode == "gru":  # r and z add both biases; n's hidden bias sits inside r·(W h + b)
            bias[2 * hidden:] = b_ih[2 * hidden:]
            b_hn = b_hh[2 * hidden:, None]
        np.add(by_step, bias[:, None], out=xp)
    # A packed batch leaves columns untouched; zeros keep the vectorized factors of the backward
    # free of uninitialized values there.
    packed = batch_sizes is not None

    def alloc(shape, tag):
        return _buffer(shape, dtype, tag, zeros=packed)

    states = alloc((steps + 1, size, batch), "states")
    states[0] = p.h0.T
    cache = {"states": states}
    if mode in ("gru", "lstm"):
        gates = cache["gates"] = alloc((steps, gh, batch), "gates")
    if mode == "gru":
        hidden_part = cache["hn"] = alloc((steps, hidden, batch), "hn")
        product = np.empty((gh, batch), dtype)
    if mode == "lstm":
        cells = cache["cells"] = alloc((steps + 1, hidden, batch), "cells")
        cells[0] = p.c0.T
        tanh_c = cache["tanh_c"] = alloc((steps, hidden, batch), "tanh_c")
        product = np.empty((hidden, batch), dtype)
        if p.w_hr is not None:
            before_proj = cache["m"] = alloc((steps, hidden, batch), "m")
    def in_order(per_time):  # a per-time array in processing order (a view)
        return per_time[::-1] if reverse else per_time

    sizes = [batch] * steps if batch_sizes is None else \
        [batch_sizes[t] for t in time_steps(steps, reverse)]
    rnn = mode == "rnn_tanh" or mode == "rnn_relu"
    per_step = [states[:-1], states[1:], in_order(xp), sizes]
    if mode == "gru":
        per_step += [in_order(gates), in_order(hidden_part)]
    elif mode == "lstm":
        per_step += [in_order(gates), cells[:-1], cells[1:], in_order(tanh_c)]
        if p.w_hr is not None:
            per_step.append(in_order(before_proj))
    for prev, cur, x_t, n, *extra in zip(*per_step):
        # np.dot is ~3x faster than np.matmul on these small matrices, but needs a contiguous
        # output: a packed batch's active columns are not.
        mm, work = np.dot, product if not rnn else None
        if n < batch:
            cur[:, n:] = prev[:, n:]
            if mode == "lstm":
                extra[2][:, n:] = extra[1][:, n:]
            prev, cur, x_t = prev[:, :n], cur[:, :n], x_t[:, :n]
            extra = [a[:, :n] for a in extra]
            mm, work = np.matmul, None if rnn else product[:, :n]
        if rnn:
            mm(w_hh, prev, out=cur)
            cur += x_t
            if mode == "rnn_tanh":
                np.tanh(cur, out=cur)
            else:
                np.maximum(cur, 0.0, out=cur)
        elif mode == "gru":
            g, hn = extra
            mm(w_hh, prev, out=work)
            rz, new = g[:2 * hidden], g[2 * hidden:]
            np.add(work[:2 * hidden], x_t[:2 * hidden], out=rz)
            _half_sigmoid_(rz)
            if b_hn is None:
                np.copyto(hn, work[2 * hidden:])
            else:
                np.add(work[2 * hidden:], b_hn, out=hn)
            np.multiply(g[:hidden], hn, out=new)
            new += x_t[2 * hidden:]
            np.tanh(new, out=new)
            np.subtract(prev, new, out=cur)  # h' = n + z·(h - n) = (1 - z)·n + z·h
            cur *= g[hidden:2 * hidden]
            cur += new
        else:
            g, c_prev, c, tc = extra[:4]
            mm(w_hh, prev, out=g)
            g += x_t
            np.tanh(g, out=g)  # g's rows are tanh; i, f and o become sigmoids below
            for gate in (g[:2 * hidden], g[3 * hidden:]):
                gate *= 0.5
                gate += 0.5
            np.multiply(g[hidden:2 * hidden], c_prev, out=c)
            np.multiply(g[:hidden], g[2 * hidden:3 * hidden], out=work)
            c += work
            np.tanh(c, out=tc)
            if p.w_hr is None:
                np.multiply(g[3 * hidden:], tc, out=cur)
            else:
                np.multiply(g[3 * hidden:], tc, out=extra[4])
                mm(p.w_hr, extra[4], out=cur)
    total = steps * batch * size
    flat = np.empty(total + batch * size + (batch * hidden if mode == "lstm" else 0), dtype)
    out = flat[:total].reshape(steps, batch, size)
    np.copyto(out, _in_time_order(states, reverse)[1].transpose(0, 2, 1))
    flat[total:total + batch * size].reshape(batch, size)[...] = states[steps].T
    if mode == "lstm":
        flat[total + batch * size:].reshape(batch, hidden)[...] = cells[steps].T
    if batch_sizes is not None:  # a packed batch's outputs past a sequence's end are zeros
        for t, n in enumerate(batch_sizes):
            out[t, n:] = 0.0
    return flat, cache


def _factors(mode: str, p: Arrays, cache: dict, reverse: bool) -> dict:
    """The per-step factors that turn a state's gradient into the gates' gradients."""
    prev, after = _in_time_order(cache["states"], reverse)
    if mode == "rnn_tanh":
        return {"act": 1.0 - after * after}
    if mode == "rnn_relu":
        return {"act": after > 0}
    hidden = p.w_ih.shape[0] // GATES[mode]
    g = cache["gates"]
    shape = (g.shape[0], 3, hidden, g.shape[2])
    factors = _buffer(shape, g.dtype, "factors")
    if mode == "gru":
        r, z, new = g[:, :hidden], g[:, hidden:2 * hidden], g[:, 2 * hidden:]
        base = (1.0 - z) * (1.0 - new * new)  # d h'/d(pre-activation of n)
        np.multiply(base * cache["hn"], r * (1.0 - r), out=factors[:, 0])
        np.multiply(prev - new, z * (1.0 - z), out=factors[:, 1])
        np.multiply(base, r, out=factors[:, 2])
        return {"hidden": factors, "z": z, "base": base}
    i, f, c_gate, o = (g[:, j * hidden:(j + 1) * hidden] for j in range(4))
    cells_prev = _in_time_order(cache["cells"], reverse)[0]
    tc = cache["tanh_c"]
    np.multiply(c_gate, i * (1.0 - i), out=factors[:, 0])
    np.multiply(cells_prev, f * (1.0 - f), out=factors[:, 1])
    np.multiply(i, 1.0 - c_gate * c_gate, out=factors[:, 2])
    return {"cell": factors, "out": tc * o * (1.0 - o), "to_cell": o * (1.0 - tc * tc), "f": f}


def backward(mode: str, p: Arrays, cache: dict, grad: np.ndarray, needs: Arrays, reverse: bool,
             batch_sizes) -> Arrays:
    """The gradients of every input (``None`` where ``needs`` says none is wanted)."""
    steps, batch, features = p.x.shape
    gh, size = p.w_ih.shape[0], p.w_hh.shape[1]
    hidden = gh // GATES[mode]
    dtype = p.x.dtype
    total = steps * batch * size
    g_out = _buffer((steps, size, batch), dtype, "g_out")
    np.copyto(g_out, grad[:total].reshape(steps, batch, size).transpose(0, 2, 1))
    dh = grad[total:total + batch * size].reshape(batch, size).T.copy()
    dc = None
    if mode == "lstm":
        dc = grad[total + batch * size:].reshape(batch, hidden).T.copy()
    factors = _factors(mode, p, cache, reverse)
    w_hh_t = np.ascontiguousarray(p.w_hh.T)
    packed = batch_sizes is not None
    # The gradient at W_hh h + b_hh: (G·H, T, B), so that the weight gradients read it as
    # (G·H, T·B) without a copy; a packed batch's inactive columns stay zero.
    d_gates = _buffer((gh, steps, batch), dtype, "d_gates", zeros=packed)
    by_gate = d_gates.reshape(GATES[mode], hidden, steps, batch).transpose(2, 0, 1, 3)
    if mode == "gru":
        d_state = _buffer((steps, size, batch), dtype, "d_state", zeros=packed)
        product = np.empty((size, batch), dtype)
    if p.w_hr is not None:
        d_proj = _buffer((steps, size, batch), dtype, "d_proj", zeros=packed)
        w_hr_t = np.ascontiguousarray(p.w_hr.T)
        product = np.empty((hidden, batch), dtype)
    def in_order(per_time):  # a per-time array in backward order: the last processed first
        return per_time if reverse else per_time[::-1]

    sizes = [batch] * steps if batch_sizes is None else \
        [batch_sizes[t] for t in reversed(time_steps(steps, reverse))]
    rnn = mode == "rnn_tanh" or mode == "rnn_relu"
    per_step = [in_order(g_out), in_order(d_gates.transpose(1, 0, 2)), in_order(by_gate),
                sizes]
    if rnn:
        per_step.append(in_order(factors["act"]))
    elif mode == "gru":
        per_step += [in_order(d_state), in_order(factors["hidden"]), in_order(factors["z"])]
    else:
        per_step += [in_order(factors["cell"]), in_order(factors["out"]),
                     in_order(factors["to_cell"]), in_order(factors["f"])]
        if p.w_hr is not None:
            per_step.append(in_order(d_proj))
    full_work = product if mode == "gru" or p.w_hr is not None else None
    for g_t, dg, blocks, n, *extra in zip(*per_step):
        mm, d, dcn, work = np.dot, dh, dc, full_work  # np.dot where the output is contiguous
        if n < batch:
            d, g_t, dg, blocks = dh[:, :n], g_t[:, :n], dg[:, :n], blocks[..., :n]
            extra = [a[..., :n] for a in extra]
            mm, dcn = np.matmul, None if dc is None else dc[:, :n]
            work = None if work is None else product[:, :n]
        if rnn:
            d += g_t
            np.multiply(d, extra[0], out=dg)
            mm(w_hh_t, dg, out=d)
        elif mode == "gru":
            ds, factor, z = extra
            np.add(d, g_t, out=ds)
            np.multiply(factor, ds, out=blocks)
            np.multiply(ds, z, out=d)
            d += mm(w_hh_t, dg, out=work)
        else:
            cell, out_factor, to_cell, f = extra[:4]
            d += g_t
            if p.w_hr is None:
                dm = d
            else:
                np.copyto(extra[4], d)
                dm = mm(w_hr_t, d, out=work)
            dcn += dm * to_cell
            np.multiply(cell, dcn, out=blocks[:3])
            np.multiply(dm, out_factor, out=blocks[3])
            mm(w_hh_t, dg, out=d)
            dcn *= f
    d_input = d_gates
    if mode == "gru":  # n's input side has no r in front of it
        d_input = _buffer(d_gates.shape, dtype, "d_input")
        np.copyto(d_input, d_gates)
        np.multiply(d_state.transpose(1, 0, 2), factors["base"].transpose(1, 0, 2),
                    out=d_input[2 * hidden:])
    flat_in = d_input.reshape(gh, steps * batch)
    flat_hidden = d_gates.reshape(gh, steps * batch)
    grads = {}
    if needs.x is not None:
        grads["x"] = np.dot(flat_in.T, p.w_ih).reshape(steps, batch, features)
    if needs.h0 is not None:
        grads["h0"] = dh.T
    if needs.c0 is not None:
        grads["c0"] = dc.T
    if needs.w_ih is not None:
        grads["w_ih"] = np.dot(flat_in, p.x.reshape(steps * batch, features))
    if needs.w_hh is not None:
        prev = _in_time_order(cache["states"], reverse)[0]
        grads["w_hh"] = np.dot(flat_hidden, _flat_columns(prev, "prev").T)
    if needs.b_ih is not None:
        grads["b_ih"] = flat_in.sum(axis=1)
    if needs.b_hh is not None:
        grads["b_hh"] = flat_hidden.sum(axis=1)
    if needs.w_hr is not None:
        grads["w_hr"] = np.dot(_flat_columns(d_proj, "d_proj"), _flat_columns(cache["m"], "m").T)
    return Arrays(*(grads.get(name) for name in Arrays._fields))
