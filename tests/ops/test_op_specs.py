"""Declarative checks for every differentiable op: one spec gives forward, backward and
double backward checks across broadcasting, non-contiguous and zero-size shapes.

Adding an op means adding one ``OpSpec`` line here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck


def positive(x):
    return np.abs(x) + 0.5


def away_from_zero(x):
    return np.where(x >= 0, x + 0.3, x - 0.3)


def identity(x):
    return x


@dataclass
class OpSpec:
    name: str
    op: Callable  # on chainrule tensors
    reference: Callable  # on NumPy arrays
    shapes: list  # list of tuples of input shapes
    domain: Callable = identity
    second_order: bool = True
    atol: float = 1e-5
    kwargs: dict = field(default_factory=dict)


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_logsumexp(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return (np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m).squeeze(axis)


BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 1), (4,)), ((2, 3, 4), (1, 4)), ((), (3,)), ((0, 3), (3,))]
UNARY_SHAPES = [((3, 4),), ((2, 3, 2),), ((),), ((0, 2),)]

SPECS = [
    OpSpec("add", lambda a, b: a + b, np.add, BINARY_SHAPES),
    OpSpec("sub", lambda a, b: a - b, np.subtract, BINARY_SHAPES),
    OpSpec("mul", lambda a, b: a * b, np.multiply, BINARY_SHAPES),
    OpSpec("div", lambda a, b: a / b, np.divide, BINARY_SHAPES, domain=away_from_zero),
    OpSpec("pow", lambda a, b: a ** b, np.power, BINARY_SHAPES, domain=positive),
    OpSpec("pow_scalar", lambda a: a ** 3, lambda a: a ** 3, UNARY_SHAPES),
    OpSpec("rpow_scalar", lambda a: 2.0 ** a, lambda a: 2.0 ** a, UNARY_SHAPES),
    OpSpec("rsub_scalar", lambda a: 1.0 - a, lambda a: 1.0 - a, UNARY_SHAPES),
    OpSpec("rdiv_scalar", lambda a: 1.0 / a, lambda a: 1.0 / a, UNARY_SHAPES,
           domain=away_from_zero),
    OpSpec("neg", lambda a: -a, np.negative, UNARY_SHAPES),
    OpSpec("exp", cr.exp, np.exp, UNARY_SHAPES),
    OpSpec("log", cr.log, np.log, UNARY_SHAPES, domain=positive),
    OpSpec("sqrt", cr.sqrt, np.sqrt, UNARY_SHAPES, domain=positive),
    OpSpec("abs", cr.abs, np.abs, UNARY_SHAPES, domain=away_from_zero),
    OpSpec("sin", cr.sin, np.sin, UNARY_SHAPES),
    OpSpec("cos", cr.cos, np.cos, UNARY_SHAPES),
    OpSpec("tanh", cr.tanh, np.tanh, UNARY_SHAPES),
    OpSpec("sigmoid", cr.sigmoid, lambda a: 1 / (1 + np.exp(-a)), UNARY_SHAPES),
    OpSpec("relu", cr.relu, lambda a: np.maximum(a, 0), UNARY_SHAPES, domain=away_from_zero),
    OpSpec("maximum", cr.maximum, np.maximum, BINARY_SHAPES),
    OpSpec("minimum", cr.minimum, np.minimum, BINARY_SHAPES),
    OpSpec("clip", lambda a: cr.clip(a, -0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5),
           UNARY_SHAPES, domain=lambda x: np.where(np.abs(np.abs(x) - 0.5) < 0.05, x * 0.5, x)),
    OpSpec("where", lambda a, b: cr.where(a.data > 0, a, b),
           lambda a, b: np.where(a > 0, a, b), BINARY_SHAPES),
    OpSpec("matmul", lambda a, b: a @ b, np.matmul,
           [((3, 4), (4, 2)), ((2, 3, 4), (4, 5)), ((4,), (4, 3)), ((3, 4), (4,)), ((4,), (4,)),
            ((2, 1, 3, 4), (5, 4, 2)), ((0, 4), (4, 2))]),
    OpSpec("sum", lambda a: a.sum(), np.sum, UNARY_SHAPES),
    OpSpec("sum_dim", lambda a: a.sum(dim=-1, keepdim=True),
           lambda a: a.sum(axis=-1, keepdims=True), [((3, 4),), ((2, 3, 2),), ((0, 2),)]),
    OpSpec("sum_dims", lambda a: a.sum(dim=(0, 2)), lambda a: a.sum(axis=(0, 2)),
           [((2, 3, 2),), ((2, 0, 3),)]),
    OpSpec("mean", lambda a: a.mean(dim=0), lambda a: a.mean(axis=0), [((3, 4),), ((2, 3, 2),)]),
    OpSpec("var", lambda a: a.var(dim=1), lambda a: a.var(axis=1, ddof=1),
           [((3, 4),), ((2, 3, 2),)]),
    OpSpec("var_biased", lambda a: a.var(unbiased=False), lambda a: a.var(), [((3, 4),)]),
    OpSpec("std", lambda a: a.std(dim=0), lambda a: a.std(axis=0, ddof=1), [((3, 4),)]),
    OpSpec("max_all", lambda a: a.max(), np.max, [((3, 4),), ((2, 3, 2),)]),
    OpSpec("max_dim", lambda a: a.max(dim=1).values, lambda a: a.max(axis=1),
           [((3, 4),), ((2, 3, 2),)]),
    OpSpec("min_dim", lambda a: a.min(dim=-1, keepdim=True).values,
           lambda a: a.min(axis=-1, keepdims=True), [((3, 4),)]),
    OpSpec("amax", lambda a: a.amax(dim=(0, 1)), lambda a: a.max(axis=(0, 1)), [((2, 3, 2),)]),
    OpSpec("logsumexp", lambda a: cr.logsumexp(a, dim=1), lambda a: _np_logsumexp(a, 1),
           [((3, 4),), ((2, 3, 2),)]),
    OpSpec("norm", lambda a: a.norm(), lambda a: np.sqrt((a * a).sum()), [((3, 4),)]),
    OpSpec("reshape", lambda a: a.reshape(-1, 2), lambda a: a.reshape(-1, 2),
           [((3, 4),), ((2, 3, 2),), ((0, 2),)]),
    OpSpec("flatten", lambda a: a.flatten(1), lambda a: a.reshape(a.shape[0], -1),
           [((2, 3, 2),)]),
    OpSpec("transpose", lambda a: a.transpose(0, -1), lambda a: np.swapaxes(a, 0, -1),
           [((3, 4),), ((2, 3, 2),)]),
    OpSpec("permute", lambda a: a.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1),
           [((2, 3, 2),)]),
    OpSpec("T", lambda a: a.T, lambda a: a.T, [((3, 4),)]),
    OpSpec("squeeze", lambda a: a.squeeze(1), lambda a: a.squeeze(1), [((3, 1, 2),)]),
    OpSpec("unsqueeze", lambda a: a.unsqueeze(-1), lambda a: a[..., None], UNARY_SHAPES),
    OpSpec("expand", lambda a: a.expand(2, 3, 4), lambda a: np.broadcast_to(a, (2, 3, 4)),
           [((3, 1),), ((4,),)]),
    OpSpec("repeat", lambda a: a.repeat(2, 1, 3), lambda a: np.tile(a, (2, 1, 3)),
           [((3, 4),), ((2, 3, 2),)]),
    OpSpec("cat", lambda a, b: cr.cat([a, b, a], dim=1),
           lambda a, b: np.concatenate([a, b, a], axis=1), [((2, 3), (2, 1)), ((2, 0), (2, 2))]),
    OpSpec("stack", lambda a, b: cr.stack([a, b], dim=-1), lambda a, b: np.stack([a, b], -1),
           [((2, 3), (2, 3))]),
    OpSpec("split", lambda a: a.split(2, dim=1)[1], lambda a: a[:, 2:4], [((3, 5),)]),
    OpSpec("chunk", lambda a: a.chunk(3, dim=0)[2], lambda a: a[4:], [((5, 2),)]),
    OpSpec("pad", lambda a: cr.pad(a, (1, 2, 0, 1), value=0.5),
           lambda a: np.pad(a, ((0, 1), (1, 2)), constant_values=0.5), [((3, 4),)]),
    OpSpec("index_basic", lambda a: a[1:, None, ::2], lambda a: a[1:, None, ::2], [((3, 4),)]),
    OpSpec("index_int_repeat", lambda a: a[[0, 2, 0, 0]], lambda a: a[[0, 2, 0, 0]],
           [((3, 4),)]),
    OpSpec("index_mask", lambda a: a[a.data > 0], lambda a: a[a > 0], [((3, 4),)]),
    OpSpec("index_ellipsis", lambda a: a[..., 1], lambda a: a[..., 1], [((2, 3, 2),)]),
    OpSpec("index_pair_arrays", lambda a: a[[0, 1, 1], [2, 2, 3]],
           lambda a: a[[0, 1, 1], [2, 2, 3]], [((3, 4),)]),
    OpSpec("to_double", lambda a: a.double() * 2, lambda a: a * 2, [((3, 4),)]),
]

CASES = [(spec, shapes) for spec in SPECS for shapes in spec.shapes]
IDS = [f"{spec.name}-{'x'.join(map(str, shapes))}" for spec, shapes in CASES]


def _inputs(spec, shapes, dtype, seed=0, noncontiguous=False):
    rng = np.random.default_rng(seed)
    arrays = []
    for shape in shapes:
        array = spec.domain(rng.standard_normal(shape)).astype(dtype)
        if noncontiguous and len(shape) >= 2:
            # Same values in every other slot of a wider buffer: a strided, non-contiguous view.
            wide = np.zeros(shape[:-1] + (2 * shape[-1],), dtype=dtype)
            wide[..., ::2] = array
            array = wide[..., ::2]
            assert array.size <= 1 or not array.flags.c_contiguous
        arrays.append(array)
    return arrays


@pytest.mark.parametrize("spec,shapes", CASES, ids=IDS)
def test_forward_matches_numpy(spec, shapes):
    arrays = _inputs(spec, shapes, np.float32)
    out = spec.op(*[cr.tensor(a) for a in arrays])
    expected = spec.reference(*[a.astype(np.float64) for a in arrays])
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("spec,shapes", CASES, ids=IDS)
def test_float32_stays_float32(spec, shapes):
    arrays = _inputs(spec, shapes, np.float32)
    tensors = [cr.tensor(a, requires_grad=True) for a in arrays]
    out = spec.op(*tensors)
    if spec.name != "to_double":
        assert out.dtype == np.float32
    out.sum().backward()
    for t in tensors:
        if t.grad is not None:
            assert t.grad.dtype == np.float32


@pytest.mark.parametrize("spec,shapes", CASES, ids=IDS)
def test_gradcheck(spec, shapes):
    arrays = _inputs(spec, shapes, np.float64, seed=1)
    tensors = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in arrays]
    assert gradcheck(spec.op, tensors, atol=spec.atol)


@pytest.mark.parametrize("spec,shapes", [c for c in CASES if c[0].second_order],
                         ids=[i for c, i in zip(CASES, IDS) if c[0].second_order])
def test_gradgradcheck(spec, shapes):
    arrays = _inputs(spec, shapes, np.float64, seed=2)
    tensors = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in arrays]
    assert gradgradcheck(spec.op, tensors, atol=spec.atol)


@pytest.mark.parametrize("spec,shapes", [c for c in CASES if any(len(s) >= 2 for s in c[1])],
                         ids=[i for c, i in zip(CASES, IDS) if any(len(s) >= 2 for s in c[1])])
def test_noncontiguous_inputs(spec, shapes):
    contiguous = _inputs(spec, shapes, np.float64, seed=3)
    strided = _inputs(spec, shapes, np.float64, seed=3, noncontiguous=True)
    for a, b in zip(contiguous, strided):
        np.testing.assert_array_equal(a, b)
    a_tensors = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in contiguous]
    b_tensors = [cr.from_numpy(b).requires_grad_() for b in strided]
    np.testing.assert_allclose(spec.op(*b_tensors).data, spec.op(*a_tensors).data, rtol=1e-12)
    assert gradcheck(spec.op, b_tensors, fast_mode=True)
