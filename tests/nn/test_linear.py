"""Linear and Maxout (chainrule/nn/linear.py): x Wᵀ + b in float32, PyTorch's default init,
no bias, gradients as PyTorch's, errors naming shapes and dtypes; Maxout's groups."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck

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


def test_maxout_is_the_max_over_groups_of_a_linear_layer():
    layer = nn.Maxout(4, 3, pool_size=2)
    assert layer.linear.weight.shape == (6, 4)
    x = cr.randn(5, 4)
    pieces = x.data @ layer.linear.weight.data.T + layer.linear.bias.data
    np.testing.assert_allclose(layer(x).data, pieces.reshape(5, 3, 2).max(-1), rtol=1e-6)
    x64 = cr.randn(2, 4, dtype=cr.float64, requires_grad=True)
    layer.double()
    assert gradcheck(layer, (x64,))


def test_float64_linear_computes_in_float64():
    layer = nn.Linear(6, 4, dtype=cr.float64)
    x = np.random.default_rng(1).standard_normal((5, 6))
    expected = x @ layer.weight.data.T + layer.bias.data
    out = layer(cr.tensor(x, dtype=cr.float64))
    np.testing.assert_allclose(out.data, expected, rtol=1e-13, atol=1e-15)
