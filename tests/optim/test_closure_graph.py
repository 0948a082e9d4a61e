"""engine.backward_options: backward() inside it keeps a differentiable gradient."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.engine import backward_options


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


def test_a_user_closure_gives_newton_its_hessian():
    # the closure is the plain LBFGS one; Newton reads the Hessian through backward_options
    from chainrule import optim

    x, weights, loss_fn = _cubic(5)
    x.data[:] = np.abs(x.data) + 0.5  # a region where the cubic is convex (w·x > 0 needed)
    weights_positive = np.abs(weights)
    x_start = x.data.copy()
    w = cr.tensor(weights_positive, dtype=cr.float64)
    opt = optim.Newton([x])

    def closure():
        opt.zero_grad()
        loss = ((x ** 3) * w).sum() - (x * w).sum() * 3
        loss.backward()
        return loss

    opt.step(closure)
    # per coordinate: f' = 3w(x² − 1), f'' = 6wx, so x ← x − (x² − 1)/(2x)
    np.testing.assert_allclose(x.data, x_start - (x_start ** 2 - 1) / (2 * x_start), rtol=1e-12)
