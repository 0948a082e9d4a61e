"""The op-spec harness: one ``OpSpec`` per op gives every check an op needs.

A test file for an op module (``tests/ops/test_elementwise.py`` for ``chainrule/ops/
elementwise.py``) lists its specs and hands them to the harness::

    SPECS = [
        OpSpec("exp", cr.exp, np.exp, UNARY_SHAPES, covers=("Exp",)),
        ...
    ]


    class TestSpecs(SpecChecks):
        specs = SPECS

``SpecChecks`` then runs, for every spec and every tuple of input shapes in ``spec.shapes``:

- ``test_forward_matches_numpy``: float64 output against the NumPy reference;
- ``test_float32_run``: float32 in, float32 out and float32 gradients, values close to the
  reference;
- ``test_gradcheck`` / ``test_gradgradcheck``: backward and double backward against finite
  differences in float64 (the double backward also with respect to the output gradient);
- ``test_noncontiguous_inputs``: strided inputs give the same values and correct gradients;
- ``test_zero_size_inputs``: for the cases with a zero-size input, no NumPy warning, the output
  has the reference's shape, every gradient its input's shape and dtype (and is zero when the
  output is empty);
- ``test_matches_pytorch``: value and gradient against PyTorch, for specs that name a ``torch``
  counterpart (skipped without torch);
- ``test_batched_backward``: ``chainrule.autograd.batched.batched_grad`` through the op's graph,
  and through its gradient's graph (double backward), equals one ``grad`` per vector — so every
  op's ``backward_batched`` rule is checked where it runs;

and, once per spec, ``test_covers_its_functions``: the ``Function`` classes named in
``covers`` appear in the graph of the output, of its gradient or of its double backward.
``tests/ops/test_every_function_has_a_spec.py`` checks that every ``Function`` in chainrule is
covered by some spec, or is listed in ``EXEMPT`` below with the reason.

The inputs a spec's op receives are float tensors that all require grad; an op with integer or
fixed arguments (class labels, a dropout seed) builds them inside ``op`` from the inputs'
shapes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import Function, gradcheck, gradgradcheck
from chainrule.autograd.batched import batched_grad

#: Function classes without a spec, and why that is fine.
EXEMPT = {
    "ViewFunction": "the abstract base of the view ops (Reshape, Permute, Expand, GetItem), "
                    "which have specs of their own",
    "_HookIdentity": "nn.hooks' identity node for Module.register_full_backward_hook, not an op; "
                     "tests/nn/test_module.py checks the gradients that pass through it",
    "AllReduceSum": "chainrule.distributed's sum over the processes of an MPI job, a collective: "
                    "tests/distributed/test_two_processes.py checks it (and SyncBatchNorm's "
                    "gradients of gradients through it) in 2 processes against 1",
}


# ---------------------------------------------------------------------------- input domains
def identity(x: np.ndarray) -> np.ndarray:
    return x


def positive(x: np.ndarray) -> np.ndarray:
    """|x| + 0.5: inside the domain of log, sqrt and a ** b."""
    return np.abs(x) + 0.5


def away_from_zero(x: np.ndarray) -> np.ndarray:
    """x moved 0.3 away from 0: finite differences never straddle a kink or pole at 0."""
    return np.where(x >= 0, x + 0.3, x - 0.3)


def away_from(*kinks: float, margin: float = 0.05) -> Callable:
    """A domain that moves inputs within ``margin`` of a kink to ``2·margin`` past it."""

    def domain(x: np.ndarray) -> np.ndarray:
        for kink in kinks:
            x = np.where(np.abs(x - kink) < margin, x + 2 * margin, x)
        return x

    return domain


def probability(x: np.ndarray) -> np.ndarray:
    """A value in (0.05, 0.95): inside binary cross-entropy's domain."""
    return 0.05 + 0.9 / (1 + np.exp(-x))


