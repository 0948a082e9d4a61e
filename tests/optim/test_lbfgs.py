"""L-BFGS and the quasi-Newton base (chainrule/optim/lbfgs.py): iterates equal PyTorch's (fixed
step and strong Wolfe), the first step's scaling, the stop at a small gradient, and L-BFGS and
BFGS iterates against the update formula with the inverse Hessian formed explicitly."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from tests.optim.problems import closure_of


def _regression_data(seed=0):
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((20, 3))
    targets = np.tanh(features @ rng.standard_normal((3, 2)))
    start = [rng.standard_normal((3, 2)) * 0.3, rng.standard_normal(2) * 0.1]
    return features, targets, start


@pytest.mark.parametrize("options", [
    dict(),
    dict(line_search_fn="strong_wolfe"),
    dict(lr=0.5, history_size=3),
    dict(line_search_fn="strong_wolfe", history_size=2, max_iter=7),
], ids=["fixed-step", "strong-wolfe", "short-history", "wolfe-short-history"])
def test_lbfgs_iterates_match_torch(options):
    torch = pytest.importorskip("torch")
    features, targets, start = _regression_data()
    ours = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in start]
    theirs = [torch.tensor(a, requires_grad=True) for a in start]
    opt, reference = optim.LBFGS(ours, **options), torch.optim.LBFGS(theirs, **options)
    x, y = cr.tensor(features, dtype=cr.float64), cr.tensor(targets, dtype=cr.float64)
    tx, ty = torch.tensor(features), torch.tensor(targets)
    closure = closure_of(opt, lambda: ((cr.tanh(x @ ours[0] + ours[1]) - y) ** 2).mean())

    def torch_closure():
        reference.zero_grad()
        loss = ((torch.tanh(tx @ theirs[0] + theirs[1]) - ty) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(4):
        loss = opt.step(closure)
        torch_loss = reference.step(torch_closure)
        assert float(loss) == pytest.approx(float(torch_loss.detach()), rel=1e-10)
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-10, atol=1e-12)
        state, torch_state = opt.state[ours[0]], reference.state[theirs[0]]
        assert state["n_iter"] == torch_state["n_iter"]
        assert state["func_evals"] == torch_state["func_evals"]
        assert len(state["old_dirs"]) == len(torch_state["old_dirs"])


def test_lbfgs_first_step_is_scaled_by_the_gradient_l1_norm():
    x = cr.tensor([3.0, -4.0], dtype=cr.float64, requires_grad=True)
    opt = optim.LBFGS([x], lr=0.5, max_iter=1)
    opt.step(closure_of(opt, lambda: (x * x).sum()))
    gradient = np.array([6.0, -8.0])
    expected = np.array([3.0, -4.0]) - min(1.0, 1.0 / np.abs(gradient).sum()) * 0.5 * gradient
    np.testing.assert_allclose(x.data, expected, rtol=1e-15)


def test_lbfgs_stops_at_once_when_the_gradient_is_below_tolerance():
    x = cr.tensor([1e-9, 0.0], dtype=cr.float64, requires_grad=True)
    opt = optim.LBFGS([x])
    opt.step(closure_of(opt, lambda: (x * x).sum()))
    assert opt.state[x] == {"func_evals": 1, "n_iter": 0}
    np.testing.assert_array_equal(x.data, [1e-9, 0.0])


def _smooth_convex(seed=7):
    """f(x) = ½xᵀAx − bᵀx + ¼Σx⁴ with its gradient, in NumPy and in chainrule."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((4, 4))
    matrix, linear = basis @ basis.T / 4 + np.eye(4), rng.standard_normal(4)
    grad = lambda x: matrix @ x - linear + x ** 3  # noqa: E731
    a, b = cr.tensor(matrix, dtype=cr.float64), cr.tensor(linear, dtype=cr.float64)
    loss = lambda x: x @ a @ x * 0.5 - b @ x + (x ** 4).sum() * 0.25  # noqa: E731
    return grad, loss, rng.standard_normal(4)


def _bfgs_formula(inverse, s, y):
    rho, eye = 1.0 / (y @ s), np.eye(s.size)
    return (eye - rho * np.outer(s, y)) @ inverse @ (eye - rho * np.outer(y, s)) \
        + rho * np.outer(s, s)


def reference_quasi_newton(grad, x, lr, iterations, history=None):
    """Fixed-step BFGS (history=None) or L-BFGS, with the inverse Hessian H formed explicitly
    (no two-loop recursion): first step −g·min(1, 1/‖g‖₁)·lr, then −lr·H·g."""
    pairs, inverse, g, out = [], None, grad(x), []
    x_prev = g_prev = None
    for k in range(iterations):
        if k == 0:
            d, t = -g, min(1.0, 1.0 / np.abs(g).sum()) * lr
        else:
            s, y = x - x_prev, g - g_prev
            if y @ s > 1e-10:
                scale = (y @ s) / (y @ y)
                if history:  # L-BFGS: from H₀ = (yᵀs/yᵀy)·I over the last `history` pairs
                    pairs = (pairs + [(s, y)])[-history:]
                    inverse = scale * np.eye(x.size)
                    for s_i, y_i in pairs:
                        inverse = _bfgs_formula(inverse, s_i, y_i)
                else:  # BFGS: H₀ = (yᵀs/yᵀy)·I before the first update only
                    start = scale * np.eye(x.size) if inverse is None else inverse
                    inverse = _bfgs_formula(start, s, y)
            d, t = (-g if inverse is None else -inverse @ g), lr
        x_prev, g_prev = x, g
        x = x + t * d
        g = grad(x)
        out.append(x)
    return out


@pytest.mark.parametrize("name,history", [("LBFGS", 2), ("LBFGS", 100), ("BFGS", None)])
def test_quasi_newton_iterates_match_the_formula(name, history):
    grad, loss, start = _smooth_convex()
    x = cr.tensor(start, dtype=cr.float64, requires_grad=True)
    options = dict(lr=0.8, max_iter=1, line_search_fn=None, tolerance_change=0.0)
    if history:
        options["history_size"] = history
    opt = getattr(optim, name)([x], **options)
    closure = closure_of(opt, lambda: loss(x))
    got = []
    for _ in range(8):
        opt.step(closure)
        got.append(x.data.copy())
    expected = reference_quasi_newton(grad, start, 0.8, 8, history)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
