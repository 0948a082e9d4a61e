"""The backward engine (chainrule/autograd/engine.py): accumulation, grad(), higher order, tensor
hooks, graph release, deterministic order, gradients of the wrong shape or dtype named, and
backward_options (backward() that keeps a differentiable gradient, for closures)."""

import gc
import weakref

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import Function
from chainrule.autograd.engine import backward_options


def f64(values, requires_grad=True):
    return cr.tensor(values, dtype=cr.float64, requires_grad=requires_grad)


def test_gradients_accumulate_across_backward_calls():
    x = f64([1.0, 2.0])
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data + 3)


def test_non_scalar_backward_needs_a_gradient():
    x = f64([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"only for scalar outputs.*shape \(2,\)"):
        (x * 2).backward()
    (x * 2).backward(cr.tensor([1.0, 10.0], dtype=cr.float64))
    np.testing.assert_allclose(x.grad.data, [2.0, 20.0])
    with pytest.raises(RuntimeError, match=r"gradient 0 has shape \(3,\) but its output has"):
        (x * 2).backward(cr.ones(3, dtype=cr.float64))


def test_backward_on_tensor_without_grad_explains():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.ones(2).sum().backward()


def test_shared_subexpression_gets_summed_gradient_once():
    x = f64([0.3, -1.2])
    y = x.exp()
    z = (y * y + y).sum()  # d/dx = 2e^{2x} + e^x
    z.backward()
    np.testing.assert_allclose(x.grad.data, 2 * np.exp(2 * x.data) + np.exp(x.data))


def test_grad_returns_tuple_and_leaves_grad_untouched():
    x, y = f64([1.0, 2.0]), f64([3.0, 4.0])
    gx, gy = cr.grad((x * y).sum(), (x, y))
    np.testing.assert_allclose(gx.data, y.data)
    np.testing.assert_allclose(gy.data, x.data)
    assert x.grad is None and y.grad is None


def test_grad_with_non_leaf_input_and_unused_inputs():
    x = f64([1.0, 2.0])
    hidden = x * 3
    out = (hidden ** 2).sum()
    unused = f64([0.0])
    (g_hidden, g_unused) = cr.grad(out, (hidden, unused), allow_unused=True)
    np.testing.assert_allclose(g_hidden.data, 2 * hidden.data)
    assert g_unused is None
    with pytest.raises(RuntimeError, match="was not used .* allow_unused=True"):
        cr.grad((x * 2).sum(), (x, unused))


def test_grad_outputs_and_several_outputs():
    x = f64([1.0, 2.0, 3.0])
    (g,) = cr.grad([x * 2, x ** 2], x, [f64([1.0, 1.0, 1.0], False), f64([1.0, 0.0, 2.0], False)])
    np.testing.assert_allclose(g.data, 2 + 2 * x.data * np.array([1.0, 0.0, 2.0]))


def test_third_derivative_of_a_polynomial():
    x = f64(1.7)
    y = x ** 4 + 2 * x ** 3
    (d1,) = cr.grad(y, x, create_graph=True)
    (d2,) = cr.grad(d1, x, create_graph=True)
    (d3,) = cr.grad(d2, x)
    a = 1.7
    assert float(d1) == pytest.approx(4 * a ** 3 + 6 * a ** 2)
    assert float(d2) == pytest.approx(12 * a ** 2 + 12 * a)
    assert float(d3) == pytest.approx(24 * a + 12)


def test_register_hook_on_leaf_and_non_leaf_can_replace_gradient():
    x = f64([1.0, 2.0])
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.data.copy()))
    hidden = x * 3
    hidden.register_hook(lambda g: g * 10)
    hidden.sum().backward()
    np.testing.assert_allclose(x.grad.data, [30.0, 30.0])
    np.testing.assert_allclose(seen[0], [30.0, 30.0])
    handle.remove()
    x.grad = None
    (x * 1.0).sum().backward()
    assert len(seen) == 1


def test_retain_grad_keeps_non_leaf_gradient():
    x = f64([1.0, 2.0])
    hidden = x * x
    hidden.retain_grad()
    assert hidden.retains_grad
    (hidden * 3).sum().backward()
    np.testing.assert_allclose(hidden.grad.data, [3.0, 3.0])
    other = x * 2
    (other * 3).sum().backward()
    assert other.grad is None


