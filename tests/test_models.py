"""Model presets: layers, shapes, initialization schemes, specs."""

import json
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import models, nn


def _types(model):
    return [type(m).__name__ for m in model]


def test_mlp_layers_follow_the_options():
    net = models.mlp(64, hidden=(32, 16), out_features=10, activation="gelu", dropout=0.25,
                     batch_norm=True, bias=False)
    assert _types(net) == ["Flatten", "Linear", "BatchNorm1d", "GELU", "Dropout", "Linear",
                           "BatchNorm1d", "GELU", "Dropout", "Linear"]
    assert all(layer.bias is None for layer in net if isinstance(layer, nn.Linear))
    assert net(cr.zeros(3, 1, 8, 8)).shape == (3, 10)
    assert _types(models.mlp(2, hidden=(), out_features=3)) == ["Flatten", "Linear"]


@pytest.mark.parametrize("name", models.ACTIVATIONS)
def test_activations_by_name(name):
    layer = models.activation(name)
    expected = {"leaky_relu": "LeakyReLU", "prelu": "PReLU", "rrelu": "RReLU", "elu": "ELU",
                "gelu": "GELU", "relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}[name]
    assert type(layer).__name__ == expected
    with pytest.raises(ValueError, match="unknown activation 'swish'; choose one of sigmoid"):
        models.activation("swish")


def test_init_schemes_have_their_variances():
    cr.manual_seed(0)
    fan_in, fan_out = 400, 300
    he = models.mlp(fan_in, hidden=(fan_out,), out_features=5, init="he")
    weight = he[1].weight.data
    assert weight.std() == pytest.approx(math.sqrt(2 / fan_in), rel=0.05)
    xavier = models.mlp(fan_in, hidden=(fan_out,), out_features=5, activation="tanh",
                        init="xavier")
    bound = 5 / 3 * math.sqrt(6 / (fan_in + fan_out))
    weight = xavier[1].weight.data
    assert np.abs(weight).max() <= bound and weight.std() == pytest.approx(bound / math.sqrt(3),
                                                                         rel=0.05)
    normal = models.mlp(fan_in, hidden=(fan_out,), out_features=5, init="normal")
    assert normal[1].weight.data.std() == pytest.approx(0.01, rel=0.05)
    for net in (he, xavier, normal):
        assert all(not layer.bias.data.any() for layer in net if isinstance(layer, nn.Linear))
    with pytest.raises(ValueError, match="unknown init 'lecun'"):
        models.mlp(2, init="lecun")


def test_cnn_for_images_and_signals():
    image_net = models.cnn(1, 10, (8, 8), batch_norm=True, dropout=0.5)
    assert image_net(cr.zeros(2, 1, 8, 8)).shape == (2, 10)
    assert "Conv2d" in _types(image_net) and "BatchNorm2d" in _types(image_net)
    signal_net = models.cnn(1, 10, 40, activation="elu")
    assert signal_net(cr.zeros(2, 1, 40)).shape == (2, 10)
    assert "Conv1d" in _types(signal_net) and "MaxPool1d" in _types(signal_net)
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        models.cnn(1, 10, (8, 8), kernel_size=4)


def test_resnet_uses_basic_blocks_and_works_on_signals():
    net = models.resnet(1, 10, (8, 8), channels=(8, 16), blocks=2)
    assert _types(net).count("BasicBlock") == 4
    assert net(cr.zeros(2, 1, 8, 8)).shape == (2, 10)
    signal = models.resnet(1, 10, 40, activation="tanh")
    assert signal(cr.zeros(2, 1, 40)).shape == (2, 10)


def test_build_from_a_json_spec_gives_the_same_network():
    spec = {"preset": "cnn", "kwargs": {"in_channels": 1, "num_classes": 3, "input_size": [8, 8],
                                        "channels": [4, 8], "hidden": 16}}
    cr.manual_seed(1)
    first = models.build(json.loads(json.dumps(spec)))
    cr.manual_seed(1)
    second = models.cnn(1, 3, (8, 8), channels=(4, 8), hidden=16)
    x = cr.randn(2, 1, 8, 8)
    np.testing.assert_array_equal(first(x).data, second(x).data)
    with pytest.raises(ValueError, match="unknown model preset 'os.system'"):
        models.build({"preset": "os.system"})


@pytest.mark.parametrize("preset", ["rnn", "gru", "lstm"])
def test_recurrent_presets_read_signals_as_steps_and_images_as_rows(preset):
    gates = {"rnn": 1, "gru": 3, "lstm": 4}[preset]
    net = models.build({"preset": preset, "kwargs": {"in_channels": 1, "num_classes": 10,
                                                     "input_size": 40}})
    # the paper's layout: one input per step, bidirectional, hidden 6, a Linear on all 40 steps
    per_direction = gates * 6 * (1 + 6) + 2 * gates * 6
    assert sum(p.data.size for p in net.parameters()) == 2 * per_direction + 40 * 12 * 10 + 10
    assert net(cr.zeros(3, 1, 40)).shape == (3, 10)
    rows = models.build({"preset": preset, "kwargs": {"in_channels": 2, "input_size": [5, 4],
                                                      "readout": "last", "hidden": 3}})
    assert rows.rnn.input_size == 8 and rows.linear.in_features == 6
    assert rows(cr.zeros(2, 2, 5, 4)).shape == (2, 10)


def test_recurrent_readout_last_is_the_final_states_of_both_directions():
    cr.manual_seed(0)
    net = models.gru(1, 4, 7, hidden=3, readout="last")
    x = cr.randn(2, 1, 7)
    _, h_n = net.rnn(x.transpose(1, 2))
    expected = np.concatenate([h_n.data[0], h_n.data[1]], 1) @ net.linear.weight.data.T \
        + net.linear.bias.data
    np.testing.assert_allclose(net(x).data, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="readout must be 'all' or 'last'"):
        models.gru(readout="mean")
