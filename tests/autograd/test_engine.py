"""The backward engine: accumulation, grad(), higher order, hooks, graph release, anomalies."""

import gc
import weakref

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import functional


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


def test_hessian_matches_closed_form_for_quadratic_and_logsumexp():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 4))
    a = a @ a.T
    matrix = cr.tensor(a, dtype=cr.float64)
    x = f64(rng.standard_normal(4), requires_grad=False)
    h = functional.hessian(lambda t: 0.5 * (t @ (matrix @ t)), x)
    np.testing.assert_allclose(h.data, a, rtol=1e-10)
    # Hessian of logsumexp is diag(p) - p pᵀ with p = softmax(x).
    h = functional.hessian(lambda t: cr.logsumexp(t, dim=0), x)
    p = np.exp(x.data - x.data.max())
    p /= p.sum()
    np.testing.assert_allclose(h.data, np.diag(p) - np.outer(p, p), atol=1e-12)


def test_hvp_matches_hessian_times_vector():
    rng = np.random.default_rng(1)
    x = f64(rng.standard_normal(5), False)
    v = f64(rng.standard_normal(5), False)
    fn = lambda t: (cr.sin(t) * t.exp()).sum() + (t ** 2).sum() ** 2
    value, hv = functional.hvp(fn, x, v)
    hessian = functional.hessian(fn, x)
    np.testing.assert_allclose(hv.data, hessian.data @ v.data, rtol=1e-10)
    assert float(value) == pytest.approx(float(fn(x)))


def test_jacobian_matches_finite_differences():
    x = f64([0.5, -1.0, 2.0], False)
    fn = lambda t: cr.stack([t.sum() * t[0], t.exp()[1]])
    jac = functional.jacobian(fn, x)
    eps = 1e-6
    numeric = np.stack([(fn(f64(x.data + eps * e, False)).data - fn(f64(x.data - eps * e, False)).data)
                        / (2 * eps) for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(jac.data, numeric, atol=1e-7)


def test_no_grad_and_enable_grad_as_context_and_decorator():
    x = f64([1.0])
    with cr.no_grad():
        assert not (x * 2).requires_grad
        with cr.enable_grad():
            assert (x * 2).requires_grad
    assert cr.is_grad_enabled()

    @cr.no_grad()
    def doubled(t):
        return t * 2

    assert not doubled(x).requires_grad
    assert cr.is_grad_enabled()


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
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*retain_graph"):
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


def test_detect_anomaly_names_the_op_and_the_users_line():
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    with cr.detect_anomaly():
        y = cr.sqrt(x)  # the derivative is inf at 0
        with pytest.raises(RuntimeError, match="SqrtBackward returned inf") as info:
            y.sum().backward()
    assert "test_engine.py" in str(info.value)
    with cr.detect_anomaly():
        (x * 2).sum().backward()  # finite: no error


def test_gradcheck_reports_the_wrong_element():
    class BadSquare(cr.autograd.Function):
        def forward(self, x):
            return x * x

        def backward(self, grad_output):
            wrong = self.inputs[0] * 2
            bump = np.zeros(wrong.shape)
            bump[1] = 1.0
            return grad_output * (wrong + cr.tensor(bump, dtype=cr.float64))

    x = f64([1.0, 2.0, 3.0])
    with pytest.raises(cr.autograd.GradcheckError, match=r"input 0 .*1 of 9 Jacobian entries.*in\[1\]"):
        cr.autograd.gradcheck(lambda t: BadSquare.apply(t), x)
    with pytest.raises(cr.autograd.GradcheckError, match="projection"):
        cr.autograd.gradcheck(lambda t: BadSquare.apply(t), x, fast_mode=True)
    assert cr.autograd.gradcheck(lambda t: BadSquare.apply(t), x, raise_exception=False) is False


def test_gradcheck_warns_on_float32():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning, match="single precision"):
        cr.autograd.gradcheck(lambda t: t * 2, x, atol=1e-2, rtol=1e-2)


def test_gradgradcheck_catches_a_wrong_second_derivative():
    class FirstOrderOnly(cr.autograd.Function):
        def forward(self, x):
            return x ** 3

        def backward(self, grad_output):
            # Right first derivative, but built from a constant: its own derivative is lost.
            return grad_output * cr.tensor(3 * self.inputs[0].data ** 2, dtype=cr.float64)

    x = f64([1.0, 2.0])
    assert cr.autograd.gradcheck(lambda t: FirstOrderOnly.apply(t), x)
    with pytest.raises(cr.autograd.GradcheckError):
        cr.autograd.gradgradcheck(lambda t: FirstOrderOnly.apply(t), x)


def test_integer_inputs_flow_through_without_gradient():
    x = f64([1.0, 2.0, 3.0])
    index = cr.tensor([2, 0])
    (x[index] * 2).sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 0.0, 2.0])
