"""RNNCell, GRUCell and LSTMCell (chainrule/nn/rnn_cells.py): PyTorch's parameters, values and
gradients; a loop of cells computes what the fused layer computes; unbatched input, zero
default state, float64 gradient checks, and the argument errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck

CELLS = [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("GRUCell", {}),
         ("LSTMCell", {}), ("GRUCell", {"bias": False})]


def _pair(name, options):
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.nn, name)(3, 4, **options).double()
    ours = getattr(nn, name)(3, 4, **options, dtype=cr.float64)
    ours.load_state_dict({k: cr.from_numpy(v.detach().numpy().copy())
                          for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("name, options", CELLS, ids=[n + str(o) for n, o in CELLS])
def test_matches_pytorch(name, options):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(name, options)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    rng = np.random.default_rng(0)
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    mine = [cr.from_numpy(a.copy()).requires_grad_() for a in (x, h, c)]
    reference = [torch.tensor(a, requires_grad=True) for a in (x, h, c)]
    if name == "LSTMCell":
        out, expected = ours(mine[0], tuple(mine[1:])), theirs(reference[0], tuple(reference[1:]))
    else:
        out, expected = (ours(*mine[:2]),), (theirs(*reference[:2]),)
        mine, reference = mine[:2], reference[:2]
    for a, b in zip(out, expected):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-12, atol=1e-12)
    sum(((a * a).sum() for a in out), cr.zeros((), dtype=cr.float64)).backward()
    sum((b * b).sum() for b in expected).backward()
    for a, b in zip(mine, reference):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-12, atol=1e-12)
    parameters = dict(theirs.named_parameters())
    for key, parameter in ours.named_parameters():
        np.testing.assert_allclose(parameter.grad.data, parameters[key].grad.numpy(),
                                   rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell_type, layer_type", [(nn.GRUCell, nn.GRU), (nn.LSTMCell, nn.LSTM),
                                                   (nn.RNNCell, nn.RNN)])
def test_a_loop_of_cells_is_the_fused_layer(cell_type, layer_type):
    layer = layer_type(3, 4, dtype=cr.float64)
    cell = cell_type(3, 4, dtype=cr.float64)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    x = cr.randn(6, 2, 3, dtype=cr.float64)
    out, _ = layer(x)
    state = None
    for t in range(6):
        state = cell(x[t], state)
        h = state[0] if isinstance(state, tuple) else state
        np.testing.assert_allclose(h.data, out.data[t], rtol=1e-12, atol=1e-14)


def test_unbatched_input_and_default_state():
    cell = nn.LSTMCell(3, 4, dtype=cr.float64)
    x = cr.randn(3, dtype=cr.float64)
    h, c = cell(x)
    batch_h, batch_c = cell(x.unsqueeze(0), (cr.zeros(1, 4, dtype=cr.float64),
                                             cr.zeros(1, 4, dtype=cr.float64)))
    assert h.shape == (4,)
    np.testing.assert_allclose(c.data, batch_c.data[0], rtol=1e-14)


@pytest.mark.parametrize("name, options", CELLS, ids=[n + str(o) for n, o in CELLS])
def test_gradient_checks_in_float64(name, options):
    cell = getattr(nn, name)(2, 3, **options, dtype=cr.float64)
    x = cr.randn(2, 2, dtype=cr.float64, requires_grad=True)
    h = cr.randn(2, 3, dtype=cr.float64, requires_grad=True)

    def step(x, h):
        out = cell(x, (h, h * 0.5) if name == "LSTMCell" else h)
        return out[1] if name == "LSTMCell" else out

    assert gradcheck(step, [x, h])
    assert gradgradcheck(step, [x, h])


def test_bad_inputs_are_refused():
    cell = nn.GRUCell(3, 4)
    with pytest.raises(ValueError, match=r"expected an input \(batch, 3\)"):
        cell(cr.zeros(2, 5))
    with pytest.raises(ValueError, match=r"expected a hidden state of shape \(2, 4\)"):
        cell(cr.zeros(2, 3), cr.zeros(2, 5))
    with pytest.raises(TypeError, match=r"hx must be a tuple \(h, c\)"):
        nn.LSTMCell(3, 4)(cr.zeros(2, 3), cr.zeros(2, 4))
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        nn.RNNCell(3, 4, nonlinearity="gelu")
