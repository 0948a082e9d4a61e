"""Module state (chainrule/nn/state_dict.py): state_dict / load_state_dict (copies, round trips,
in-place loading, errors naming keys, PyTorch state_dicts loading as they are) and conversion
with to / float / double (parameter identity kept, devices checked), deepcopy and pickle."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck


def make_model():
    return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Dropout(0.3),
                         nn.Linear(6, 3), nn.LayerNorm(3), nn.PReLU(3))


def test_state_dict_holds_copies_of_parameters_and_buffers_in_pytorch_order():
    model = make_model()
    state = model.state_dict()
    assert list(state) == [
        "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
        "1.num_batches_tracked", "4.weight", "4.bias", "5.weight", "5.bias", "6.weight"]
    assert all(isinstance(v, np.ndarray) for v in state.values())
    tracked = state["1.num_batches_tracked"]
    assert tracked.dtype == np.int64 and tracked.shape == ()
    state["0.weight"][...] = 0
    assert model[0].weight.data.any()  # a copy, not a view


def test_non_persistent_buffers_are_left_out():
    module = nn.Module()
    module.register_buffer("kept", cr.ones(2))
    module.register_buffer("temporary", cr.ones(2), persistent=False)
    assert list(module.state_dict()) == ["kept"]
    assert [n for n, _ in module.named_buffers()] == ["kept", "temporary"]


def test_round_trip_restores_outputs_including_running_statistics():
    model = make_model()
    x = cr.randn(8, 4)
    for _ in range(3):
        model(x)
    model.eval()
    expected = model(x).data
    other = make_model().eval()
    assert not np.allclose(other(x).data, expected)
    result = other.load_state_dict(model.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(other(x).data, expected)
    assert int(other[1].num_batches_tracked.item()) == 3


def test_loading_copies_in_place_so_holders_of_the_parameters_see_new_values():
    model = make_model()
    weight = model[0].weight
    held_array = weight.data
    new = {k: np.full_like(v, 0.5) for k, v in model.state_dict().items()}
    model.load_state_dict(new)
    assert model[0].weight is weight and weight.data is held_array
    np.testing.assert_array_equal(held_array, 0.5)


def test_loading_accepts_tensors_and_casts_to_the_parameter_dtype():
    layer = nn.Linear(2, 2)
    layer.load_state_dict({"weight": cr.tensor(np.eye(2), dtype=cr.float64),
                           "bias": np.array([1, 2])})
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    np.testing.assert_array_equal(layer.weight.data, np.eye(2))
    np.testing.assert_array_equal(layer.bias.data, [1.0, 2.0])


def test_missing_and_unexpected_keys_are_named():
    model = make_model()
    state = model.state_dict()
    del state["4.bias"]
    state["extra.weight"] = np.zeros(1)
    with pytest.raises(RuntimeError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert "Error(s) in loading state_dict for Sequential" in message
    assert 'Missing key(s) in state_dict: "4.bias"' in message
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in message
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == ["4.bias"] and unexpected == ["extra.weight"]


def test_shape_mismatch_is_named_even_when_not_strict():
    model = make_model()
    state = model.state_dict()
    state["0.weight"] = np.zeros((4, 6))
    before = model[0].weight.data.copy()
    with pytest.raises(RuntimeError, match=r"size mismatch for 0.weight: copying a param with "
                                           r"shape \(4, 6\) from checkpoint, the shape in current "
                                           r"model is \(6, 4\)"):
        model.load_state_dict(state, strict=False)
    np.testing.assert_array_equal(model[0].weight.data, before)  # nothing half-loaded


def test_load_state_dict_rejects_non_mappings():
    with pytest.raises(TypeError, match="dict-like"):
        nn.Linear(1, 1).load_state_dict([1, 2])


# ---------------------------------------------------------------------------- PyTorch
def test_pytorch_state_dict_converted_to_numpy_loads_as_is_and_gives_the_same_outputs():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    reference = torch.nn.Sequential(
        torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.ReLU(), torch.nn.Dropout(0.3),
        torch.nn.Linear(6, 3), torch.nn.LayerNorm(3), torch.nn.PReLU(3))
    x = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    with torch.no_grad():
        for _ in range(3):  # move the running statistics away from their defaults
            reference(torch.from_numpy(x))
    reference.eval()
    state = {k: v.numpy() for k, v in reference.state_dict().items()}
    model = make_model()
    assert list(state) == list(model.state_dict())
    model.load_state_dict(state)
    model.eval()
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(cr.tensor(x)).data, expected, rtol=1e-5, atol=1e-6)


def test_chainrule_state_dict_loads_into_pytorch():
    torch = pytest.importorskip("torch")
    model = make_model()
    model(cr.randn(8, 4))
    reference = torch.nn.Sequential(
        torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.ReLU(), torch.nn.Dropout(0.3),
        torch.nn.Linear(6, 3), torch.nn.LayerNorm(3), torch.nn.PReLU(3))
    reference.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    model.eval()
    reference.eval()
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(cr.tensor(x)).data, expected, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- dtype and device
def test_to_double_and_back_keeps_parameter_identity():
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    params = list(net.parameters())
    net(cr.randn(4, 3)).sum().backward()
    assert net.double() is net
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert net[1].running_mean.dtype == np.float64
    assert net[1].num_batches_tracked.dtype == np.int64
    assert params[0].grad.dtype == np.float64
    assert gradcheck(net, (cr.randn(4, 3, dtype=cr.float64, requires_grad=True),))
    net.to(cr.float32)
    assert all(p.dtype == np.float32 for p in net.parameters())
    net.to("cpu")
    net.float()
    with pytest.raises(TypeError, match="floating point"):
        net.to(cr.int64)
    with pytest.raises(RuntimeError, match="CPU only"):
        net.to("cuda")


def test_float64_layers_survive_deepcopy_pickle_and_state_dict():
    layer = nn.Linear(3, 2, dtype=cr.float64)
    for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert clone.weight.dtype == clone.bias.dtype == np.float64
        np.testing.assert_array_equal(clone.weight.data, layer.weight.data)
    other = nn.Linear(3, 2, dtype=cr.float64)
    other.load_state_dict(layer.state_dict())
    assert other.weight.dtype == np.float64
    np.testing.assert_array_equal(other.weight.data, layer.weight.data)


def test_module_to_checks_the_device_keyword():
    layer = nn.Linear(2, 3)
    assert layer.to(device="cpu") is layer
    assert layer.to(device="cpu", dtype=cr.float64).weight.dtype == np.float64
    with pytest.raises(RuntimeError, match="CPU only"):
        layer.to(device="cuda")
    with pytest.raises(RuntimeError, match="CPU only"):
        layer.to("cuda:1")
