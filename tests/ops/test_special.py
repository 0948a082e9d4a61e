"""Special functions (chainrule/ops/special.py): erf by the op spec, to machine precision, at
NaN and at the extremes; SafeExp through erf's derivative."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.autograd import gradcheck, gradgradcheck
from tests.ops.spec import (
    EXTREMES, OpSpec, SpecChecks, assert_correct_at_extremes, extreme_values,
)

_erf = np.vectorize(math.erf, otypes=[np.float64])

SPECS = [
    OpSpec("erf", F.erf, _erf, [((3, 4),), ((2, 3, 2),), ((),), ((0, 2),)],
           covers=("Erf", "SafeExp"), tolerance=(1e-13, 1e-15),
           torch=lambda torch, x: torch.erf(x)),
]


class TestSpecs(SpecChecks):
    specs = SPECS


def test_erf_matches_math_erf_to_machine_precision():
    x = np.concatenate([np.linspace(-8, 8, 4001), np.logspace(-12, 1.4, 300),
                        -np.logspace(-12, 1.4, 300), [0.0, 30.0, -30.0]])
    got = F.erf(cr.tensor(x, dtype=cr.float64)).data
    expected = _erf(x)
    relative = np.abs(got - expected) / np.maximum(np.abs(expected), 1e-300)
    assert relative.max() < 1e-13


def test_erf_gradients():
    for values in (np.linspace(-2.5, 2.5, 7), [-2.3, -0.6, 0.1, 0.7, 1.9]):
        x = cr.tensor(values, dtype=cr.float64, requires_grad=True)
        assert gradcheck(F.erf, (x,))
        assert gradgradcheck(F.erf, (x,))


@pytest.mark.parametrize("dtype,big", EXTREMES)
def test_erf_at_extremes_does_not_warn_and_stays_correct(dtype, big):
    values = extreme_values(big)
    assert_correct_at_extremes(F.erf, _erf, values, dtype, np.linspace(0.5, 1.5, values.size))


def test_erf_and_gelu_of_nan_are_nan():
    # NaN falls in none of Cody's three ranges; it must not come out as uninitialized memory.
    values = np.full(1000, np.nan)
    values[::2] = np.linspace(-3, 3, 500)
    for fn in (F.erf, F.gelu):
        out = fn(cr.tensor(values, dtype=cr.float64)).data
        assert np.isnan(out[1::2]).all() and np.isfinite(out[::2]).all()
    np.testing.assert_allclose(F.erf(cr.tensor(values[::2], dtype=cr.float64)).data,
                               _erf(values[::2]), rtol=1e-13, atol=1e-15)
