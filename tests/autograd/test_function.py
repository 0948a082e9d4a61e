"""``Function``: one backward per op, and the optional array path the engine takes without a graph.

Every op that defines ``backward_arrays`` must give the gradients its Tensor ``backward`` gives:
both are run through the engine on the same random float64 inputs (the Tensor path under
``create_graph=True``, the array path without) and compared to float64 rounding. No op's
``backward`` may look at the grad mode: which path runs is the engine's decision.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap
import zlib

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
import chainrule.ops
from chainrule.autograd.function import Function
from chainrule.ops.activations import Elu, Softsign
from chainrule.ops.cross_entropy import CrossEntropy
from chainrule.ops.elementwise import Add, Div, Mul, Neg, Sub
from chainrule.ops.embedding import EmbeddingLookup
from chainrule.ops.linalg import Linear, LinearRelu
from chainrule.ops.loss import BinaryCrossEntropy
from chainrule.ops.normalization import Normalize
from chainrule.ops.pointwise import Exp, Log, Relu, Sigmoid, Tanh
from chainrule.ops.rnn import Recurrence

for _module in pkgutil.iter_modules(chainrule.ops.__path__):  # every op class is defined
    importlib.import_module(f"chainrule.ops.{_module.name}")


def _all_functions() -> list[type]:
    found, stack = [], [Function]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("chainrule.") and sub not in found:
                found.append(sub)
                stack.append(sub)
    return sorted(found, key=lambda cls: (cls.__module__, cls.__qualname__))


def _defines_backward_arrays(cls: type) -> bool:
    return getattr(cls, "backward_arrays", None) is not None


# ---------------------------------------------------------------------------- cases
# Each case: (name, build) where build(rng) returns (inputs that require grad, output of the op).
def _leaf(rng, *shape, low=None, high=None, requires_grad=True):
    values = rng.standard_normal(shape) if low is None else rng.uniform(low, high, shape)
    return cr.tensor(values, dtype=cr.float64, requires_grad=requires_grad)


def _linear(batch_shape, bias: bool, grads: str):
    def build(rng):
        x = _leaf(rng, *batch_shape, 5, requires_grad="x" in grads)
        weight = _leaf(rng, 3, 5, requires_grad="w" in grads)
        b = _leaf(rng, 3, requires_grad="b" in grads) if bias else None
        leaves = [t for t in (x, weight, b) if t is not None and t.requires_grad]
        return leaves, F.linear(x, weight, b)
    return build


def _linear_relu(grads: str):
    def build(rng):
        x = _leaf(rng, 2, 4, 5, requires_grad="x" in grads)
        weight = _leaf(rng, 3, 5, requires_grad="w" in grads)
        bias = _leaf(rng, 3, requires_grad="b" in grads)
        return [t for t in (x, weight, bias) if t.requires_grad], F.linear_relu(x, weight, bias)
    return build


def _batch_norm(shape, affine: bool, training: bool, grads: str = "xwb"):
    def build(rng):
        channels = shape[1]
        x = _leaf(rng, *shape, requires_grad="x" in grads)
        weight = _leaf(rng, channels, requires_grad="w" in grads) if affine else None
        bias = _leaf(rng, channels, requires_grad="b" in grads) if affine else None
        running_mean = cr.tensor(rng.standard_normal(channels), dtype=cr.float64)
        running_var = cr.tensor(rng.uniform(0.5, 2.0, channels), dtype=cr.float64)
        leaves = [t for t in (x, weight, bias) if t is not None and t.requires_grad]
        return leaves, F.batch_norm(x, running_mean, running_var, weight, bias, training=training)
    return build


def _layer_norm(shape, normalized, affine: bool, grads: str = "xwb"):
    def build(rng):
        x = _leaf(rng, *shape, requires_grad="x" in grads)
        weight = _leaf(rng, *normalized, requires_grad="w" in grads) if affine else None
        bias = _leaf(rng, *normalized, requires_grad="b" in grads) if affine else None
        leaves = [t for t in (x, weight, bias) if t is not None and t.requires_grad]
        return leaves, F.layer_norm(x, normalized, weight, bias)
    return build


def _binary(function, shape_a, shape_b, grads: str = "ab", positive_b: bool = False):
    def build(rng):
        a = _leaf(rng, *shape_a, requires_grad="a" in grads)
        b = _leaf(rng, *shape_b, low=0.5 if positive_b else None,
                  high=2.0 if positive_b else None, requires_grad="b" in grads)
        return [t for t in (a, b) if t.requires_grad], function(a, b)
    return build


def _binary_cases(function, positive_b: bool = False):
    return [
        ("same shapes", _binary(function, (3, 4), (3, 4), positive_b=positive_b)),
        ("broadcast (2, 3, 4) with (3, 1)", _binary(function, (2, 3, 4), (3, 1),
                                                    positive_b=positive_b)),
        ("only the first needs a gradient", _binary(function, (3, 4), (4,), "a",
                                                    positive_b=positive_b)),
        ("only the broadcast second", _binary(function, (3, 4), (1, 4), "b",
                                              positive_b=positive_b)),
    ]


def _unary(function, low=None, high=None):
    def build(rng):
        x = _leaf(rng, 4, 5, low=low, high=high)
        return [x], function(x)
    return build


def _activation(function, scale: float = 3.0, extreme: bool = False):
    def build(rng):
        values = rng.standard_normal((4, 5)) * scale
        if extreme:
            values.flat[:2] = (-1e30, 1e30)  # softsign's slope there is 0, not an overflow
        x = cr.tensor(values, dtype=cr.float64, requires_grad=True)
        return [x], function(x)
    return build


def _binary_cross_entropy(grads: str):
    def build(rng):
        p = _leaf(rng, 4, 3, low=0.05, high=0.95, requires_grad="p" in grads)
        y = _leaf(rng, 4, 3, low=0.0, high=1.0, requires_grad="y" in grads)
        return [t for t in (p, y) if t.requires_grad], F.binary_cross_entropy(p, y,
                                                                                reduction="none")
    return build


def _cross_entropy(shape, reduction: str, weighted=False, ignore=False, smoothing=0.0,
                   probabilities=False, target_grad=False):
    def build(rng):
        x = _leaf(rng, *shape)
        classes = shape[1]
        weight = cr.tensor(rng.uniform(0.5, 2.0, classes), dtype=cr.float64) if weighted else None
        if probabilities:
            target = _leaf(rng, *shape, low=0.0, high=1.0, requires_grad=target_grad)
        else:
            labels = rng.integers(0, classes, (shape[0],) + tuple(shape[2:]))
            if ignore:
                labels.flat[0] = -100
            target = cr.tensor(labels)
        out = F.cross_entropy(x, target, weight=weight, reduction=reduction,
                              label_smoothing=smoothing)
        return [x] + ([target] if target_grad else []), out
    return build


def _recurrence(mode, reverse=False, bias=True, proj=0, batch_sizes=None, grads="all"):
    def build(rng):
        steps, batch, features, hidden = 4, 3, 2, 3
        gates, size = {"rnn_tanh": 1, "rnn_relu": 1, "gru": 3, "lstm": 4}[mode] * hidden, \
            proj or hidden
        x = _leaf(rng, steps, batch, features, requires_grad=grads == "all")
        h0 = _leaf(rng, batch, size)
        c0 = _leaf(rng, batch, hidden) if mode == "lstm" else None
        weights = [_leaf(rng, gates, features), _leaf(rng, gates, size)]
        if bias:
            weights += [_leaf(rng, gates), _leaf(rng, gates)]
        if proj:
            weights.append(_leaf(rng, proj, hidden))
        leaves = ([x] if grads == "all" else []) + [h0] + ([c0] if c0 is not None else []) \
            + weights
        inputs = [x, h0] + ([c0] if c0 is not None else []) + weights
        return leaves, Recurrence.apply(*inputs, mode=mode, reverse=reverse, bias=bias,
                                        proj=bool(proj), batch_sizes=batch_sizes)

    return build


def _embedding(padding_idx=None, by_freq=False):
    def build(rng):
        weight = _leaf(rng, 5, 3)
        out = F.embedding(cr.tensor([[1, 3, 1], [0, 4, 1]]), weight, padding_idx=padding_idx,
                          scale_grad_by_freq=by_freq)
        return [weight], out

    return build


CASES = {
    Add: _binary_cases(lambda a, b: a + b),
    Sub: _binary_cases(lambda a, b: a - b),
    Mul: _binary_cases(lambda a, b: a * b),
    Div: _binary_cases(lambda a, b: a / b, positive_b=True),
    Neg: [("neg", _unary(lambda x: -x))],
    Exp: [("exp", _unary(cr.exp))],
    Log: [("log", _unary(cr.log, 0.5, 3.0))],
    Tanh: [("tanh", _unary(cr.tanh))],
    Sigmoid: [("sigmoid", _unary(cr.sigmoid))],
    Relu: [("relu", _activation(F.relu))],
    Elu: [
        ("elu", _activation(F.elu)),
        ("selu", _activation(F.selu)),
        ("celu alpha 0.5", _activation(lambda x: F.celu(x, 0.5))),
        ("elu alpha 2, far negative", _activation(lambda x: F.elu(x, 2.0), scale=30.0)),
    ],
    Softsign: [
        ("softsign", _activation(F.softsign)),
        ("softsign at ±1e30", _activation(F.softsign, extreme=True)),
    ],
    Recurrence: [
        ("rnn tanh", _recurrence("rnn_tanh")),
        ("rnn relu, reverse, no bias", _recurrence("rnn_relu", True, False)),
        ("gru", _recurrence("gru")),
        ("gru, reverse, packed", _recurrence("gru", True, batch_sizes=(3, 2, 2, 1))),
        ("gru, first layer (no input gradient)", _recurrence("gru", grads="weights")),
        ("lstm", _recurrence("lstm")),
        ("lstm, projection, packed", _recurrence("lstm", proj=2, batch_sizes=(3, 3, 1, 1))),
        ("lstm, reverse, no bias, projection", _recurrence("lstm", True, False, proj=2)),
    ],
    EmbeddingLookup: [
        ("plain", _embedding()),
        ("padding_idx, scale_grad_by_freq", _embedding(0, True)),
    ],
    Linear: [
        ("2-D, bias", _linear((4,), True, "xwb")),
        ("3-D, bias", _linear((2, 4), True, "xwb")),
        ("no bias", _linear((4,), False, "xw")),
        ("first layer (x needs no grad)", _linear((4,), True, "wb")),
        ("only x", _linear((2, 4), True, "x")),
    ],
    LinearRelu: [
        ("3-D, bias", _linear_relu("xwb")),
        ("first layer (x needs no grad)", _linear_relu("wb")),
    ],
    Normalize: [
        ("batch norm 2-D, affine", _batch_norm((6, 3), True, True)),
        ("batch norm 4-D, affine", _batch_norm((4, 3, 2, 2), True, True)),
        ("batch norm, no affine", _batch_norm((6, 3), False, True)),
        ("batch norm, running statistics", _batch_norm((4, 3, 2, 2), True, False)),
        ("batch norm, only weight and bias", _batch_norm((6, 3), True, True, "wb")),
        ("layer norm, affine", _layer_norm((4, 5), (5,), True)),
        ("layer norm 2 dims, affine", _layer_norm((3, 2, 4), (2, 4), True)),
        ("layer norm, no affine", _layer_norm((4, 5), (5,), False)),
        ("layer norm, only x", _layer_norm((3, 6), (6,), True, "x")),
    ],
    BinaryCrossEntropy: [
        ("grad to p", _binary_cross_entropy("p")),
        ("grad to p and y", _binary_cross_entropy("py")),
        ("grad to y", _binary_cross_entropy("y")),
    ],
    CrossEntropy: [
        ("indices, mean", _cross_entropy((5, 4), "mean")),
        ("indices, sum", _cross_entropy((5, 4), "sum")),
        ("indices, none", _cross_entropy((5, 4), "none")),
        ("indices, weighted, ignore_index", _cross_entropy((5, 4), "mean", True, True)),
        ("indices, smoothing", _cross_entropy((5, 4), "mean", smoothing=0.2)),
        ("indices, weighted, smoothing, none",
         _cross_entropy((5, 4), "none", True, True, smoothing=0.1)),
        ("indices, (N, C, d)", _cross_entropy((3, 4, 2), "mean", True, True)),
        ("indices, (N, C, d), none", _cross_entropy((3, 4, 2), "none")),
        ("probabilities", _cross_entropy((5, 4), "mean", probabilities=True)),
        ("probabilities, grad to target",
         _cross_entropy((5, 4), "sum", True, smoothing=0.1, probabilities=True,
                        target_grad=True)),
        ("probabilities, (N, C, d), none",
         _cross_entropy((3, 4, 2), "none", probabilities=True, target_grad=True)),
    ],
}


def test_every_op_with_an_array_backward_has_cases():
    with_arrays = {cls for cls in _all_functions() if _defines_backward_arrays(cls)}
    assert with_arrays, "no Function defines backward_arrays: the walk over the ops found none"
    missing = sorted(cls.__qualname__ for cls in with_arrays - set(CASES))
    assert not missing, f"add cases to CASES for {missing}: they define backward_arrays"
    stale = sorted(cls.__qualname__ for cls in set(CASES) - with_arrays)
    assert not stale, f"{stale} no longer define backward_arrays; drop their CASES"


@pytest.mark.parametrize("cls, name, build", [
    pytest.param(cls, name, build, id=f"{cls.__name__}: {name}")
    for cls, cases in CASES.items() for name, build in cases
])
def test_array_backward_agrees_with_tensor_backward(cls, name, build):
    rng = np.random.default_rng(zlib.crc32(f"{cls.__name__}: {name}".encode()))
    leaves, out = build(rng)
    assert type(out.grad_fn) is cls, f"the case builds {out.grad_fn}, not {cls.__name__}"
    grad_output = cr.tensor(rng.standard_normal(out.shape), dtype=cr.float64)

    # the array path, called directly: arrays (None for inputs that need no gradient)
    arrays = out.grad_fn.backward_arrays(grad_output.data)
    arrays = arrays if type(arrays) is tuple else (arrays,)
    for position, edge in enumerate(out.grad_fn.next):
        value = arrays[position] if position < len(arrays) else None
        if edge is None:
            assert value is None, f"a gradient for input {position}, which needs none"
        else:
            assert type(value) is np.ndarray, f"input {position}: {type(value).__name__}"

    recorded = cr.grad(out, leaves, grad_output, retain_graph=True, create_graph=True)
    plain = cr.grad(out, leaves, grad_output)
    for position, (tensor_path, array_path) in enumerate(zip(recorded, plain)):
        assert array_path.grad_fn is None
        assert array_path.dtype == tensor_path.dtype == np.float64
        scale = max(1.0, float(np.abs(tensor_path.data).max()))
        np.testing.assert_allclose(array_path.data, tensor_path.data, rtol=1e-12,
                                   atol=1e-13 * scale, err_msg=f"leaf {position}")


# ---------------------------------------------------------------------------- engine
class _Twice(Function):
    """y = 2x with both paths, counting which one runs."""

    calls: list[str] = []

    def forward(self, x):
        return 2 * x

    def backward(self, grad_output):
        _Twice.calls.append("backward")
        return grad_output * 2.0

    def backward_arrays(self, grad_output):
        _Twice.calls.append("backward_arrays")
        return grad_output * 2.0


def test_engine_takes_the_array_path_only_without_create_graph():
    x = cr.tensor([1.0, -2.0], requires_grad=True)
    _Twice.calls.clear()
    (grad,) = cr.grad(_Twice.apply(x).sum(), x)
    assert _Twice.calls == ["backward_arrays"]
    np.testing.assert_array_equal(grad.data, [2.0, 2.0])
    _Twice.calls.clear()
    (grad,) = cr.grad(_Twice.apply(x * x).sum(), x, create_graph=True)
    assert _Twice.calls == ["backward"]
    assert grad.grad_fn is not None  # differentiable again
    _Twice.calls.clear()
    with cr.autograd.engine.backward_options(create_graph=True):
        _Twice.apply(x).sum().backward()
    assert _Twice.calls == ["backward"]


def test_array_path_accumulates_writable_leaf_gradients():
    x = cr.tensor([1.0, -2.0], requires_grad=True)
    (_Twice.apply(x) + _Twice.apply(x)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 4.0])
    x.grad.data[0] = 0.0  # a .grad is the caller's to change


class _WrongShape(Function):
    def forward(self, x):
        return x.copy()

    def backward(self, grad_output):
        return grad_output

    def backward_arrays(self, grad_output):
        return grad_output[:1]


class _WrongDtype(_WrongShape):
    def backward_arrays(self, grad_output):
        return grad_output.astype(np.float32)


@pytest.mark.parametrize("cls, word", [(_WrongShape, "shape"), (_WrongDtype, "dtype")])
def test_array_path_gradients_are_checked_like_tensor_ones(cls, word):
    x = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match=rf"{cls.__name__}\.backward_arrays") as error:
        cls.apply(x).sum().backward()
    assert word in str(error.value)
    assert "(2,)" in str(error.value)
    (grad,) = cr.grad(cls.apply(x).sum(), x, create_graph=True)  # the Tensor path is fine
    np.testing.assert_array_equal(grad.data, [1.0, 1.0])


class _NanArrays(_WrongShape):
    def backward_arrays(self, grad_output):
        return grad_output * np.nan


def test_anomaly_detection_checks_the_array_path():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with cr.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match="_NanArraysBackward returned nan"):
            _NanArrays.apply(x).sum().backward()


# ---------------------------------------------------------------------------- no mode checks
_GRAD_MODE_NAMES = {"grad_mode", "_GradMode", "is_grad_enabled", "set_grad_enabled", "no_grad",
                    "enable_grad"}


def _backward_checks_grad_mode(cls: type) -> list[str]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls.backward)))
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    return sorted(names & _GRAD_MODE_NAMES)


@pytest.mark.parametrize("cls", [
    pytest.param(cls, id=cls.__qualname__)
    for cls in _all_functions() if "backward" in cls.__dict__
])
def test_backward_does_not_check_the_grad_mode(cls):
    found = _backward_checks_grad_mode(cls)
    assert not found, (
        f"{cls.__qualname__}.backward refers to {found}: a backward must not branch on the grad "
        "mode. Put the array-only formulas in backward_arrays; the engine calls it when no graph "
        "of the backward is recorded."
    )


def test_the_grad_mode_check_finds_a_check():
    class Branching(Function):
        def forward(self, x):
            return x

        def backward(self, grad_output):
            if cr.autograd.grad_mode._GradMode.enabled:
                return grad_output
            return grad_output

    assert _backward_checks_grad_mode(Branching) == ["_GradMode", "grad_mode"]