def torch_function(name: str, *args, **kwargs) -> Callable:
    """``(torch, *inputs) -> torch.nn.functional.<name>(*inputs, *args, **kwargs)``."""
    return lambda torch, *inputs: getattr(torch.nn.functional, name)(*inputs, *args, **kwargs)


# ---------------------------------------------------------------------------- the spec
@dataclass
class OpSpec:
    """One op and what its checks need.

    Args:
        name: the test id (``add``, ``max_dim``, ...).
        op: ``op(*tensors) -> Tensor`` on chainrule tensors.
        reference: ``reference(*arrays) -> array``, the same on float64 NumPy arrays.
        shapes: the cases, each a tuple with one shape per input.
        covers: the ``Function`` classes (by name) the op exercises, in its graph, its
            gradient's or its double backward's.
        domain: maps standard-normal draws into the op's domain; one function for every input,
            or a tuple with one per input.
        second_order: run ``gradgradcheck`` too.
        atol, eps: ``gradcheck``'s tolerance and step.
        tolerance: ``(rtol, atol)`` of the float64 forward check.
        keeps_dtype: float32 inputs give a float32 output.
        torch: ``torch(torch_module, *torch_tensors) -> torch.Tensor``, PyTorch's version.
        no_zero_size: why the op has no zero-size case (every other spec needs one).
    """

    name: str
    op: Callable
    reference: Callable
    shapes: list
    covers: tuple = ()
    domain: Callable | tuple = identity
    second_order: bool = True
    atol: float = 1e-5
    eps: float = 1e-6
    tolerance: tuple = (1e-10, 1e-12)
    keeps_dtype: bool = True
    torch: Callable | None = None
    no_zero_size: str = ""

    def inputs(self, shapes, dtype, seed: int = 0, noncontiguous: bool = False) -> list:
        """One array per input shape: seeded standard-normal draws mapped into the domain."""
        rng = np.random.default_rng(seed)
        domains = self.domain if isinstance(self.domain, tuple) else (self.domain,) * len(shapes)
        arrays = []
        for shape, domain in zip(shapes, domains):
            array = np.asarray(domain(rng.standard_normal(shape))).astype(dtype)
            if noncontiguous and len(shape) >= 2:
                # The same values in every other slot of a wider buffer: a strided view.
                wide = np.zeros(shape[:-1] + (2 * shape[-1],), dtype=dtype)
                wide[..., ::2] = array
                array = wide[..., ::2]
                assert array.size <= 1 or not array.flags.c_contiguous
            arrays.append(array)
        return arrays

    def tensors(self, shapes, seed: int = 0) -> list:
        """float64 leaf tensors that require grad, from ``inputs``."""
        return [cr.tensor(a, dtype=cr.float64, requires_grad=True)
                for a in self.inputs(shapes, np.float64, seed)]


def _is_zero_size(shapes) -> bool:
    return any(0 in shape for shape in shapes)


def _has_a_matrix(shapes) -> bool:
    return any(len(shape) >= 2 and 0 not in shape for shape in shapes)


def _case_id(spec: OpSpec, shapes) -> str:
    return f"{spec.name}-{'x'.join(map(str, shapes))}"


#: Which (spec, shapes) cases each check runs on.
_CASES_OF = {
    "test_forward_matches_numpy": lambda spec, shapes: True,
    "test_float32_run": lambda spec, shapes: True,
    "test_gradcheck": lambda spec, shapes: True,
    "test_gradgradcheck": lambda spec, shapes: spec.second_order,
    "test_noncontiguous_inputs": lambda spec, shapes: _has_a_matrix(shapes),
    "test_zero_size_inputs": lambda spec, shapes: _is_zero_size(shapes),
    "test_matches_pytorch": lambda spec, shapes: (spec.torch is not None
                                                  and not _is_zero_size(shapes)),
    "test_batched_backward": lambda spec, shapes: not _is_zero_size(shapes),
}


def _cases(specs, check: str) -> list:
    wanted = _CASES_OF[check]
    return [(spec, shapes) for spec in specs for shapes in spec.shapes if wanted(spec, shapes)]


