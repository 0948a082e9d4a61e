"""The activation registry: every entry builds its layer, its function computes what the layer
computes, its gain is the closed form, and the command line, the models and the diagnostics
offer exactly its names."""

import argparse
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import cli, models, nn
from chainrule.diagnostics import plots
from chainrule.nn import functional as F
from chainrule.nn.registry import ACTIVATIONS, activation

NAMES = list(ACTIVATIONS)


def train_option_choices(option: str) -> list:
    parser = cli.build_parser(["train"])
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    train = commands.choices["train"]
    return list(next(a for a in train._actions if option in a.option_strings).choices)


@pytest.mark.parametrize("name", NAMES)
def test_entry_builds_its_layer_and_names_its_functional(name):
    entry = ACTIVATIONS[name]
    assert entry.name == name
    layer = activation(name)
    assert type(layer) is entry.module and isinstance(layer, nn.Module)
    assert entry.functional in [getattr(F, f) for f in F.__all__]
    assert isinstance(entry.title, str) and entry.title


@pytest.mark.parametrize("name", NAMES)
def test_function_is_the_default_layer_in_eval_mode(name):
    entry = ACTIVATIONS[name]
    x = cr.tensor(np.linspace(-3.0, 3.0, 13, dtype=np.float32))
    expected = entry.module().eval()(x).data
    np.testing.assert_allclose(entry.function(x).data, expected, rtol=1e-6, atol=1e-7)


def _closed_form_gain(nonlinearity: str, slope) -> float:
    if nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    return math.sqrt(2.0 / (1.0 + slope ** 2))


@pytest.mark.parametrize("name", NAMES)
def test_gain_is_the_closed_form_for_its_default_slope(name):
    entry = ACTIVATIONS[name]
    layer = entry.module()
    slopes = {nn.LeakyReLU: lambda m: m.negative_slope, nn.PReLU: lambda m: m.init,
              nn.RReLU: lambda m: (m.lower + m.upper) / 2}
    slope = slopes[type(layer)](layer) if type(layer) in slopes else None
    assert entry.negative_slope == (None if slope is None else pytest.approx(slope))
    assert entry.gain == pytest.approx(_closed_form_gain(entry.nonlinearity, slope))
    assert entry.gain == pytest.approx(nn.init.calculate_gain(entry.nonlinearity, slope))


def test_unknown_name_lists_the_registry():
    with pytest.raises(ValueError, match="unknown activation 'swish'; choose one of "
                       + ", ".join(NAMES)):
        activation("swish")


def test_command_line_models_and_plots_offer_exactly_the_registry():
    assert train_option_choices("--activation") == NAMES
    assert list(models.ACTIVATIONS) == NAMES
    assert len(plots.activation_functions()) == len(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_xavier_init_of_the_models_uses_the_registry_gain(name):
    fan_in, fan_out = 300, 400
    net = models.mlp(fan_in, hidden=(fan_out,), out_features=2, activation=name, init="xavier")
    weight = net[1].weight.data
    bound = ACTIVATIONS[name].gain * math.sqrt(6.0 / (fan_in + fan_out))
    assert np.abs(weight).max() <= bound
    assert np.abs(weight).max() > 0.99 * bound
