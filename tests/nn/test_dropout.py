"""Dropout layers (chainrule/nn/dropout.py): the fraction dropped, the expected value, the
gradient is the mask, eval is the identity, whole channels for Dropout1d/2d."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

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


def test_dropout_validates_p():
    with pytest.raises(ValueError, match=r"between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)


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
