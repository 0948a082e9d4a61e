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


def _np_linear_relu(x, weight, bias=None):
    return np.maximum(_np_linear(x, weight, bias), 0.0)


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
    OpSpec("linear_relu", F.linear_relu, _np_linear_relu,
           [((4, 3), (5, 3), (5,)), ((2, 3, 3), (4, 3), (4,)), ((3,), (2, 3), (2,)),
            ((0, 3), (2, 3), (2,))], covers=("LinearRelu",),
           torch=lambda torch, x, weight, bias: torch.relu(
               torch.nn.functional.linear(x, weight, bias))),
    OpSpec("linear_relu_without_bias", F.linear_relu, _np_linear_relu,
           [((4, 3), (5, 3)), ((0, 3), (5, 3))],
           covers=("LinearRelu",),
           torch=lambda torch, x, weight: torch.relu(torch.nn.functional.linear(x, weight))),
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


def test_linear_relu_passes_a_nan_and_stops_negatives_as_relu_after_linear():
    x = cr.tensor([[np.nan, 1.0], [1.0, -1.0]], dtype=cr.float64, requires_grad=True)
    weight = cr.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=cr.float64, requires_grad=True)
    fused = F.linear_relu(x, weight)
    fused.sum().backward()
    fused_grads = x.grad.numpy().copy(), weight.grad.numpy().copy()
    x.grad = weight.grad = None
    plain = F.relu(F.linear(x, weight))
    plain.sum().backward()
    np.testing.assert_array_equal(fused.detach().numpy(), plain.detach().numpy())
    np.testing.assert_array_equal(fused_grads[0], x.grad.numpy())
    np.testing.assert_array_equal(fused_grads[1], weight.grad.numpy())


def test_linear_relu_checks_its_arguments_by_its_own_name():
    with pytest.raises(ValueError, match=r"linear_relu: input of shape \(2, 3\)"):
        F.linear_relu(cr.ones(2, 3), cr.ones(4, 2))
