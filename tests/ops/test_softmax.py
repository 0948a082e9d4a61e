"""softmax and log_softmax (chainrule/ops/softmax.py): the op specs, the default dim, equal and
extreme inputs."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from tests.ops.spec import (
    EXTREMES, OpSpec, SpecChecks, assert_correct_at_extremes, extreme_values, torch_function,
)


def _np_softmax(x, dim):
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def _np_log_softmax(x, dim):
    shifted = x - x.max(axis=dim, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))


SPECS = [
    OpSpec("softmax", lambda x: F.softmax(x, dim=1), lambda x: _np_softmax(x, 1),
           [((3, 4),), ((0, 4),)], covers=("Softmax",), torch=torch_function("softmax", dim=1)),
    OpSpec("softmax_dim0", lambda x: F.softmax(x, dim=0), lambda x: _np_softmax(x, 0),
           [((3, 2, 2),), ((3, 0, 2),)], covers=("Softmax",),
           torch=torch_function("softmax", dim=0)),
    OpSpec("log_softmax", lambda x: F.log_softmax(x, dim=-1), lambda x: _np_log_softmax(x, -1),
           [((3, 4),), ((2, 3, 2),), ((0, 4),)], covers=("LogSoftmax",),
           torch=torch_function("log_softmax", dim=-1)),
]


class TestSpecs(SpecChecks):
    specs = SPECS


@pytest.mark.parametrize("value", [1.0, 1e3, 1e10, 1e20, -1e20])
def test_log_softmax_of_equal_values_is_log_half(value):
    with np.errstate(all="raise"):
        out = F.log_softmax(cr.tensor([value, value]), dim=0)
    np.testing.assert_allclose(out.data, np.log(0.5), rtol=1e-6)


def test_softmax_rows_sum_to_one_and_default_dim():
    x = cr.randn(4, 5)
    np.testing.assert_allclose(F.softmax(x, dim=1).data.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(F.softmax(x).data, F.softmax(x, dim=1).data)


# name: (function of a vector, float64 reference, d(Σ weights·f(x))/dx in closed form)
EXTREME_OPS = {
    "softmax": (lambda t: F.softmax(t, dim=0), lambda x: _np_softmax(x, 0),
                lambda x, w: _np_softmax(x, 0) * (w - np.sum(w * _np_softmax(x, 0)))),
    "log_softmax": (lambda t: F.log_softmax(t, dim=0), lambda x: _np_log_softmax(x, 0),
                    lambda x, w: w - _np_softmax(x, 0) * np.sum(w)),
}


@pytest.mark.parametrize("dtype,big", EXTREMES)
@pytest.mark.parametrize("name", list(EXTREME_OPS))
def test_at_extremes_do_not_warn_and_stay_correct(name, dtype, big):
    fn, reference, gradient = EXTREME_OPS[name]
    values = extreme_values(big)
    assert_correct_at_extremes(fn, reference, values, dtype, np.linspace(0.5, 1.5, values.size),
                               gradient)
