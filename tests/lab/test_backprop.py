"""The backprop lab (chainrule/lab/backprop.py) at smoke size: a 2-layer network differentiated by
hand in NumPy equals autograd and finite differences."""

import shutil

import numpy as np
import pytest


def test_outputs_exist(check_outputs):
    if shutil.which("dot") is None:
        check_outputs("backprop", figures=False)
        pytest.skip("the backprop graph figure is rendered by Graphviz's dot, not installed here")
    check_outputs("backprop")


def test_backprop_by_hand_equals_autograd(results):
    numbers = results("backprop").numbers
    assert numbers["max_abs_difference"] < 1e-12
    assert numbers["finite_difference_max_error"] < 1e-6


def test_backprop_hand_formulas_directly():
    from chainrule.lab.backprop import hand_backprop

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(3, 2)), rng.normal(size=(3, 1))
    w1, w2 = rng.normal(size=(2, 4)), rng.normal(size=(4, 1))
    eps = 1e-6
    bumped = w2.copy()
    bumped[1, 0] += eps
    numeric = (hand_backprop(x, y, w1, bumped)["loss"] - hand_backprop(x, y, w1, w2)["loss"]) / eps
    assert hand_backprop(x, y, w1, w2)["d_w2"][1, 0] == pytest.approx(numeric, rel=1e-4)
