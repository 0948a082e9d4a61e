"""Matrix products (chainrule/ops/linalg.py): matmul in every rank combination and linear, by
the op specs; matmul's error messages."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from tests.ops.spec import OpSpec, SpecChecks


def _np_linear(x, weight, bias=None):
    return x @ weight.T + (0.0 if bias is None else bias)


SPECS = [
    OpSpec("matmul", lambda a, b: a @ b, np.matmul,
           [((3, 4), (4, 2)), ((2, 3, 4), (4, 5)), ((4,), (4, 3)), ((3, 4), (4,)), ((4,), (4,)),
            ((2, 1, 3, 4), (5, 4, 2)), ((0, 4), (4, 2))], covers=("MatMul",),
           torch=lambda torch, a, b: a @ b),
    OpSpec("dot", cr.dot, np.dot, [((4,), (4,)), ((0,), (0,))], covers=("MatMul",),
           torch=lambda torch, a, b: torch.dot(a, b)),
    OpSpec("linear", F.linear, _np_linear,
           [((4, 3), (2, 3), (2,)), ((2, 3, 3), (2, 3), (2,)), ((3,), (2, 3), (2,)),
            ((0, 3), (2, 3), (2,))], covers=("Linear",),
           torch=lambda torch, x, weight, bias: torch.nn.functional.linear(x, weight, bias)),
    OpSpec("linear_without_bias", F.linear, _np_linear, [((4, 3), (2, 3)), ((0, 3), (2, 3))],
           covers=("Linear",),
           torch=lambda torch, x, weight: torch.nn.functional.linear(x, weight)),
]


class TestSpecs(SpecChecks):
    specs = SPECS


def test_matmul_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) are not aligned"):
        cr.ones(2, 3) @ cr.ones(4, 5)
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4,\).*only dimension"):
        cr.ones(2, 3) @ cr.ones(4)
    with pytest.raises(ValueError, match=r"batch dimensions of shapes \(2, 3, 4\) and \(3, 4, 5\)"):
        cr.ones(2, 3, 4) @ cr.ones(3, 4, 5)
    with pytest.raises(ValueError, match="at least 1 dimension"):
        cr.ones(2) @ cr.tensor(3.0)
