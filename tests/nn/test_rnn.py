"""RNN, GRU and LSTM (chainrule/nn/rnn.py): a PyTorch state_dict loads as it is, and outputs,
final states and every gradient equal PyTorch's over the grid of modes, layers, directions,
batch_first, bias, initial state and LSTM projection (float64 to 1e-10, float32 to 1e-5);
packed batches; unbatched input; PyTorch's initialization; dropout between layers in training
only; a float64 gradient check through a two-layer bidirectional GRU; the argument errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck
from chainrule.nn.utils.rnn import pack_padded_sequence

MODES = [("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("GRU", {}), ("LSTM", {}),
         ("LSTM", {"proj_size": 2})]
GRID = list(itertools.product(range(len(MODES)), (1, 2), (False, True), (False, True),
                              (True, False), (False, True)))


def _pair(mode, options, dtype, **kwargs):
    """A chainrule layer and a PyTorch layer with the same (PyTorch's) weights."""
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.nn, mode)(**kwargs, **options).to(getattr(torch, dtype))
    ours = getattr(nn, mode)(**kwargs, **options, dtype=getattr(cr, dtype))
    ours.load_state_dict({k: cr.from_numpy(v.detach().numpy().copy()) for k, v in
                          theirs.state_dict().items()})
    return ours, theirs


def _compare(mode, options, dtype, layers, bidirectional, batch_first, bias, initial, rtol,
             atol):
    torch = pytest.importorskip("torch")
    kwargs = dict(input_size=3, hidden_size=4, num_layers=layers, bias=bias,
                  batch_first=batch_first, bidirectional=bidirectional)
    ours, theirs = _pair(mode, options, dtype, **kwargs)
    rng = np.random.default_rng(layers * 7 + bidirectional)
    steps, batch = 5, 3
    x = rng.standard_normal((batch, steps, 3) if batch_first else (steps, batch, 3))
    directions = 2 if bidirectional else 1
    size = options.get("proj_size") or 4
    states = [rng.standard_normal((directions * layers, batch, size))]
    if mode == "LSTM":
        states.append(rng.standard_normal((directions * layers, batch, 4)))
    np_dtype = np.dtype(dtype)
    x_ours = cr.from_numpy(x.astype(np_dtype)).requires_grad_()
    x_theirs = torch.tensor(x.astype(np_dtype), requires_grad=True)
    s_ours = [cr.from_numpy(s.astype(np_dtype)).requires_grad_() for s in states]
    s_theirs = [torch.tensor(s.astype(np_dtype), requires_grad=True) for s in states]

    def hx(states):
        if not initial:
            return None
        return tuple(states) if mode == "LSTM" else states[0]

    out, h_ours = ours(x_ours, hx(s_ours))
    expected, h_theirs = theirs(x_theirs, hx(s_theirs))
    finals = (h_ours if mode == "LSTM" else (h_ours,), h_theirs if mode == "LSTM" else
              (h_theirs,))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=rtol, atol=atol)
    for mine, reference in zip(*finals):
        np.testing.assert_allclose(mine.data, reference.detach().numpy(), rtol=rtol, atol=atol)
    weights = rng.standard_normal(out.shape).astype(np_dtype)
    loss = (out * cr.from_numpy(weights)).sum()
    torch_loss = (expected * torch.tensor(weights)).sum()
    for position, (mine, reference) in enumerate(zip(*finals)):
        w = rng.standard_normal(mine.shape).astype(np_dtype)
        loss = loss + (mine * cr.from_numpy(w)).sum()
        torch_loss = torch_loss + (reference * torch.tensor(w)).sum()
    loss.backward()
    torch_loss.backward()
    np.testing.assert_allclose(x_ours.grad.data, x_theirs.grad.numpy(), rtol=rtol, atol=atol)
    if initial:
        for mine, reference in zip(s_ours, s_theirs):
            np.testing.assert_allclose(mine.grad.data, reference.grad.numpy(), rtol=rtol,
                                       atol=atol)
    parameters = dict(theirs.named_parameters())
    for name, parameter in ours.named_parameters():
        np.testing.assert_allclose(parameter.grad.data, parameters[name].grad.numpy(),
                                   rtol=rtol, atol=atol, err_msg=name)


