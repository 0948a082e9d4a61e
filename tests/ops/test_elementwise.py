"""Arithmetic (chainrule/ops/elementwise.py): the op specs (broadcasting, scalars) and the
error messages of shapes that do not broadcast."""

from __future__ import annotations

import operator

import numpy as np
import pytest

import chainrule as cr
from tests.ops.spec import OpSpec, SpecChecks, away_from_zero

BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 1), (4,)), ((2, 3, 4), (1, 4)), ((), (3,)), ((0, 3), (3,))]
UNARY_SHAPES = [((3, 4),), ((2, 3, 2),), ((),), ((0, 2),)]
SPECS = [
    OpSpec("add", lambda a, b: a + b, np.add, BINARY_SHAPES, covers=("Add",),
           torch=lambda torch, a, b: a + b),
    OpSpec("sub", lambda a, b: a - b, np.subtract, BINARY_SHAPES, covers=("Sub",),
           torch=lambda torch, a, b: a - b),
    OpSpec("mul", lambda a, b: a * b, np.multiply, BINARY_SHAPES, covers=("Mul",),
           torch=lambda torch, a, b: a * b),
    OpSpec("div", lambda a, b: a / b, np.divide, BINARY_SHAPES, covers=("Div",),
           domain=away_from_zero, torch=lambda torch, a, b: a / b),
    OpSpec("rsub_scalar", lambda a: 1.0 - a, lambda a: 1.0 - a, UNARY_SHAPES, covers=("Sub",)),
    OpSpec("rdiv_scalar", lambda a: 1.0 / a, lambda a: 1.0 / a, UNARY_SHAPES, covers=("Div",),
           domain=away_from_zero),
    OpSpec("neg", lambda a: -a, np.negative, UNARY_SHAPES, covers=("Neg",)),
]



class TestSpecs(SpecChecks):
    specs = SPECS


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("op,apply", [("add", operator.add), ("sub", operator.sub),
                                      ("mul", operator.mul), ("div", operator.truediv)])
def test_mismatch_names_op_and_shapes(op, apply):
    with pytest.raises(ValueError, match=rf"{op}: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        apply(cr.ones(2, 3), cr.ones(4))
