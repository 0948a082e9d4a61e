"""BatchNorm1d/2d and LayerNorm (chainrule/nn/normalization.py): batch statistics in training,
running statistics in eval, momentum, PyTorch over several steps, no affine, errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

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


def test_batchnorm_without_affine_or_running_stats():
    bn = nn.BatchNorm1d(3, affine=False, track_running_stats=False)
    assert list(bn.parameters()) == [] and list(bn.state_dict()) == []
    x = cr.randn(8, 3) * 5 + 2
    bn.eval()  # no running stats: batch statistics even in eval
    np.testing.assert_allclose(bn(x).data.mean(0), 0, atol=1e-5)


def test_batchnorm_errors():
    with pytest.raises(ValueError, match=r"expected 4D input \(got 2D input"):
        nn.BatchNorm2d(3)(cr.randn(4, 3))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(3)(cr.randn(1, 3))


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


def test_float64_batchnorm_updates_running_statistics_in_float64():
    bn = nn.BatchNorm1d(3, momentum=0.25, dtype=cr.float64)
    x = np.random.default_rng(2).standard_normal((8, 3)) * 1e-3 + 1.0
    bn(cr.tensor(x, dtype=cr.float64))
    np.testing.assert_allclose(bn.running_mean.data, 0.25 * x.mean(0), rtol=1e-13)
    np.testing.assert_allclose(bn.running_var.data, 0.75 + 0.25 * x.var(0, ddof=1), rtol=1e-13)
    assert bn.running_mean.dtype == bn.running_var.dtype == np.float64
    assert bn.num_batches_tracked.dtype == np.int64 and int(bn.num_batches_tracked) == 1
