"""Newton and NewtonCG (chainrule/optim/newton.py): one step on a convex quadratic, damping of
negative curvature, the parameter limit, float32 and frozen parameters, conjugate gradient at
negative curvature, a network too large for Newton, the Hessian through a plain closure."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim.newton import conjugate_gradient
from tests.optim.problems import ROSENBROCK_START, closure_of, rosenbrock


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

    opt.step(closure_of(opt, loss_fn))
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
        opt.step(closure_of(opt, loss_fn))
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
    opt.step(closure_of(opt, lambda: x @ a @ x * 0.5 - b @ x))
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
    opt.step(closure_of(opt, lambda: ((w - frozen) ** 2).sum() + (w[0] * frozen).sum()))
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
        opt.step(closure_of(opt, loss_fn))
        losses.append(float(loss_fn()))
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.01 * losses[0]
    assert opt.state[w1]["cg_iters"] > 1



def test_a_user_closure_gives_newton_its_hessian():
    # the closure is the plain LBFGS one; Newton reads the Hessian through backward_options
    rng = np.random.default_rng(5)
    x = cr.tensor(np.abs(rng.standard_normal(3)) + 0.5, dtype=cr.float64, requires_grad=True)
    weights_positive = np.abs(rng.standard_normal(3))  # a region where the cubic is convex
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


# ---------------------------------------------------------------------------- adaptive damping
def _rosenbrock_run(make, steps):
    x = cr.tensor(ROSENBROCK_START, dtype=cr.float64, requires_grad=True)
    opt = make([x])
    closure = closure_of(opt, lambda: rosenbrock(x))
    losses = [float(rosenbrock(x))]
    for _ in range(steps):
        opt.step(closure)
        losses.append(float(rosenbrock(x)))
    return x, opt, losses


@pytest.mark.parametrize("make", [
    lambda p: optim.Newton(p, adaptive_damping=True),
    lambda p: optim.Newton(p, adaptive_damping=True, saddle_free=True, damping=1e-3),
    lambda p: optim.NewtonCG(p, adaptive_damping=True, damping=1e-3),
], ids=["newton-lm", "saddle-free", "newton-cg-lm"])
def test_adaptive_damping_converges_on_rosenbrock_and_never_goes_up(make):
    x, opt, losses = _rosenbrock_run(make, 60)
    assert all(b <= a for a, b in zip(losses, losses[1:])), losses
    np.testing.assert_allclose(x.data, [1.0, 1.0], atol=1e-6)
    state = opt.state[x]
    assert np.isfinite(state["damping"]) and state["func_evals"] > 10


def test_adaptive_damping_solves_a_convex_quadratic_in_one_step():
    matrix, linear = _random_spd(6, seed=7)
    a, b = cr.tensor(matrix, dtype=cr.float64), cr.tensor(linear, dtype=cr.float64)
    x = cr.zeros(6, dtype=cr.float64, requires_grad=True)
    opt = optim.Newton([x], adaptive_damping=True)
    opt.step(closure_of(opt, lambda: x @ a @ x * 0.5 - b @ x))
    np.testing.assert_allclose(x.data, np.linalg.solve(matrix, linear), rtol=1e-9)
    assert opt.state[x]["rho"] == pytest.approx(1.0) and opt.state[x]["damping"] == 0.0


def test_saddle_free_newton_leaves_a_saddle_that_newton_walks_into():
    # f = x² − y² + y⁴/4: a saddle at 0, minima at y = ±√2. From near the saddle the pure
    # Newton step −H⁻¹g goes to it (the gradient vanishes there); the step along |H| goes down.
    start = np.array([0.5, 0.05])
    gradient = np.array([2 * start[0], -2 * start[1] + start[1] ** 3])
    hessian = np.diag([2.0, -2.0 + 3 * start[1] ** 2])
    assert abs((start - np.linalg.solve(hessian, gradient))[1]) < 1e-3  # to the saddle
    x = cr.tensor(start, dtype=cr.float64, requires_grad=True)
    opt = optim.Newton([x], adaptive_damping=True, saddle_free=True)
    loss_fn = lambda: x[0] ** 2 - x[1] ** 2 + x[1] ** 4 / 4  # noqa: E731
    opt.step(closure_of(opt, loss_fn))
    assert x.data[1] > start[1]  # away from the saddle, downhill
    for _ in range(30):
        opt.step(closure_of(opt, loss_fn))
    np.testing.assert_allclose(x.data, [0.0, np.sqrt(2)], atol=1e-6)


def test_newton_trains_the_moons_mlp_to_a_low_loss_in_few_iterations():
    from chainrule import models
    from chainrule.data import datasets
    from chainrule.nn import functional as F
    train, _ = datasets.moons(n_samples=250, seed=0)
    features, labels = train.tensors
    features = features.to(cr.float64)
    cr.manual_seed(0)
    net = models.mlp(2, (32, 32), 2).to(cr.float64)
    opt = optim.Newton(net.parameters(), adaptive_damping=True, damping=1e-3)
    closure = closure_of(opt, lambda: F.cross_entropy(net(features), labels))
    losses = []
    while len(losses) < 30 and (not losses or losses[-1] > 0.05):  # the target
        losses.append(float(opt.step(closure)))
    assert all(b <= a for a, b in zip(losses, losses[1:]))
    assert losses[-1] <= 0.05, losses


def test_adaptive_options_are_checked():
    x = cr.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="without line_search_fn"):
        optim.Newton([x], adaptive_damping=True, line_search_fn="strong_wolfe")
    with pytest.raises(ValueError, match="saddle_free=True needs adaptive_damping=True"):
        optim.Newton([x], saddle_free=True)
    with pytest.raises(TypeError, match="adaptive_damping must be True or False"):
        optim.NewtonCG([x], adaptive_damping=1)
    with pytest.raises(ValueError, match="max_tries"):
        optim.Newton([x], adaptive_damping=True, max_tries=0)
