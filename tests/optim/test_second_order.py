"""LBFGS (against PyTorch), BFGS, Newton and NewtonCG: updates, convergence, safeguards."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim.bfgs import _bfgs_update
from chainrule.optim.newton import conjugate_gradient

ROSENBROCK_START = [-1.5, 2.0]


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def _closure(opt, loss_fn):
    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss
    return closure


def _regression_data(seed=0):
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((20, 3))
    targets = np.tanh(features @ rng.standard_normal((3, 2)))
    start = [rng.standard_normal((3, 2)) * 0.3, rng.standard_normal(2) * 0.1]
    return features, targets, start


# ---------------------------------------------------------------- LBFGS against PyTorch
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
    closure = _closure(opt, lambda: ((cr.tanh(x @ ours[0] + ours[1]) - y) ** 2).mean())

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
    opt.step(_closure(opt, lambda: (x * x).sum()))
    gradient = np.array([6.0, -8.0])
    expected = np.array([3.0, -4.0]) - min(1.0, 1.0 / np.abs(gradient).sum()) * 0.5 * gradient
    np.testing.assert_allclose(x.data, expected, rtol=1e-15)


def test_lbfgs_stops_at_once_when_the_gradient_is_below_tolerance():
    x = cr.tensor([1e-9, 0.0], dtype=cr.float64, requires_grad=True)
    opt = optim.LBFGS([x])
    opt.step(_closure(opt, lambda: (x * x).sum()))
    assert opt.state[x] == {"func_evals": 1, "n_iter": 0}
    np.testing.assert_array_equal(x.data, [1e-9, 0.0])


def test_second_order_optimizers_need_a_closure():
    x = cr.zeros(2, requires_grad=True)
    for opt in (optim.LBFGS([x]), optim.BFGS([x]), optim.Newton([x]), optim.NewtonCG([x])):
        with pytest.raises(TypeError, match="needs a closure"):
            opt.step()


def test_flat_optimizers_take_one_group():
    a, b = cr.zeros(2, requires_grad=True), cr.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="takes a single parameter group"):
        optim.LBFGS([{"params": [a]}, {"params": [b]}])


# ---------------------------------------------------------------- quasi-Newton formulas (NumPy)
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
    closure = _closure(opt, lambda: loss(x))
    got = []
    for _ in range(8):
        opt.step(closure)
        got.append(x.data.copy())
    expected = reference_quasi_newton(grad, start, 0.8, 8, history)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- BFGS
def test_bfgs_update_is_the_textbook_formula_and_satisfies_the_secant_equation():
    rng = np.random.default_rng(0)
    basis = rng.standard_normal((4, 4))
    inverse_hessian = basis @ basis.T + np.eye(4)
    s, y = rng.standard_normal(4), rng.standard_normal(4)
    y = y if y @ s > 0 else -y
    rho = 1.0 / (y @ s)
    eye = np.eye(4)
    expected = (eye - rho * np.outer(s, y)) @ inverse_hessian @ (eye - rho * np.outer(y, s)) \
        + rho * np.outer(s, s)
    updated = inverse_hessian.copy()
    _bfgs_update(updated, s, y)
    np.testing.assert_allclose(updated, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(updated @ y, s, rtol=1e-12)
    np.testing.assert_allclose(updated, updated.T, atol=1e-14)


def test_bfgs_minimizes_a_quadratic_keeping_h_positive_definite():
    rng = np.random.default_rng(1)
    basis = np.linalg.qr(rng.standard_normal((4, 4)))[0]
    matrix = basis @ np.diag([1.0, 2.0, 5.0, 10.0]) @ basis.T
    a = cr.tensor(matrix, dtype=cr.float64)
    x = cr.tensor(rng.standard_normal(4), dtype=cr.float64, requires_grad=True)
    opt = optim.BFGS([x], max_iter=50, tolerance_grad=1e-12, tolerance_change=1e-16)
    opt.step(_closure(opt, lambda: x @ a @ x * 0.5))
    np.testing.assert_allclose(x.data, 0.0, atol=1e-7)
    assert opt.state[x]["n_iter"] <= 25
    inverse_hessian = opt.state[x]["H"]
    np.testing.assert_allclose(inverse_hessian, inverse_hessian.T, atol=1e-12)
    assert np.linalg.eigvalsh(inverse_hessian).min() > 0


def test_bfgs_refuses_too_many_parameters():
    with pytest.raises(ValueError, match=r"dense 101×101 .* more than max_params=100; use LBFGS"):
        optim.BFGS([cr.zeros(101, requires_grad=True)], max_params=100)


# ---------------------------------------------------------------- Newton
def _random_spd(size, seed):
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((size, size))
    return basis @ basis.T + size * np.eye(size), rng.standard_normal(size)


@pytest.mark.parametrize("make", [lambda p: optim.Newton(p),
                                  lambda p: optim.NewtonCG(p, cg_tol=1e-12)],
                         ids=["newton", "newton-cg"])
def test_newton_solves_a_convex_quadratic_in_one_step(make):
    matrix, linear = _random_spd(7, seed=2)
    a, b = cr.tensor(matrix, dtype=cr.float64), cr.tensor(linear, dtype=cr.float64)
    # two parameters of different shapes: the flat vector joins them
    w = cr.tensor(np.ones((2, 2)), dtype=cr.float64, requires_grad=True)
    v = cr.tensor(np.zeros(3), dtype=cr.float64, requires_grad=True)
    opt = make([w, v])

    def loss_fn():
        theta = cr.cat([w.reshape(-1), v])
        return theta @ a @ theta * 0.5 - b @ theta + 3.0

    opt.step(_closure(opt, loss_fn))
    solution = np.linalg.solve(matrix, linear)
    np.testing.assert_allclose(np.concatenate([w.data.reshape(-1), v.data]), solution,
                               rtol=1e-8, atol=1e-10)
    # the graph-carrying gradients were replaced by plain ones
    assert w.grad.grad_fn is None and not w.grad.requires_grad


def test_newton_damps_negative_curvature_instead_of_stepping_uphill():
    # f = (x² − 1)² + y²: at x = 0.1 the curvature in x is 12x² − 4 < 0, so the plain Newton
    # step would climb to the maximum at x = 0
    x = cr.tensor([0.1, 0.5], dtype=cr.float64, requires_grad=True)
    opt = optim.Newton([x])
    loss_fn = lambda: (x[0] ** 2 - 1) ** 2 + x[1] ** 2  # noqa: E731
    before = float(loss_fn())
    for _ in range(3):
        start = x.data.copy()
        opt.step(_closure(opt, loss_fn))
        gradient = np.array([4 * start[0] * (start[0] ** 2 - 1), 2 * start[1]])
        assert (x.data - start) @ gradient < 0  # a descent direction
        after = float(loss_fn())
        assert after < before
        before = after
    # λ was raised past the negative curvature 12x² − 4, with margin
    assert opt.state[x]["damping"] > 10 * (4 - 12 * x.data[0] ** 2)
    assert x.data[0] > 0.1


def test_newton_damping_regularizes_the_step():
    matrix, linear = _random_spd(3, seed=3)
    a, b = cr.tensor(matrix, dtype=cr.float64), cr.tensor(linear, dtype=cr.float64)
    x = cr.zeros(3, dtype=cr.float64, requires_grad=True)
    opt = optim.Newton([x], lr=0.5, damping=2.0)
    opt.step(_closure(opt, lambda: x @ a @ x * 0.5 - b @ x))
    expected = 0.5 * np.linalg.solve(matrix + 2.0 * np.eye(3), linear)
    np.testing.assert_allclose(x.data, expected, rtol=1e-10)
    assert opt.state[x]["damping"] == 2.0


def test_newton_refuses_too_many_parameters_and_points_to_newton_cg():
    with pytest.raises(ValueError, match=r"full 2001×2001 Hessian .* max_params=2000; use "
                                         r"NewtonCG"):
        optim.Newton([cr.zeros(2001, requires_grad=True)])
    optim.Newton([cr.zeros(2001, requires_grad=True)], max_params=3000)


def test_newton_keeps_float32_and_skips_frozen_parameters():
    w = cr.tensor([2.0, -1.0], requires_grad=True)
    frozen = cr.tensor([5.0])
    opt = optim.Newton([w, frozen])
    opt.step(_closure(opt, lambda: ((w - frozen) ** 2).sum() + (w[0] * frozen).sum()))
    assert w.dtype == np.float32
    np.testing.assert_allclose(w.data, [5.0 - 2.5, 5.0], rtol=1e-6)
    assert frozen.data.tolist() == [5.0]


def test_conjugate_gradient_stops_at_negative_curvature():
    indefinite = np.diag([2.0, -1.0])
    gradient = np.array([1.0, 2.0])  # -g has curvature 2 - 4 < 0
    direction, iterations = conjugate_gradient(lambda v: indefinite @ v, gradient, 10, 1e-10)
    assert iterations == 1
    np.testing.assert_array_equal(direction, -gradient)  # steepest descent
    direction, iterations = conjugate_gradient(lambda v: indefinite @ v, np.array([1.0, 1e-3]),
                                               10, 1e-10)
    assert iterations == 2  # stopped on the second direction, keeping the first step
    g = np.array([1.0, 1e-3])
    np.testing.assert_allclose(direction, -g * (g @ g) / (g @ indefinite @ g), rtol=1e-12)
    assert direction @ np.array([1.0, 1e-3]) < 0  # still a descent direction
    spd, _ = _random_spd(5, seed=4)
    rhs = np.arange(1.0, 6.0)
    direction, iterations = conjugate_gradient(lambda v: spd @ v, rhs, 10, 1e-12)
    np.testing.assert_allclose(direction, -np.linalg.solve(spd, rhs), rtol=1e-9)
    assert iterations <= 5


def test_newton_cg_trains_a_network_too_large_for_newton():
    rng = np.random.default_rng(5)
    features = cr.tensor(rng.standard_normal((64, 10)), dtype=cr.float64)
    targets = cr.tensor(np.sin(rng.standard_normal((64, 1))), dtype=cr.float64)
    w1 = cr.tensor(rng.standard_normal((10, 200)) * 0.3, dtype=cr.float64, requires_grad=True)
    w2 = cr.tensor(rng.standard_normal((200, 1)) * 0.1, dtype=cr.float64, requires_grad=True)
    params = [w1, w2]
    assert sum(p.numel() for p in params) > 2000
    with pytest.raises(ValueError, match="use NewtonCG"):
        optim.Newton(params)
    opt = optim.NewtonCG(params, max_cg_iter=20, damping=1e-2, line_search_fn="strong_wolfe")
    loss_fn = lambda: ((cr.tanh(features @ w1) @ w2 - targets) ** 2).mean()  # noqa: E731
    losses = [float(loss_fn())]
    for _ in range(6):
        opt.step(_closure(opt, loss_fn))
        losses.append(float(loss_fn()))
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.01 * losses[0]
    assert opt.state[w1]["cg_iters"] > 1


# ---------------------------------------------------------------- convergence
def _steps_to_rosenbrock_minimum(make, max_steps, tol=1e-8):
    x = cr.tensor(ROSENBROCK_START, dtype=cr.float64, requires_grad=True)
    opt = make([x])
    closure = _closure(opt, lambda: rosenbrock(x))
    for step in range(1, max_steps + 1):
        opt.step(closure)
        if np.linalg.norm(x.data - 1.0) < tol:
            return step
    return None


def test_second_order_methods_reach_the_rosenbrock_minimum_far_sooner_than_adam():
    # one iteration per step() for the quasi-Newton methods, so steps count iterations
    tight = dict(max_iter=1, max_eval=25, tolerance_grad=1e-12, tolerance_change=1e-14)
    steps = {
        "newton": _steps_to_rosenbrock_minimum(lambda p: optim.Newton(p), 50),
        "newton_cg": _steps_to_rosenbrock_minimum(lambda p: optim.NewtonCG(p), 50),
        "bfgs": _steps_to_rosenbrock_minimum(lambda p: optim.BFGS(p, **tight), 150),
        "lbfgs": _steps_to_rosenbrock_minimum(
            lambda p: optim.LBFGS(p, line_search_fn="strong_wolfe", **tight), 150),
    }
    assert all(count is not None for count in steps.values()), steps
    assert steps["newton"] <= 10
    adam_cap = 20 * max(steps.values())
    for lr in (0.03, 0.1):
        adam = _steps_to_rosenbrock_minimum(lambda p, lr=lr: optim.Adam(p, lr=lr), adam_cap)
        assert adam is None, f"Adam(lr={lr}) needed only {adam} steps vs {steps}"


def test_all_methods_agree_on_regularized_logistic_regression():
    rng = np.random.default_rng(6)
    features = rng.standard_normal((60, 4))
    labels = (features @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.standard_normal(60) > 0)
    x = cr.tensor(features, dtype=cr.float64)
    y = cr.tensor(labels.astype(np.float64), dtype=cr.float64)

    def solve(make, steps):
        w = cr.zeros(4, dtype=cr.float64, requires_grad=True)
        opt = make([w])

        def loss_fn():
            logits = x @ w
            nll = cr.maximum(logits, 0.0) - logits * y + cr.log(1 + cr.exp(-abs(logits)))
            return nll.mean() + 0.01 * (w * w).sum()

        closure = _closure(opt, loss_fn)
        for _ in range(steps):
            opt.step(closure)
        return w.data

    newton = solve(lambda p: optim.Newton(p), 8)
    tight = dict(max_iter=50, tolerance_change=1e-15)
    for make in (lambda p: optim.NewtonCG(p, cg_tol=1e-10),
                 lambda p: optim.Newton(p, line_search_fn="strong_wolfe"),
                 lambda p: optim.BFGS(p, **tight),
                 lambda p: optim.LBFGS(p, line_search_fn="strong_wolfe", **tight),
                 lambda p: optim.LBFGS(p, **tight)):
        np.testing.assert_allclose(solve(make, 8), newton, atol=1e-6)
