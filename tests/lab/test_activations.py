"""The activations lab (chainrule/lab/activations.py) at smoke size: every activation and its
derivative; where sigmoid and tanh saturate."""

import math

import pytest


def test_outputs_exist(check_outputs):
    check_outputs("activations")


def test_activations(results):
    numbers = results("activations").numbers
    assert numbers["sigmoid_max_derivative"] == pytest.approx(0.25, abs=1e-6)
    assert numbers["tanh_max_derivative"] == pytest.approx(1.0, abs=1e-6)
    assert numbers["sigmoid_saturates_beyond"] == pytest.approx(math.log(99), abs=0.02)
    assert numbers["tanh_saturates_beyond"] == pytest.approx(math.atanh(0.98), abs=0.02) \
        or numbers["tanh_saturates_beyond"] == pytest.approx(math.atanh(0.99), abs=0.02)
    assert numbers["tanh_saturated_large_init"] > 10 * max(numbers["tanh_saturated_xavier"], 0.01)
