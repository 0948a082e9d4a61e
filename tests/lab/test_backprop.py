"""The backprop lab (chainrule/lab/backprop.py) at smoke size: a 2-layer network differentiated by
hand in NumPy equals autograd and finite differences."""

import numpy as np
import pytest


def test_outputs_exist(check_outputs, results):
    # drawn by chainrule itself: no Graphviz needed, so never skipped
    check_outputs("backprop")
    result = results("backprop")
    assert [f.name for f in result.figures] == ["graph.png"]
    # x, y, W1, W2, 2 constants, 7 ops and the 7 tensors they made
    assert result.numbers["graph_nodes"] == 20


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
