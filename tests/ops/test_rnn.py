"""The fused recurrent layer (chainrule/ops/rnn.py, _rnn_arrays.py): every mode, both
directions, with and without biases, an LSTM projection and packed batch sizes, by the op specs
against a step-by-step NumPy loop (forward, float32, strided and zero-size inputs, gradcheck and
gradgradcheck through the recorded BPTT); the graph has one node per layer and direction; the
arguments' errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops.rnn import Recurrence, recurrence
from tests.ops.spec import OpSpec, SpecChecks

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "gru": 3, "lstm": 4}


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def reference(mode, reverse=False, bias=True, proj=False, batch_sizes=None):
    """The flat [outputs, h_n, (c_n)] of one layer, one step at a time in NumPy."""

    def run(x, h, *rest):
        rest = list(rest)
        c = rest.pop(0) if mode == "lstm" else None
        w_ih, w_hh = rest.pop(0), rest.pop(0)
        b_ih, b_hh = (rest.pop(0), rest.pop(0)) if bias else (0.0, 0.0)
        w_hr = rest.pop(0) if proj else None
        steps, batch = x.shape[:2]
        hidden = w_ih.shape[0] // GATES[mode]
        outputs = np.zeros((steps, batch, w_hh.shape[1]))
        order = range(steps - 1, -1, -1) if reverse else range(steps)
        for t in order:
            n = batch if batch_sizes is None else batch_sizes[t]
            gi, gh = x[t, :n] @ w_ih.T + b_ih, h[:n] @ w_hh.T + b_hh
            if mode == "rnn_tanh":
                new = np.tanh(gi + gh)
            elif mode == "rnn_relu":
                new = np.maximum(gi + gh, 0.0)
            elif mode == "gru":
                r = _sigmoid(gi[:, :hidden] + gh[:, :hidden])
                z = _sigmoid(gi[:, hidden:2 * hidden] + gh[:, hidden:2 * hidden])
                cand = np.tanh(gi[:, 2 * hidden:] + r * gh[:, 2 * hidden:])
                new = (1 - z) * cand + z * h[:n]
            else:
                a = gi + gh
                i, f = _sigmoid(a[:, :hidden]), _sigmoid(a[:, hidden:2 * hidden])
                g, o = np.tanh(a[:, 2 * hidden:3 * hidden]), _sigmoid(a[:, 3 * hidden:])
                c = c.copy()
                c[:n] = f * c[:n] + i * g
                new = o * np.tanh(c[:n])
                if w_hr is not None:
                    new = new @ w_hr.T
            h = h.copy()
            h[:n] = new
            outputs[t, :n] = new
        pieces = [outputs.ravel(), h.ravel()] + ([c.ravel()] if mode == "lstm" else [])
        return np.concatenate(pieces)

    return run


def op(mode, reverse=False, bias=True, proj=False, batch_sizes=None):
    return lambda *tensors: Recurrence.apply(*tensors, mode=mode, reverse=reverse, bias=bias,
                                             proj=proj, batch_sizes=batch_sizes)


def shapes(mode, steps=3, batch=2, features=2, hidden=3, bias=True, proj=0):
    gates, size = GATES[mode] * hidden, proj or hidden
    case = [(steps, batch, features), (batch, size)] + ([(batch, hidden)] if mode == "lstm"
                                                        else [])
    case += [(gates, features), (gates, size)] + ([(gates,), (gates,)] if bias else [])
    return tuple(case + ([(proj, hidden)] if proj else []))


def _small(x):
    return 0.6 * x  # weights and states of moderate size keep the gates away from saturation


def _spec(name, mode, reverse=False, bias=True, proj=0, batch_sizes=None, cases=None):
    cases = cases or [shapes(mode, bias=bias, proj=proj), shapes(mode, 0, bias=bias, proj=proj)]
    return OpSpec(name, op(mode, reverse, bias, bool(proj), batch_sizes),
                  reference(mode, reverse, bias, bool(proj), batch_sizes), cases,
                  covers=("Recurrence",), domain=_small,
                  no_zero_size="" if batch_sizes is None else "a packed batch has sequences")


PACKED = (3, 2, 2, 1)  # four steps, three sequences of lengths 4, 3, 1

SPECS = [
    _spec("rnn_tanh", "rnn_tanh"),
    _spec("rnn_tanh_reverse_no_bias", "rnn_tanh", reverse=True, bias=False),
    _spec("rnn_relu", "rnn_relu", cases=[shapes("rnn_relu"), shapes("rnn_relu", batch=0)]),
    _spec("gru", "gru", cases=[shapes("gru"), shapes("gru", 4, 3, 1, 2), shapes("gru", 0)]),
    _spec("gru_reverse_no_bias", "gru", reverse=True, bias=False),
    _spec("lstm", "lstm"),
    _spec("lstm_reverse", "lstm", reverse=True),
    _spec("lstm_proj", "lstm", proj=2, cases=[shapes("lstm", proj=2), shapes("lstm", 0, proj=2)]),
    _spec("lstm_proj_reverse_no_bias", "lstm", reverse=True, bias=False, proj=2),
    _spec("gru_packed", "gru", batch_sizes=PACKED, cases=[shapes("gru", 4, 3)]),
    _spec("gru_packed_reverse", "gru", reverse=True, batch_sizes=PACKED,
          cases=[shapes("gru", 4, 3)]),
    _spec("rnn_packed", "rnn_tanh", batch_sizes=PACKED, cases=[shapes("rnn_tanh", 4, 3)]),
    _spec("lstm_proj_packed_reverse", "lstm", reverse=True, proj=2, batch_sizes=PACKED,
          cases=[shapes("lstm", 4, 3, proj=2)]),
    _spec("lstm_packed", "lstm", batch_sizes=PACKED, cases=[shapes("lstm", 4, 3)]),
]


class TestSpecs(SpecChecks):
    specs = SPECS


def test_one_graph_node_per_layer_and_direction():
    x = cr.randn(40, 5, 3, requires_grad=True)
    w_ih, w_hh = cr.randn(18, 3, requires_grad=True), cr.randn(18, 6, requires_grad=True)
    out, h_n, _ = recurrence(x, cr.zeros(5, 6), (w_ih, w_hh), "gru")
    flat = out.grad_fn.next[0]
    while not isinstance(flat, Recurrence):  # the views that split the flat output
        flat = flat.next[0]
    assert isinstance(flat.next[0], cr.Tensor) and flat.next[0] is x


def test_packed_rows_past_their_end_keep_their_state_and_output_zeros():
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((4, 3, 2)), dtype=cr.float64)
    h0 = cr.tensor(rng.standard_normal((3, 3)), dtype=cr.float64)
    weights = (cr.tensor(rng.standard_normal((3, 2)), dtype=cr.float64),
               cr.tensor(rng.standard_normal((3, 3)), dtype=cr.float64))
    out, h_n, _ = recurrence(x, h0, weights, "rnn_tanh", batch_sizes=PACKED)
    assert not out.data[1:, 2].any() and not out.data[3:, 1].any() and out.data[2, 1].any()
    # Sequence 2 has one step: its h_n is the output of that step, as a batch of its own.
    alone, h_alone, _ = recurrence(x[:1, 2:], h0[2:], weights, "rnn_tanh")
    np.testing.assert_allclose(h_n.data[2], h_alone.data[0], rtol=1e-14)


def test_recurrence_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="mode must be one of rnn_tanh, rnn_relu, gru, lstm"):
        recurrence(cr.zeros(2, 1, 1), cr.zeros(1, 1), (cr.zeros(1, 1), cr.zeros(1, 1)), "elman")


@pytest.mark.parametrize("mode", ["gru", "lstm"])
def test_reused_buffers_never_corrupt_a_graph_that_is_still_alive(mode):
    rng = np.random.default_rng(5)
    gates = GATES[mode] * 3
    values = [[rng.standard_normal((6, 2, 2)), rng.standard_normal((gates, 2)),
               rng.standard_normal((gates, 3))] for _ in range(2)]

    def run(arrays):
        x, w_ih, w_hh = (cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in arrays)
        c0 = cr.zeros(2, 3, dtype=cr.float64) if mode == "lstm" else None
        out = recurrence(x, cr.zeros(2, 3, dtype=cr.float64), (w_ih, w_hh), mode, c0)[0]
        return (out * out).sum(), (x, w_ih, w_hh)

    def gradients(loss, leaves):
        loss.backward()
        return [t.grad.data for t in leaves]

    # Both graphs alive at once: the second forward (same shapes) must not take the first's
    # saved buffers, and the first backward must not hand its scratch to the second.
    both = [run(arrays) for arrays in values]
    together = [gradients(*both[1]), gradients(*both[0])][::-1]
    for arrays, grads in zip(values, together):
        for mine, alone in zip(grads, gradients(*run(arrays))):
            np.testing.assert_allclose(mine, alone, rtol=1e-13, atol=1e-15)