# ---------------------------------------------------------------------------- graph walking
def _nodes(tensors) -> set:
    """Names of the Function classes in the graphs that made ``tensors``."""
    names, seen = set(), set()
    stack = [t.grad_fn for t in tensors if t is not None and t.grad_fn is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        names.add(type(node).__name__)
        stack.extend(edge for edge in node.next if isinstance(edge, Function))
    return names


def functions_in_graphs(spec: OpSpec, shapes) -> set:
    """Function classes in the graph of ``spec.op``, of its gradient and of its double backward
    (the gradient's gradient with respect to the inputs and the output gradient)."""
    inputs = spec.tensors(shapes, seed=4)
    out = spec.op(*inputs)
    rng = np.random.default_rng(5)
    grad_output = cr.tensor(rng.standard_normal(out.shape), dtype=cr.float64, requires_grad=True)
    grads = cr.grad(out, inputs, grad_output, create_graph=True, allow_unused=True)
    differentiable = [g for g in grads if g is not None and g.requires_grad]
    names = _nodes([out]) | _nodes(differentiable)
    if differentiable:
        # The vectors require grad too, so that what the double backward runs is recorded.
        total = sum((g * cr.tensor(rng.standard_normal(g.shape), dtype=cr.float64,
                                   requires_grad=True)).sum() for g in differentiable)
        second = cr.grad(total, inputs + [grad_output], create_graph=True, allow_unused=True)
        names |= _nodes([g for g in second if g is not None and g.requires_grad])
    return names


# ---------------------------------------------------------------------------- the checks
class SpecChecks:
    """The harness's checks, parametrized over ``specs``; subclass it with ``specs = [...]``.

    A check that has no case among a subclass's specs is left out of that subclass (no empty,
    skipped test).
    """

    specs: list = []

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for check in _CASES_OF:
            if not _cases(cls.specs, check):
                setattr(cls, check, None)

    def pytest_generate_tests(self, metafunc):
        name = metafunc.function.__name__
        if name in _CASES_OF:
            cases = _cases(self.specs, name)
            metafunc.parametrize("case", cases, ids=[_case_id(s, shapes) for s, shapes in cases])
        elif "spec" in metafunc.fixturenames:
            metafunc.parametrize("spec", self.specs, ids=[s.name for s in self.specs])

    def test_forward_matches_numpy(self, case):
        spec, shapes = case
        arrays = spec.inputs(shapes, np.float64)
        out = spec.op(*[cr.tensor(a, dtype=cr.float64) for a in arrays])
        expected = spec.reference(*arrays)
        assert out.shape == np.shape(expected)
        rtol, atol = spec.tolerance
        np.testing.assert_allclose(out.data, expected, rtol=rtol, atol=atol)

    def test_float32_run(self, case):
        spec, shapes = case
        arrays = spec.inputs(shapes, np.float32)
        tensors = [cr.tensor(a, requires_grad=True) for a in arrays]
        out = spec.op(*tensors)
        if spec.keeps_dtype:
            assert out.dtype == np.float32
        expected = spec.reference(*[a.astype(np.float64) for a in arrays])
        np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)
        out.sum().backward()
        for t in tensors:
            assert t.grad is None or t.grad.dtype == np.float32

    def test_gradcheck(self, case):
        spec, shapes = case
        assert gradcheck(spec.op, spec.tensors(shapes, seed=1), eps=spec.eps, atol=spec.atol)

    def test_gradgradcheck(self, case):
        spec, shapes = case
        inputs = spec.tensors(shapes, seed=2)
        assert gradgradcheck(spec.op, inputs, eps=spec.eps, atol=spec.atol)
        # gradgradcheck holds the output gradient u fixed; the backward is linear in u, and its
        # derivative in u (the backward of the backward) gets a random-projection check too.
        out = spec.op(*inputs)
        u = cr.tensor(np.random.default_rng(8).standard_normal(out.shape), dtype=cr.float64,
                      requires_grad=True)

        def vector_jacobian_product(*args):
            grads = cr.grad(spec.op(*args[:-1]), args[:-1], args[-1], create_graph=True,
                            allow_unused=True)
            return tuple(g if g is not None else a * 0.0 for g, a in zip(grads, args[:-1]))

        assert gradcheck(vector_jacobian_product, inputs + [u], eps=spec.eps, atol=spec.atol,
                         fast_mode=True)

    def test_noncontiguous_inputs(self, case):
        spec, shapes = case
        contiguous = spec.inputs(shapes, np.float64, seed=3)
        strided = spec.inputs(shapes, np.float64, seed=3, noncontiguous=True)
        for a, b in zip(contiguous, strided):
            np.testing.assert_array_equal(a, b)
        a_tensors = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in contiguous]
        b_tensors = [cr.from_numpy(b).requires_grad_() for b in strided]
        np.testing.assert_allclose(spec.op(*b_tensors).data, spec.op(*a_tensors).data,
                                   rtol=1e-12, atol=1e-14)
        assert gradcheck(spec.op, b_tensors, eps=spec.eps, atol=spec.atol, fast_mode=True)

    def test_zero_size_inputs(self, case):
        spec, shapes = case
        arrays = spec.inputs(shapes, np.float64)
        tensors = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in arrays]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no mean-of-empty or 0/0 warnings
            out = spec.op(*tensors)
            out.sum().backward()
        assert out.shape == np.shape(spec.reference(*arrays))
        for t in tensors:
            if t.grad is not None:
                assert t.grad.shape == t.shape and t.grad.dtype == t.dtype
                if out.data.size == 0:
                    np.testing.assert_array_equal(t.grad.data, np.zeros(t.shape))

    def test_matches_pytorch(self, case):
        torch = pytest.importorskip("torch")
        spec, shapes = case
        arrays = spec.inputs(shapes, np.float64, seed=6)
        ours = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in arrays]
        theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
        out, expected = spec.op(*ours), spec.torch(torch, *theirs)
        np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
        grad_output = np.random.default_rng(7).standard_normal(out.shape)
        out.backward(cr.tensor(grad_output, dtype=cr.float64))
        expected.backward(torch.tensor(grad_output))
        for mine, reference in zip(ours, theirs):
            if reference.grad is None:
                assert mine.grad is None or not mine.grad.data.any()
            else:
                np.testing.assert_allclose(mine.grad.data, reference.grad.numpy(), rtol=1e-9,
                                           atol=1e-11)

    def test_batched_backward(self, case):
        spec, shapes = case
        inputs = spec.tensors(shapes, seed=9)
        out = spec.op(*inputs)
        if not out.requires_grad:
            return
        rng = np.random.default_rng(10)
        assert_batched_equals_per_vector([out], inputs, rng)
        if spec.second_order:
            u = cr.tensor(rng.standard_normal(out.shape), dtype=cr.float64)
            grads = cr.grad(out, inputs, u, create_graph=True, allow_unused=True)
            differentiable = [g for g in grads if g is not None and g.requires_grad]
            if differentiable:
                assert_batched_equals_per_vector(differentiable, inputs, rng)

    def test_covers_its_functions(self, spec):
        assert spec.no_zero_size or any(_is_zero_size(s) for s in spec.shapes), (
            f"{spec.name}: add a case with a zero-size input to shapes, or say in no_zero_size "
            "why the op has none")
        shapes = next(s for s in spec.shapes if not _is_zero_size(s))
        missing = set(spec.covers) - functions_in_graphs(spec, shapes)
        assert not missing, (f"{spec.name} says it covers {sorted(missing)}, but they are not in "
                             "the graph of its output, gradient or double backward")