def test_long_chain_has_no_recursion_error():
    x = cr.tensor(1.0, dtype=cr.float64, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert float(x.grad) == 1.0


def test_graph_is_released_and_second_backward_explains():
    x = f64([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError,
                       match="backward through the graph a second time.*retain_graph"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = f64([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.data.copy()
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * first)


def test_backward_frees_saved_values():
    x = cr.randn(100, 100, requires_grad=True)
    hidden = x.exp()
    loss = (hidden * hidden).sum()
    node = loss.grad_fn
    del hidden
    loss.backward()
    mul_node = node.next[0]
    assert mul_node._released and mul_node.inputs == ()


def test_graph_is_garbage_collected_without_cycles():
    x = cr.randn(10, requires_grad=True)
    y = (x.exp() * 2).sum()
    ref = weakref.ref(y.grad_fn)
    y.backward()
    gc.disable()
    try:
        del y
        assert ref() is None  # freed by reference counting alone: no cycles
    finally:
        gc.enable()


def test_traversal_order_is_deterministic():
    def run():
        cr.manual_seed(0)
        x = cr.randn(4, requires_grad=True)
        order = []
        a, b = x * 2, x * 3
        a.register_hook(lambda g: order.append("a"))
        b.register_hook(lambda g: order.append("b"))
        (a * b + b).sum().backward()
        return order

    assert run() == run()


def test_leaf_gradients_do_not_alias_each_other():
    a, b = cr.ones(3, requires_grad=True), cr.ones(3, requires_grad=True)
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.mul_(5)
    np.testing.assert_array_equal(b.grad.data, 1.0)
    x = cr.ones(2, 3, requires_grad=True)
    x.sum().backward()
    x.grad.mul_(2)  # the gradient of sum is a broadcast; .grad must still be writable
    np.testing.assert_array_equal(x.grad.data, 2.0)


def test_integer_inputs_flow_through_without_gradient():
    x = f64([1.0, 2.0, 3.0])
    index = cr.tensor([2, 0])
    (x[index] * 2).sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 0.0, 2.0])


# ---------------------------------------------------------------------------- wrong gradients
class _WrongShape(Function):
    needs_inputs = False

    def forward(self, x):
        return x * 2

    def backward(self, grad_output):
        return grad_output.sum()


class _WrongDtype(Function):
    needs_inputs = False

    def forward(self, x):
        return x * 2

    def backward(self, grad_output):
        return grad_output.double()


@pytest.mark.parametrize("op, what", [(_WrongShape, r"shape \(\)"), (_WrongDtype, "float64")])
def test_engine_names_the_op_that_returns_a_wrong_gradient(op, what):
    x = cr.ones(3, requires_grad=True)
    y = op.apply(x)
    with pytest.raises(RuntimeError, match=f"{op.__name__}Backward.*{what}.*shape \\(3,\\)"):
        y.sum().backward()
    assert x.grad is None


# ---------------------------------------------------------------------------- backward_options
def _cubic(seed=0):
    rng = np.random.default_rng(seed)
    x = cr.tensor(rng.standard_normal(3), dtype=cr.float64, requires_grad=True)
    weights = rng.standard_normal(3)
    return x, weights, lambda: ((x ** 3) * cr.tensor(weights, dtype=cr.float64)).sum()


def test_backward_inside_the_context_leaves_gradients_with_a_graph():
    x, weights, loss_fn = _cubic()
    with backward_options(create_graph=True):
        loss_fn().backward()
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    np.testing.assert_allclose(x.grad.data, 3 * weights * x.data ** 2)
    # differentiate the gradient again: d/dx Σ v·(3w x²) = 6 w x v
    v = np.array([1.0, -2.0, 0.5])
    (hvp,) = cr.grad(x.grad, x, cr.tensor(v, dtype=cr.float64))
    np.testing.assert_allclose(hvp.data, 6 * weights * x.data * v)


def test_the_graphs_are_retained_so_they_can_be_used_many_times():
    x, weights, loss_fn = _cubic(1)
    with backward_options(create_graph=True):
        loss = loss_fn()
        loss.backward()
    rows = [cr.grad(x.grad, x, cr.tensor(np.eye(3)[k], dtype=cr.float64),
                    retain_graph=True)[0].data for k in range(3)]
    np.testing.assert_allclose(np.stack(rows), np.diag(6 * weights * x.data))
    first = x.grad.data.copy()
    loss.backward()  # the forward graph was kept: a second backward accumulates
    np.testing.assert_allclose(x.grad.data, 2 * first)


def test_outside_the_context_backward_is_plain_and_the_setting_is_restored():
    x, _, loss_fn = _cubic(2)
    loss_fn().backward()
    assert not x.grad.requires_grad and x.grad.grad_fn is None
    with pytest.raises(RuntimeError):
        with backward_options(create_graph=True):
            raise RuntimeError("boom")
    x.grad = None
    loss = loss_fn()
    loss.backward()
    assert x.grad.grad_fn is None
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()


def test_nested_contexts_restore_the_outer_setting():
    x, _, loss_fn = _cubic(3)
    with backward_options(create_graph=True):
        with backward_options(create_graph=False):
            loss_fn().backward()
        assert x.grad.grad_fn is None
        x.grad = None
        loss_fn().backward()
        assert x.grad.grad_fn is not None


def test_grad_is_not_affected():
    x, _, loss_fn = _cubic(4)
    with backward_options(create_graph=True):
        (g,) = cr.grad(loss_fn(), x)
    assert g.grad_fn is None and not g.requires_grad