def _grid_id(case):
    mode, layers, bidirectional, batch_first, bias, initial = case
    name, options = MODES[mode]
    return "-".join([name + "".join(f"_{v}" for v in options.values()), f"layers{layers}",
                     "bi" if bidirectional else "uni", "bf" if batch_first else "tf",
                     "bias" if bias else "nobias", "h0" if initial else "zeros"])


@pytest.mark.parametrize("case", GRID, ids=[_grid_id(c) for c in GRID])
def test_matches_pytorch_in_float64(case):
    mode, *rest = case
    _compare(*MODES[mode], "float64", *rest, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", GRID[::5], ids=[_grid_id(c) for c in GRID[::5]])
def test_matches_pytorch_in_float32(case):
    mode, *rest = case
    _compare(*MODES[mode], "float32", *rest, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode, options", MODES, ids=[m + str(o) for m, o in MODES])
def test_state_dict_keys_and_shapes_are_pytorchs(mode, options):
    torch = pytest.importorskip("torch")
    kwargs = dict(input_size=3, hidden_size=5, num_layers=2, bidirectional=True)
    ours = getattr(nn, mode)(**kwargs, **options)
    theirs = getattr(torch.nn, mode)(**kwargs, **options)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]


def test_initialization_is_uniform_within_one_over_sqrt_hidden():
    cr.manual_seed(0)
    gru = nn.GRU(50, 100)
    bound = 1 / np.sqrt(100)
    for name, parameter in gru.named_parameters():
        values = parameter.data
        assert np.abs(values).max() <= bound, name
        assert abs(values.std() - bound / np.sqrt(3)) < 0.05 * bound, name
    before = gru.weight_hh_l0.data.copy()
    gru.reset_parameters()
    assert not np.allclose(before, gru.weight_hh_l0.data)


@pytest.mark.parametrize("mode", ["GRU", "LSTM"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_batch_matches_pytorch(mode, bidirectional):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(mode, {}, "float64", input_size=2, hidden_size=3, num_layers=2,
                         bidirectional=bidirectional)
    lengths = [2, 5, 3, 1]  # unsorted: the packed batch keeps the order
    x = np.random.default_rng(3).standard_normal((5, 4, 2))
    x_ours, x_theirs = cr.tensor(x, dtype=cr.float64, requires_grad=True), \
        torch.tensor(x, requires_grad=True)
    packed = pack_padded_sequence(x_ours, lengths, enforce_sorted=False)
    reference = torch.nn.utils.rnn.pack_padded_sequence(x_theirs, lengths, enforce_sorted=False)
    directions = 2 if bidirectional else 1
    initial = np.random.default_rng(4).standard_normal((2 * directions, 4, 3))
    h0, h0_ref = cr.tensor(initial, dtype=cr.float64, requires_grad=True), \
        torch.tensor(initial, requires_grad=True)
    hx, hx_ref = ((h0, h0 * 0.5), (h0_ref, h0_ref * 0.5)) if mode == "LSTM" else (h0, h0_ref)
    out, state = ours(packed, hx)  # the state is given in the batch's order, not the sorted one
    expected, expected_state = theirs(reference, hx_ref)
    np.testing.assert_array_equal(out.batch_sizes.data, expected.batch_sizes.numpy())
    np.testing.assert_allclose(out.data.data, expected.data.detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    h, h_ref = (state[0], expected_state[0]) if mode == "LSTM" else (state, expected_state)
    np.testing.assert_allclose(h.data, h_ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    (out.data.sum() + (h * h).sum()).backward()
    (expected.data.sum() + (h_ref * h_ref).sum()).backward()
    np.testing.assert_allclose(x_ours.grad.data, x_theirs.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h0.grad.data, h0_ref.grad.numpy(), rtol=1e-10, atol=1e-12)
    parameters = dict(theirs.named_parameters())
    for name, parameter in ours.named_parameters():
        np.testing.assert_allclose(parameter.grad.data, parameters[name].grad.numpy(),
                                   rtol=1e-10, atol=1e-12, err_msg=name)


def test_unbatched_input_matches_a_batch_of_one():
    lstm = nn.LSTM(3, 4, num_layers=2, dtype=cr.float64)
    x = cr.randn(6, 3, dtype=cr.float64)
    out, (h, c) = lstm(x)
    batch_out, (batch_h, batch_c) = lstm(x.unsqueeze(1))
    assert out.shape == (6, 4) and h.shape == (2, 4)
    np.testing.assert_allclose(out.data, batch_out.data[:, 0], rtol=1e-14)
    np.testing.assert_allclose(c.data, batch_c.data[:, 0], rtol=1e-14)


def test_dropout_acts_between_layers_in_training_only():
    cr.manual_seed(0)
    gru = nn.GRU(3, 8, num_layers=3, dropout=0.5)
    x = cr.randn(7, 2, 3)
    gru.eval()
    first, second = gru(x)[0], gru(x)[0]
    np.testing.assert_array_equal(first.data, second.data)
    gru.train()
    trained = [gru(x)[0].data for _ in range(2)]
    assert not np.allclose(trained[0], trained[1])
    # The last layer's output is not dropped: no exact zeros there.
    assert np.count_nonzero(trained[0] == 0.0) == 0
    plain = nn.GRU(3, 8, num_layers=3)
    plain.load_state_dict(gru.state_dict())
    np.testing.assert_allclose(plain(x)[0].data, first.data, rtol=1e-6)


def test_dropout_with_one_layer_warns_as_pytorch():
    with pytest.warns(UserWarning, match="dropout=0.2 acts between layers"):
        nn.LSTM(2, 3, dropout=0.2)


def test_gradient_check_through_a_two_layer_bidirectional_gru():
    gru = nn.GRU(2, 3, num_layers=2, bidirectional=True, dtype=cr.float64)
    x = cr.randn(4, 2, 2, dtype=cr.float64, requires_grad=True)
    h0 = cr.randn(4, 2, 3, dtype=cr.float64, requires_grad=True)
    assert gradcheck(lambda x, h0: gru(x, h0)[0], [x, h0])


@pytest.mark.parametrize("make, match", [
    (lambda: nn.RNN(3, 0), "hidden_size must be an int >= 1"),
    (lambda: nn.GRU(3, 4, num_layers=0), "num_layers must be an int >= 1"),
    (lambda: nn.RNN(3, 4, nonlinearity="sigmoid"), "nonlinearity must be 'tanh' or 'relu'"),
    (lambda: nn.LSTM(3, 4, proj_size=4), r"proj_size \(4\) must be smaller than hidden_size"),
    (lambda: nn.GRU(3, 4, dropout=1.5), r"dropout must be a number in \[0, 1\]"),
    (lambda: nn.RNNBase("GRU", 3, 4, proj_size=2), "proj_size is an LSTM option"),
])
def test_bad_arguments_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_inputs_name_the_expected_shape():
    gru = nn.GRU(3, 4, num_layers=2)
    with pytest.raises(ValueError, match="expected input of 3 features"):
        gru(cr.zeros(5, 2, 4))
    with pytest.raises(ValueError, match=r"expected hx of shape \(2, 2, 4\)"):
        gru(cr.zeros(5, 2, 3), cr.zeros(1, 2, 4))
    with pytest.raises(ValueError, match="expected an input of 3 dimensions"):
        gru(cr.zeros(5))
    with pytest.raises(TypeError, match="input dtype float64 does not match"):
        gru(cr.zeros(5, 2, 3, dtype=cr.float64))
    with pytest.raises(TypeError, match=r"hx must be a tuple \(h_0, c_0\)"):
        nn.LSTM(3, 4)(cr.zeros(5, 2, 3), cr.zeros(1, 2, 4))