def assert_batched_equals_per_vector(outputs, inputs, rng, count: int = 3) -> None:
    """``batched_grad`` for ``count`` random vectors equals ``grad`` for each vector alone."""
    vectors = [rng.standard_normal((count,) + tuple(o.shape)) for o in outputs]
    batched = batched_grad(outputs, inputs, vectors, allow_unused=True)
    for j in range(count):
        single = cr.grad(outputs, inputs, [cr.tensor(v[j], dtype=cr.float64) for v in vectors],
                         retain_graph=True, allow_unused=True)
        for position, (ours, expected) in enumerate(zip(batched, single)):
            if expected is None and ours is None:
                continue
            if expected is None or ours is None:
                left = ours[j] if ours is not None else expected.data
                np.testing.assert_array_equal(left, np.zeros_like(left),
                                              err_msg=f"input {position}: one path gave None")
            else:
                assert ours.shape == (count,) + tuple(expected.shape)
                np.testing.assert_allclose(ours[j], expected.data, rtol=1e-11, atol=1e-12,
                                           err_msg=f"input {position}, vector {j}")


def specs_of(module) -> list:
    """Every spec that a test module hands to the harness."""
    return [spec for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, SpecChecks) and value is not SpecChecks
            for spec in value.specs]


# ---------------------------------------------------------------------------- extremes
def assert_correct_at_extremes(fn: Callable, reference: Callable, values: np.ndarray, dtype,
                               weights: np.ndarray, gradient: Callable | None = None) -> None:
    """fn at huge and tiny inputs: no NumPy warning, values as the float64 reference, and the
    gradient of Σ weights·fn(x) finite and equal to ``gradient(x, weights)`` (closed form), or
    for an elementwise fn to central differences of the reference with steps relative to |x|
    (with 1e30 beside -1e4 the differences of a vector function cannot resolve the small
    entries, so those pass a closed form)."""
    x = cr.tensor(values.astype(dtype), dtype=dtype, requires_grad=True)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        out = fn(x)
        (out * cr.tensor(weights, dtype=out.dtype)).sum().backward()
    exact = values.astype(dtype).astype(np.float64)
    with np.errstate(all="ignore"):
        expected = reference(exact)
    rtol, atol = (1e-6, 1e-6) if dtype == np.float32 else (1e-10, 1e-300)
    np.testing.assert_allclose(out.data, expected, rtol=rtol, atol=atol)
    grad = x.grad.data
    assert np.isfinite(grad).all()
    with np.errstate(all="ignore"):
        if gradient is None:
            step = 1e-6 * np.maximum(1.0, np.abs(exact))
            expected_grad = weights * (reference(exact + step) - reference(exact - step)) / (
                2 * step)
        else:
            expected_grad = gradient(exact, weights)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-4, atol=1e-6)


