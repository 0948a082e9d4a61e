"""Layers with parameters or modes: Linear, Dropout, BatchNorm, LayerNorm and residual blocks."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck


def f64(*shape, requires_grad=True, seed=0):
    values = np.random.default_rng(seed).standard_normal(shape)
    return cr.tensor(values, dtype=cr.float64, requires_grad=requires_grad)


# ---------------------------------------------------------------------------- Linear
def test_linear_computes_x_wt_plus_b_in_float32():
    layer = nn.Linear(5, 3)
    assert layer.weight.shape == (3, 5) and layer.bias.shape == (3,)
    assert layer.weight.dtype == np.float32
    x = cr.randn(4, 5)
    out = layer(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, x.data @ layer.weight.data.T + layer.bias.data,
                               rtol=1e-6)
    assert layer(cr.randn(2, 7, 5)).shape == (2, 7, 3)
    assert layer(cr.randn(5)).shape == (3,)


def test_linear_default_init_is_uniform_within_one_over_sqrt_fan_in():
    cr.manual_seed(0)
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    weight = layer.weight.data
    assert np.abs(weight).max() <= bound and np.abs(layer.bias.data).max() <= bound
    # U(-b, b) has standard deviation b/√3; 120000 samples pin it to well under 1%.
    assert abs(weight.std() - bound / math.sqrt(3)) < 0.01 * bound
    before = weight.copy()
    layer.reset_parameters()
    assert not np.allclose(before, layer.weight.data)
    cr.manual_seed(0)
    again = nn.Linear(400, 300)
    np.testing.assert_array_equal(again.weight.data, before)


def test_linear_without_bias():
    layer = nn.Linear(3, 2, bias=False)
    assert layer.bias is None and list(layer.state_dict()) == ["weight"]
    assert "bias=False" in repr(layer)
    x = cr.randn(4, 3)
    np.testing.assert_allclose(layer(x).data, x.data @ layer.weight.data.T, rtol=1e-6)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 3), (3,)])
def test_linear_gradients_wrt_input_weight_and_bias(shape):
    x, weight, bias = f64(*shape), f64(2, 3, seed=1), f64(2, seed=2)
    assert gradcheck(F.linear, (x, weight, bias))
    assert gradgradcheck(F.linear, (x, weight, bias))
    assert gradcheck(lambda a, w: F.linear(a, w), (x, weight))


def test_linear_matches_pytorch():
    torch = pytest.importorskip("torch")
    layer = nn.Linear(5, 3)
    reference = torch.nn.Linear(5, 3)
    with torch.no_grad():
        reference.weight.copy_(torch.from_numpy(layer.weight.data))
        reference.bias.copy_(torch.from_numpy(layer.bias.data))
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    layer(cr.tensor(x)).sum().backward()
    reference(torch.from_numpy(x)).sum().backward()
    np.testing.assert_allclose(layer.weight.grad.data, reference.weight.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(layer.bias.grad.data, reference.bias.grad.numpy(), rtol=1e-5)


def test_linear_errors_name_shapes_and_dtypes():
    with pytest.raises(ValueError, match=r"input of shape \(4, 6\) does not match weight of "
                                         r"shape \(3, 5\)"):
        nn.Linear(5, 3)(cr.randn(4, 6))
    with pytest.raises(TypeError, match="input dtype float64 does not match weight dtype float32"):
        nn.Linear(5, 3)(cr.randn(4, 5, dtype=cr.float64))


# ---------------------------------------------------------------------------- Dropout
def _five_sigma(p: float, n: int) -> float:
    return 5 * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_zeroes_a_fraction_p_and_keeps_the_expected_value(p):
    n = 200_000
    x = cr.ones(n)
    out = nn.Dropout(p)(x).data
    dropped = (out == 0).mean()
    assert abs(dropped - p) < _five_sigma(p, n)
    np.testing.assert_allclose(out[out != 0], 1 / (1 - p), rtol=1e-6)
    # mean of n i.i.d. values that are 0 or 1/(1-p): standard deviation √(p/(1-p)/n)
    assert abs(out.mean() - 1.0) < 5 * math.sqrt(p / (1 - p) / n)


def test_dropout_gradient_is_the_mask_and_eval_is_the_identity():
    layer = nn.Dropout(0.4)
    x = cr.ones(1000, requires_grad=True)
    out = layer(x)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, out.data)
    layer.eval()
    assert layer(x) is x
    assert F.dropout(x, 0.4, training=False) is x
    assert not F.dropout(cr.ones(10), 1.0).data.any()
    np.testing.assert_array_equal(F.dropout(cr.ones(10), 0.0).data, 1.0)


def test_dropout_validates_p_and_is_reproducible():
    with pytest.raises(ValueError, match=r"between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(cr.ones(3), -0.1)
    cr.manual_seed(3)
    a = F.dropout(cr.ones(50), 0.5).data
    cr.manual_seed(3)
    np.testing.assert_array_equal(a, F.dropout(cr.ones(50), 0.5).data)


def test_dropout2d_and_dropout1d_drop_whole_channels():
    n, c = 64, 32
    out = nn.Dropout2d(0.5)(cr.ones(n, c, 3, 3)).data
    per_channel = out.reshape(n, c, -1)
    assert ((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1)).all()
    assert abs((per_channel[..., 0] == 0).mean() - 0.5) < _five_sigma(0.5, n * c)
    out1 = nn.Dropout1d(0.5)(cr.ones(n, c, 7)).data
    assert ((out1 == 0).all(-1) | (out1 == 2.0).all(-1)).all()
    layer = nn.Dropout2d(0.5).eval()
    x = cr.ones(2, 3, 4, 4)
    assert layer(x) is x


# ---------------------------------------------------------------------------- BatchNorm
def test_batchnorm_training_normalizes_and_updates_running_stats():
    bn = nn.BatchNorm1d(3, momentum=0.1)
    x = cr.tensor(np.random.default_rng(0).normal(2.0, 3.0, (50, 3)))
    out = bn(x).data
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(out.var(0), 1, atol=1e-3)
    np.testing.assert_allclose(bn.running_mean.data, 0.1 * x.data.mean(0), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.data, 0.9 + 0.1 * x.data.var(0, ddof=1), rtol=1e-5)
    assert int(bn.num_batches_tracked.item()) == 1


def test_batchnorm_eval_uses_running_stats_and_does_not_update_them():
    bn = nn.BatchNorm2d(2)
    bn.running_mean.data[:] = [1.0, -1.0]
    bn.running_var.data[:] = [4.0, 0.25]
    bn.weight.data[:] = [2.0, 3.0]
    bn.bias.data[:] = [0.5, 0.0]
    bn.eval()
    x = cr.randn(3, 2, 4, 4)
    expected = ((x.data - bn.running_mean.data.reshape(1, 2, 1, 1))
                / np.sqrt(bn.running_var.data.reshape(1, 2, 1, 1) + bn.eps)
                * bn.weight.data.reshape(1, 2, 1, 1) + bn.bias.data.reshape(1, 2, 1, 1))
    np.testing.assert_allclose(bn(x).data, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(bn.running_mean.data, [1.0, -1.0])
    assert int(bn.num_batches_tracked.item()) == 0


def test_batchnorm_momentum_none_is_a_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None)
    batches = [cr.randn(10, 2) * (i + 1) + i for i in range(4)]
    for batch in batches:
        bn(batch)
    np.testing.assert_allclose(bn.running_mean.data,
                               np.mean([b.data.mean(0) for b in batches], axis=0), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.data,
                               np.mean([b.data.var(0, ddof=1) for b in batches], axis=0),
                               rtol=1e-5)


@pytest.mark.parametrize("shape, layer", [((6, 3), nn.BatchNorm1d), ((4, 3, 5), nn.BatchNorm1d),
                                          ((2, 3, 4, 4), nn.BatchNorm2d)])
def test_batchnorm_matches_pytorch_over_training_steps_and_in_eval(shape, layer):
    torch = pytest.importorskip("torch")
    ours = layer(3, momentum=0.3)
    theirs = getattr(torch.nn, layer.__name__)(3, momentum=0.3)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor([1.5, -0.5, 2.0]))
        theirs.bias.copy_(torch.tensor([0.1, 0.2, -0.3]))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(0)
    for step in range(3):
        x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
        grad = rng.standard_normal(shape).astype(np.float32)
        xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, expected = ours(xc), theirs(xt)
        out.backward(cr.tensor(grad))
        expected.backward(torch.tensor(grad))
        np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(xc.grad.data, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-4)
    np.testing.assert_allclose(ours.bias.grad.data, theirs.bias.grad.numpy(), rtol=1e-4)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key], value.numpy(), rtol=1e-5, atol=1e-6)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(ours(cr.tensor(x)).data,
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2, 2)])
def test_batch_norm_gradcheck_and_gradgradcheck(training, shape):
    x, weight, bias = f64(*shape), f64(3, seed=1), f64(3, seed=2)
    mean, var = cr.tensor([0.1, -0.2, 0.3], dtype=cr.float64), cr.tensor(
        [0.5, 1.5, 2.0], dtype=cr.float64)

    def fn(a, w, b):
        return F.batch_norm(a, None if training else mean, None if training else var, w, b,
                            training=training)

    assert gradcheck(fn, (x, weight, bias))
    assert gradgradcheck(fn, (x, weight, bias))


def test_batchnorm_without_affine_or_running_stats():
    bn = nn.BatchNorm1d(3, affine=False, track_running_stats=False)
    assert list(bn.parameters()) == [] and list(bn.state_dict()) == []
    x = cr.randn(8, 3) * 5 + 2
    bn.eval()  # no running stats: batch statistics even in eval
    np.testing.assert_allclose(bn(x).data.mean(0), 0, atol=1e-5)
    assert gradcheck(lambda a: F.batch_norm(a, None, None, training=True), (f64(6, 3),))


def test_batchnorm_errors():
    with pytest.raises(ValueError, match=r"expected 4D input \(got 2D input"):
        nn.BatchNorm2d(3)(cr.randn(4, 3))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(3)(cr.randn(1, 3))
    with pytest.raises(ValueError, match=r"weight has shape \(4,\) but the input has 3 channels"):
        F.batch_norm(cr.randn(4, 3), None, None, weight=cr.ones(4), training=True)


# ---------------------------------------------------------------------------- LayerNorm
def test_layernorm_normalizes_each_sample_over_the_last_dims():
    layer = nn.LayerNorm((4, 5))
    x = cr.randn(3, 4, 5) * 3 + 1
    out = layer(x).data.reshape(3, -1)
    np.testing.assert_allclose(out.mean(1), 0, atol=1e-5)
    np.testing.assert_allclose(out.var(1), 1, atol=1e-3)
    layer.eval()
    np.testing.assert_allclose(layer(x).data.reshape(3, -1), out, rtol=1e-6)


@pytest.mark.parametrize("affine, bias", [(True, True), (True, False), (False, False)])
def test_layernorm_matches_pytorch(affine, bias):
    torch = pytest.importorskip("torch")
    ours = nn.LayerNorm(6, elementwise_affine=affine, bias=bias)
    theirs = torch.nn.LayerNorm(6, elementwise_affine=affine, bias=bias)
    if affine:
        with torch.no_grad():
            theirs.weight.copy_(torch.linspace(0.5, 2.0, 6))
        ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 3, 6)).astype(np.float32)
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours(xc).sum().backward()
    (theirs(xt) * 1.0).sum().backward()
    np.testing.assert_allclose(ours(xc).data, theirs(xt).detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(xc.grad.data, xt.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_layer_norm_gradcheck_and_gradgradcheck():
    x, weight, bias = f64(2, 3, 4), f64(3, 4, seed=1), f64(3, 4, seed=2)
    fn = lambda a, w, b: F.layer_norm(a, (3, 4), w, b)  # noqa: E731
    assert gradcheck(fn, (x, weight, bias))
    assert gradgradcheck(fn, (x, weight, bias))


def test_layer_norm_shape_error():
    with pytest.raises(ValueError, match=r"normalized_shape \(5,\) must match the last "
                                         r"dimensions of the input, whose shape is \(2, 4\)"):
        F.layer_norm(cr.randn(2, 4), (5,))


# ---------------------------------------------------------------------------- residual
def test_residual_adds_the_shortcut():
    inner = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))
    block = nn.Residual(inner)
    x = cr.randn(3, 4)
    np.testing.assert_allclose(block(x).data, inner(x).data + x.data, rtol=1e-6)
    projected = nn.Residual(nn.Linear(4, 2), shortcut=nn.Linear(4, 2, bias=False))
    np.testing.assert_allclose(projected(x).data,
                               projected.module(x).data + projected.shortcut(x).data, rtol=1e-6)
    assert [n for n, _ in block.named_parameters()][0] == "module.0.weight"


def test_residual_path_keeps_gradients_alive_through_a_dead_branch():
    inner = nn.Linear(4, 4)
    nn.init.zeros_(inner.weight)
    block = nn.Residual(inner)
    x = cr.randn(2, 4, requires_grad=True)
    block(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 1.0)


def test_residual_mlp_block():
    block = nn.ResidualMLPBlock(5, nn.Tanh(), hidden=7)
    x = cr.randn(3, 5, dtype=cr.float64, requires_grad=True)
    block.double()
    expected = np.tanh(x.data + block.fc2(block.activation(block.fc1(x))).data)
    np.testing.assert_allclose(block(x).data, expected)
    assert gradcheck(block, (x,))


@pytest.mark.parametrize("in_channels, out_channels, stride", [(4, 4, 1), (3, 6, 2)])
def test_basic_block_matches_a_pytorch_block_with_the_same_weights(in_channels, out_channels,
                                                                   stride):
    torch = pytest.importorskip("torch")
    tnn = torch.nn

    class TorchBlock(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(out_channels)
            self.conv2 = tnn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(out_channels)
            self.downsample = None
            if stride != 1 or in_channels != out_channels:
                self.downsample = tnn.Sequential(
                    tnn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                    tnn.BatchNorm2d(out_channels))

        def forward(self, x):
            out = torch.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return torch.relu(out + (x if self.downsample is None else self.downsample(x)))

    theirs = TorchBlock()
    ours = nn.BasicBlock(in_channels, out_channels, stride)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, in_channels, 6, 6)).astype(np.float32)
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(xc), theirs(xt)
    assert out.shape == (2, out_channels, 6 // stride, 6 // stride)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-4, atol=1e-5)
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(xc.grad.data, xt.grad.numpy(), rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(ours.conv1.weight.grad.data, theirs.conv1.weight.grad.numpy(),
                               rtol=1e-3, atol=1e-4)
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(cr.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_basic_block_gradcheck_in_float64():
    block = nn.BasicBlock(2, 3, stride=2).double()
    x = cr.randn(2, 2, 4, 4, dtype=cr.float64, requires_grad=True)
    assert gradcheck(block, (x,), fast_mode=True)
