"""Parameter and the layers' factory kwargs (chainrule/nn/parameter.py): every layer takes
``dtype=`` for each parameter and floating buffer and ``device=`` for the CPU only, in PyTorch's
positions; ``Parameter`` keeps the dtype it is given."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

# name -> (factory taking the factory kwargs, input shape)
LAYERS = {
    "Linear": (lambda **kw: nn.Linear(4, 3, **kw), (5, 4)),
    "Maxout": (lambda **kw: nn.Maxout(4, 3, 2, **kw), (5, 4)),
    "Conv1d": (lambda **kw: nn.Conv1d(2, 3, 3, padding=1, **kw), (2, 2, 7)),
    "Conv2d": (lambda **kw: nn.Conv2d(2, 3, 3, stride=2, **kw), (2, 2, 5, 5)),
    "BatchNorm1d": (lambda **kw: nn.BatchNorm1d(3, **kw), (6, 3)),
    "BatchNorm1d_3d": (lambda **kw: nn.BatchNorm1d(3, **kw), (4, 3, 5)),
    "BatchNorm2d": (lambda **kw: nn.BatchNorm2d(3, **kw), (4, 3, 2, 2)),
    "LayerNorm": (lambda **kw: nn.LayerNorm((2, 4), **kw), (3, 2, 4)),
    "PReLU": (lambda **kw: nn.PReLU(3, **kw), (2, 3, 4)),
    "ResidualMLPBlock": (lambda **kw: nn.ResidualMLPBlock(4, hidden=6, **kw), (3, 4)),
    "BasicBlock": (lambda **kw: nn.BasicBlock(2, 3, stride=2, **kw), (2, 2, 4, 4)),
}


def _layer(name, **factory_kwargs):
    factory, shape = LAYERS[name]
    return factory(**factory_kwargs), shape


def _floating_state(module):
    return [(name, t) for name, t in list(module.named_parameters()) + list(module.named_buffers())
            if name.split(".")[-1] != "num_batches_tracked"]


# ---------------------------------------------------------------------------- dtype=
@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_parameter_and_floating_buffer_takes_the_layer_dtype(name, dtype):
    layer, _ = _layer(name, dtype=dtype)
    state = _floating_state(layer)
    assert state, f"{name} has no parameters or floating buffers to check"
    for key, tensor in state:
        assert tensor.dtype == dtype, f"{name}.{key} is {tensor.dtype}, expected {dtype}"
    for key, buffer in layer.named_buffers():
        if key.split(".")[-1] == "num_batches_tracked":
            assert buffer.dtype == np.int64  # a counter, int64 as in PyTorch, whatever the dtype


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_forward_and_gradients_run_in_float64(name):
    layer, shape = _layer(name, dtype=cr.float64)
    x = cr.randn(*shape, dtype=cr.float64, requires_grad=True)
    out = layer(x)
    assert out.dtype == np.float64
    (out * out).sum().backward()
    assert x.grad.dtype == np.float64
    for key, param in layer.named_parameters():
        assert param.grad is not None and param.grad.dtype == np.float64, key


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_float64_and_float32_layers_draw_the_same_initial_values(name):
    # The same RNG stream whatever the dtype: the float64 layer holds the float32 layer's
    # values exactly, and both leave the generator in the same state.
    cr.manual_seed(7)
    single, _ = _layer(name)
    after_single = cr.rand(3).data
    cr.manual_seed(7)
    double, _ = _layer(name, dtype=cr.float64)
    after_double = cr.rand(3).data
    for (key, a), (_, b) in zip(_floating_state(single), _floating_state(double)):
        np.testing.assert_array_equal(b.data, a.data.astype(np.float64), err_msg=key)
    np.testing.assert_array_equal(after_single, after_double)


@pytest.mark.parametrize("dtype", [cr.int64, cr.bool])
@pytest.mark.parametrize("name", ["Linear", "Conv2d", "BatchNorm1d", "LayerNorm", "PReLU"])
def test_a_non_floating_dtype_is_an_error_naming_the_layer(name, dtype):
    with pytest.raises(TypeError, match="floating-point"):
        _layer(name, dtype=dtype)


# ---------------------------------------------------------------------------- positions
def test_device_and_dtype_sit_where_pytorch_puts_them():
    f64 = cr.float64
    layers = [
        nn.Linear(2, 3, True, "cpu", f64),
        nn.Maxout(2, 3, 2, True, "cpu", f64),
        nn.Conv1d(2, 3, 3, 1, 0, 1, 1, True, "zeros", "cpu", f64),
        nn.Conv2d(2, 3, 3, 1, 0, 1, 1, True, "zeros", "cpu", f64),
        nn.BatchNorm1d(3, 1e-5, 0.1, True, True, "cpu", f64),
        nn.BatchNorm2d(3, 1e-5, 0.1, True, True, "cpu", f64),
        nn.LayerNorm(4, 1e-5, True, True, "cpu", f64),
        nn.PReLU(1, 0.25, "cpu", f64),
    ]
    for layer in layers:
        assert all(t.dtype == f64 for _, t in _floating_state(layer)), type(layer).__name__


def test_factory_kwargs_are_in_the_positions_of_torch_signatures():
    torch = pytest.importorskip("torch")
    import inspect

    pairs = [(nn.Linear, torch.nn.Linear), (nn.Conv1d, torch.nn.Conv1d),
             (nn.Conv2d, torch.nn.Conv2d), (nn.BatchNorm1d, torch.nn.BatchNorm1d),
             (nn.BatchNorm2d, torch.nn.BatchNorm2d), (nn.LayerNorm, torch.nn.LayerNorm),
             (nn.PReLU, torch.nn.PReLU)]

    def positional(cls):
        return [p.name for p in inspect.signature(cls.__init__).parameters.values()
                if p.kind is p.POSITIONAL_OR_KEYWORD]

    for ours, theirs in pairs:
        assert positional(ours) == positional(theirs), ours.__name__


# ---------------------------------------------------------------------------- device=
@pytest.mark.parametrize("device", [None, "cpu", "cpu:0"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_the_cpu_device_is_accepted(name, device):
    layer, shape = _layer(name, device=device)
    assert layer(cr.randn(*shape)).dtype == np.float32


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "mps", 0, "banana"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_any_other_device_is_a_clear_error(name, device):
    with pytest.raises(RuntimeError, match="CPU only"):
        _layer(name, device=device)


def test_a_torch_cpu_device_object_is_accepted():
    torch = pytest.importorskip("torch")
    assert nn.Linear(2, 3, device=torch.device("cpu")).weight.dtype == np.float32
    with pytest.raises(RuntimeError, match="CPU only"):
        nn.Linear(2, 3, device=torch.device("meta"))


# ---------------------------------------------------------------------------- Parameter
def test_parameter_keeps_the_dtype_of_a_tensor():
    source = cr.zeros(3, dtype=cr.float64)
    param = nn.Parameter(source)
    assert param.dtype == np.float64 and param.requires_grad
    assert np.shares_memory(param.data, source.data)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_parameter_keeps_the_dtype_of_a_floating_ndarray_and_shares_it(dtype):
    array = np.arange(6, dtype=dtype).reshape(2, 3)
    param = nn.Parameter(array)
    assert param.dtype == dtype
    assert np.shares_memory(param.data, array)


def test_parameter_from_lists_follows_the_tensor_rules():
    assert nn.Parameter([1.0, 2.0]).dtype == np.float32
    assert nn.Parameter().dtype == np.float32
    with pytest.raises(RuntimeError, match="floating-point"):
        nn.Parameter(np.arange(3))


def test_float64_parameter_survives_pickle_and_trains_in_float64():
    param = nn.Parameter(np.linspace(-1.0, 1.0, 4))
    assert pickle.loads(pickle.dumps(param)).dtype == np.float64
    (param * param).sum().backward()
    assert param.grad.dtype == np.float64
    np.testing.assert_allclose(param.grad.data, 2 * np.linspace(-1.0, 1.0, 4), rtol=1e-15)


def test_parameter_dtype_matches_torch():
    torch = pytest.importorskip("torch")
    for dtype, torch_dtype in ((cr.float64, torch.float64), (cr.float32, torch.float32)):
        ours = nn.Parameter(cr.zeros(3, dtype=dtype))
        theirs = torch.nn.Parameter(torch.zeros(3, dtype=torch_dtype))
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")


# ---------------------------------------------------------------------------- vs torch
def _torch_twin(torch, name):
    tnn = torch.nn
    return {
        "Linear": lambda: tnn.Linear(4, 3, dtype=torch.float64),
        "Conv1d": lambda: tnn.Conv1d(2, 3, 3, padding=1, dtype=torch.float64),
        "Conv2d": lambda: tnn.Conv2d(2, 3, 3, stride=2, dtype=torch.float64),
        "BatchNorm1d": lambda: tnn.BatchNorm1d(3, dtype=torch.float64),
        "BatchNorm1d_3d": lambda: tnn.BatchNorm1d(3, dtype=torch.float64),
        "BatchNorm2d": lambda: tnn.BatchNorm2d(3, dtype=torch.float64),
        "LayerNorm": lambda: tnn.LayerNorm((2, 4), dtype=torch.float64),
        "PReLU": lambda: tnn.PReLU(3, dtype=torch.float64),
    }[name]()


@pytest.mark.parametrize("name", ["Linear", "Conv1d", "Conv2d", "BatchNorm1d", "BatchNorm1d_3d",
                                  "BatchNorm2d", "LayerNorm", "PReLU"])
def test_float64_layers_match_torch_in_float64(name):
    torch = pytest.importorskip("torch")
    theirs = _torch_twin(torch, name)
    ours, shape = _layer(name, dtype=cr.float64)
    assert {k: str(v.dtype) for k, v in ours.state_dict().items()} == {
        k: str(v.dtype).replace("torch.", "") for k, v in theirs.state_dict().items()}
    with torch.no_grad():  # random affine parameters, so they matter in the comparison
        for param in theirs.parameters():
            param.uniform_(-1.0, 1.0)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(4).standard_normal(shape)
    x_theirs = torch.tensor(x, requires_grad=True)
    out_theirs = theirs(x_theirs)
    (out_theirs ** 2).sum().backward()
    x_ours = cr.tensor(x, dtype=cr.float64, requires_grad=True)
    out_ours = ours(x_ours)
    (out_ours * out_ours).sum().backward()
    assert out_ours.dtype == np.float64
    np.testing.assert_allclose(out_ours.data, out_theirs.detach().numpy(), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(x_ours.grad.data, x_theirs.grad.numpy(), rtol=1e-10, atol=1e-11)
    for key, param in theirs.named_parameters():
        np.testing.assert_allclose(ours.get_parameter(key).grad.data, param.grad.numpy(),
                                   rtol=1e-10, atol=1e-11, err_msg=key)
    for key, buffer in theirs.named_buffers():
        np.testing.assert_allclose(ours.state_dict()[key], buffer.numpy(), rtol=1e-12,
                                   err_msg=key)