#: The inputs and (dtype, largest magnitude) pairs of the extremes checks.
EXTREME_VALUES = np.array([-1.0, -1e4, -200.0, -30.0, -1.5, 0.5, 3.0, 30.0, 200.0, 1e4, 1.0])
EXTREMES = [(np.float32, 1e30), (np.float64, 1e30), (np.float64, 1e300)]


def extreme_values(big: float) -> np.ndarray:
    """-big, -1e4, ..., 1e4, big."""
    values = EXTREME_VALUES.copy()
    values[0], values[-1] = -big, big
    return values


# ---------------------------------------------------------------------------- edge helpers
def value_and_grad(fn: Callable, values, dtype=cr.float64) -> tuple:
    """fn(x) and d(sum fn(x))/dx as arrays, with NumPy warnings turned into errors."""
    x = cr.tensor(values, dtype=dtype, requires_grad=True)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        out = fn(x)
        out.sum().backward()
    return out.data, x.grad.data


def torch_value_and_grad(torch, fn: Callable, values) -> tuple:
    """``value_and_grad`` of PyTorch's ``fn`` in float64."""
    x = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    out = fn(x)
    out.sum().backward()
    return out.detach().numpy(), x.grad.numpy()


def assert_same(ours, theirs) -> None:
    """Pairs of arrays equal to float64 round-off, NaN where the other has NaN."""
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15, equal_nan=True)
