"""nn.init: gains, fans, the distributions' bounds and spreads, reproducibility, dtypes."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import init


@pytest.mark.parametrize("nonlinearity, param, expected", [
    ("linear", None, 1.0), ("conv2d", None, 1.0), ("sigmoid", None, 1.0),
    ("tanh", None, 5 / 3), ("relu", None, math.sqrt(2)), ("selu", None, 0.75),
    ("leaky_relu", None, math.sqrt(2 / (1 + 0.01 ** 2))),
    ("leaky_relu", 0.2, math.sqrt(2 / (1 + 0.2 ** 2))),
    ("leaky_relu", math.sqrt(5), math.sqrt(1 / 3)),
])
def test_calculate_gain_table(nonlinearity, param, expected):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected)


def test_calculate_gain_matches_pytorch():
    torch = pytest.importorskip("torch")
    for name in ("linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu", "conv1d"):
        assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))


def test_calculate_gain_rejects_unknown_names():
    with pytest.raises(ValueError, match="Unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


@pytest.mark.parametrize("shape, fans", [((3, 5), (5, 3)), ((8, 4, 3, 3), (36, 72)),
                                         ((6, 2, 5), (10, 30))])
def test_fans_of_linear_and_conv_weights(shape, fans):
    assert init._calculate_fan_in_and_fan_out(cr.empty(*shape)) == fans


def test_fans_need_two_dimensions():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(cr.empty(4))


def _std_tolerance(n: int, std: float) -> float:
    # the sample standard deviation of n normal-ish values is within ~5/√(2n) relative
    return 5 * std / math.sqrt(2 * n)


@pytest.mark.parametrize("function, kwargs, bound_of_fans", [
    (init.xavier_uniform_, {}, lambda fi, fo: math.sqrt(6 / (fi + fo))),
    (init.xavier_uniform_, {"gain": 2.0}, lambda fi, fo: 2 * math.sqrt(6 / (fi + fo))),
    (init.kaiming_uniform_, {"nonlinearity": "relu"}, lambda fi, fo: math.sqrt(6 / fi)),
    (init.kaiming_uniform_, {"mode": "fan_out", "nonlinearity": "relu"},
     lambda fi, fo: math.sqrt(6 / fo)),
    (init.kaiming_uniform_, {"a": math.sqrt(5)}, lambda fi, fo: 1 / math.sqrt(fi)),
])
def test_uniform_initializers_respect_their_bound(function, kwargs, bound_of_fans):
    weight = cr.empty(300, 200)
    function(weight, **kwargs)
    bound = bound_of_fans(200, 300)
    assert np.abs(weight.data).max() <= bound
    assert np.abs(weight.data).max() > 0.99 * bound
    assert abs(weight.data.std() - bound / math.sqrt(3)) < _std_tolerance(60000, bound)


@pytest.mark.parametrize("function, kwargs, std_of_fans", [
    (init.xavier_normal_, {}, lambda fi, fo: math.sqrt(2 / (fi + fo))),
    (init.kaiming_normal_, {"nonlinearity": "relu"}, lambda fi, fo: math.sqrt(2 / fi)),
    (init.kaiming_normal_, {"mode": "fan_out", "nonlinearity": "linear"},
     lambda fi, fo: 1 / math.sqrt(fo)),
    (init.normal_, {"std": 0.02}, lambda fi, fo: 0.02),
])
def test_normal_initializers_have_the_right_spread(function, kwargs, std_of_fans):
    weight = cr.empty(300, 200)
    function(weight, **kwargs)
    std = std_of_fans(200, 300)
    assert abs(weight.data.std() - std) < _std_tolerance(60000, std)
    assert abs(weight.data.mean()) < 5 * std / math.sqrt(60000)


def test_conv_weight_fans_in_kaiming():
    weight = cr.empty(16, 8, 3, 3)
    init.kaiming_normal_(weight, nonlinearity="relu")
    std = math.sqrt(2 / (8 * 9))
    assert abs(weight.data.std() - std) < _std_tolerance(weight.data.size, std)


def test_constant_zeros_ones_eye_uniform():
    w = cr.empty(3, 4)
    assert init.constant_(w, 0.5) is w and (w.data == 0.5).all()
    init.zeros_(w)
    assert not w.data.any()
    init.ones_(w)
    assert (w.data == 1).all()
    init.eye_(w)
    np.testing.assert_array_equal(w.data, np.eye(3, 4))
    init.uniform_(w, -2.0, -1.0)
    assert (w.data >= -2).all() and (w.data < -1).all()
    with pytest.raises(ValueError, match="2-dimensional"):
        init.eye_(cr.empty(2, 2, 2))


def test_trunc_normal_stays_in_its_interval():
    w = init.trunc_normal_(cr.empty(1000), std=1.0, a=-0.5, b=0.5)
    assert w.data.min() >= -0.5 and w.data.max() <= 0.5


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 2, 3)])
def test_orthogonal_gives_orthonormal_rows_or_columns(shape):
    w = init.orthogonal_(cr.empty(*shape), gain=2.0)
    flat = w.data.reshape(shape[0], -1).astype(np.float64) / 2.0
    rows, cols = flat.shape
    gram = flat @ flat.T if rows <= cols else flat.T @ flat
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), atol=1e-5)


def test_initializers_keep_dtype_are_in_place_and_reproducible():
    for dtype in (cr.float32, cr.float64):
        w = cr.empty(20, 10, dtype=dtype)
        array = w.data
        init.kaiming_uniform_(w)
        assert w.dtype == dtype and w.data is array
    cr.manual_seed(42)
    a = init.normal_(cr.empty(5, 5)).data.copy()
    cr.manual_seed(42)
    np.testing.assert_array_equal(a, init.normal_(cr.empty(5, 5)).data)


def test_initializing_a_parameter_records_no_graph():
    layer = nn.Linear(3, 2)
    init.xavier_uniform_(layer.weight)
    assert layer.weight.grad_fn is None and layer.weight.requires_grad
    layer(cr.randn(2, 3)).sum().backward()
    assert layer.weight.grad is not None


def test_bad_arguments():
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(cr.empty(2, 2), mode="fan_avg")
    with pytest.raises(TypeError, match="chainrule Tensor"):
        init.zeros_(np.zeros(3))


@pytest.mark.parametrize("dtype", [cr.float64, cr.float16])
@pytest.mark.parametrize("fill", [lambda t: init.uniform_(t, -2.0, 3.0),
                                  lambda t: init.uniform_(t, np.float64(-0.1), np.float64(0.3)),
                                  lambda t: init.normal_(t, 1.0, 0.5),
                                  lambda t: init.kaiming_uniform_(t, a=5 ** 0.5),
                                  lambda t: init.kaiming_normal_(t),
                                  lambda t: init.xavier_uniform_(t, gain=2.0),
                                  lambda t: init.xavier_normal_(t)])
def test_initializers_fill_any_dtype_with_the_float32_draws(fill, dtype):
    cr.manual_seed(3)
    reference = fill(cr.empty(6, 5, dtype=cr.float32)).data
    cr.manual_seed(3)
    tensor = fill(cr.empty(6, 5, dtype=dtype))
    assert tensor.dtype == dtype
    np.testing.assert_array_equal(tensor.data, reference.astype(dtype))
