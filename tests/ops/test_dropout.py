"""Dropout (chainrule/ops/dropout.py): dropout, dropout1d and dropout2d by the op specs, with
the generator seeded inside the op so that every evaluation draws the same mask; eval mode,
p = 0 and p = 1, validation and reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import backend
from tests.ops.spec import OpSpec, SpecChecks

SEED = 11


def _seeded(dropout, p):
    """``dropout(x, p)`` after ``manual_seed(SEED)``: one fixed mask, so a function of x."""

    def op(x):
        cr.manual_seed(SEED)
        return dropout(x, p)

    return op


def _masked(p, channels_only=False):
    """The reference: x times the mask a generator seeded with SEED draws (kept with
    probability 1 - p, scaled by 1/(1 - p)), per element or per (sample, channel)."""

    def reference(x):
        shape = x.shape[:2] + (1,) * (x.ndim - 2) if channels_only else x.shape
        cr.manual_seed(SEED)
        keep = backend.generator().random(shape, dtype=np.float32) >= p
        return x * keep / (1 - p)

    return reference


SPECS = [
    OpSpec("dropout", _seeded(F.dropout, 0.4), _masked(0.4),
           [((3, 4),), ((2, 3, 2),), ((0, 4),)]),
    OpSpec("dropout1d", _seeded(F.dropout1d, 0.5), _masked(0.5, channels_only=True),
           [((4, 3, 5),), ((0, 3, 5),)]),
    OpSpec("dropout2d", _seeded(F.dropout2d, 0.5), _masked(0.5, channels_only=True),
           [((4, 3, 2, 2),), ((0, 3, 2, 2),)]),
    OpSpec("dropout_eval", lambda x: F.dropout(x, 0.4, training=False), lambda x: x,
           [((3, 4),), ((0, 4),)], torch=lambda torch, x: torch.nn.functional.dropout(
               x, 0.4, training=False)),
]


class TestSpecs(SpecChecks):
    specs = SPECS


def test_eval_mode_and_p_zero_are_the_identity_and_p_one_drops_everything():
    x = cr.ones(1000, requires_grad=True)
    assert F.dropout(x, 0.4, training=False) is x
    assert not F.dropout(cr.ones(10), 1.0).data.any()
    np.testing.assert_array_equal(F.dropout(cr.ones(10), 0.0).data, 1.0)


def test_dropout_validates_p_and_is_reproducible():
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(cr.ones(3), -0.1)
    cr.manual_seed(3)
    a = F.dropout(cr.ones(50), 0.5).data
    cr.manual_seed(3)
    np.testing.assert_array_equal(a, F.dropout(cr.ones(50), 0.5).data)
