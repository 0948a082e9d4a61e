"""The strong-Wolfe line search and its cubic interpolation."""

import numpy as np
import pytest

from chainrule.optim.line_search import cubic_interpolate, strong_wolfe


def test_cubic_interpolation_finds_the_minimum_of_a_cubic():
    # f(x) = x³ − 3x has its local minimum at x = 1
    f, df = (lambda x: x ** 3 - 3 * x), (lambda x: 3 * x ** 2 - 3)
    for x1, x2 in [(0.0, 2.0), (2.0, 0.5), (-0.5, 3.0)]:
        assert cubic_interpolate(x1, f(x1), df(x1), x2, f(x2), df(x2)) == pytest.approx(1.0)


def test_cubic_interpolation_clamps_to_bounds_and_falls_back_to_the_midpoint():
    f, df = (lambda x: x ** 3 - 3 * x), (lambda x: 3 * x ** 2 - 3)
    assert cubic_interpolate(0.0, f(0.0), df(0.0), 2.0, f(2.0), df(2.0),
                             bounds=(1.5, 4.0)) == 1.5
    # d1 = g1 + g2 − 3(f1 − f2)/(x1 − x2) = 0 here, so d1² < g1·g2: the cubic has no
    # stationary point and the middle of the bounds is returned
    assert cubic_interpolate(0.0, 0.0, 1.0, 1.0, 2.0 / 3.0, 1.0, bounds=(0.0, 4.0)) == 2.0


def _quartic_problem():
    # f(x) = Σ (xᵢ⁴/4 + xᵢ²/2 − bᵢ xᵢ) with a descent direction d = −∇f(x₀)
    b = np.array([1.0, -2.0, 0.5])
    f = lambda x: float(np.sum(x ** 4 / 4 + x ** 2 / 2 - b * x))  # noqa: E731
    grad = lambda x: x ** 3 + x - b  # noqa: E731
    x0 = np.array([2.0, 1.0, -1.0])
    return f, grad, x0, -grad(x0)


@pytest.mark.parametrize("t0", [1e-3, 0.05, 1.0, 10.0])
def test_strong_wolfe_returns_a_step_satisfying_both_conditions(t0):
    f, grad, x0, d = _quartic_problem()
    calls = []

    def obj_func(x, t, direction):
        calls.append(t)
        point = x + t * direction
        return f(point), grad(point)

    c1, c2 = 1e-4, 0.9
    g0 = grad(x0)
    f_new, g_new, t, evaluations = strong_wolfe(obj_func, x0, t0, d, f(x0), g0, g0 @ d, c1=c1,
                                                c2=c2)
    assert evaluations == len(calls)
    assert f_new == pytest.approx(f(x0 + t * d))
    np.testing.assert_allclose(g_new, grad(x0 + t * d))
    assert f_new <= f(x0) + c1 * t * (g0 @ d)
    assert abs(g_new @ d) <= c2 * abs(g0 @ d)


def test_strong_wolfe_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.optim.lbfgs import _strong_wolfe

    f, grad, x0, d = _quartic_problem()
    g0 = grad(x0)

    def ours(x, t, direction):
        point = x + t * direction
        return f(point), grad(point)

    def theirs(x, t, direction):
        point = x.numpy() + float(t) * direction.numpy()
        return f(point), torch.tensor(grad(point))

    for t0 in (1e-3, 0.3, 5.0):
        expected = _strong_wolfe(theirs, torch.tensor(x0), t0, torch.tensor(d), f(x0),
                                 torch.tensor(g0), torch.tensor(g0 @ d))
        got = strong_wolfe(ours, x0, t0, d, f(x0), g0, g0 @ d)
        assert got[0] == pytest.approx(float(expected[0]), rel=1e-12)
        np.testing.assert_allclose(got[1], expected[1].numpy(), rtol=1e-12)
        assert got[2] == pytest.approx(float(expected[2]), rel=1e-12)
        assert got[3] == expected[3]


def test_strong_wolfe_respects_the_evaluation_budget():
    f, grad, x0, d = _quartic_problem()
    g0 = grad(x0)
    calls = []

    def obj_func(x, t, direction):
        calls.append(t)
        point = x + t * direction
        return f(point), grad(point)

    strong_wolfe(obj_func, x0, 1e-6, d, f(x0), g0, g0 @ d, max_ls=3)
    assert len(calls) <= 4  # the first trial plus at most max_ls more


def _log_cosh_problem(seed):
    """f(x) = Σ log cosh(aᵢxᵢ) − bᵢxᵢ (computed stably): flat far out, so cubic models of it
    are poor and the zoom phase has to move trials away from the bracket's ends."""
    rng = np.random.default_rng(seed)
    a, b, x0 = rng.uniform(0.5, 5, 3), rng.standard_normal(3), 2 * rng.standard_normal(3)

    def f(x):
        z = np.abs(a * x)
        return float(np.sum(z + np.log1p(np.exp(-2 * z)) - np.log(2) - b * x))

    return f, (lambda x: a * np.tanh(a * x) - b), x0


@pytest.mark.parametrize("c2", [0.9, 0.1, 0.01])
def test_strong_wolfe_matches_torch_on_hard_searches(c2):
    torch = pytest.importorskip("torch")
    from torch.optim.lbfgs import _strong_wolfe

    for seed in range(12):
        f, grad, x0 = _log_cosh_problem(seed)
        d, g0 = -grad(x0), grad(x0)
        for t0 in (1e-3, 1.0, 10.0):
            got = strong_wolfe(lambda x, t, v: (f(x + t * v), grad(x + t * v)), x0, t0, d,
                               f(x0), g0, g0 @ d, c2=c2)
            expected = _strong_wolfe(
                lambda x, t, v: (f(x.numpy() + float(t) * v.numpy()),
                                 torch.tensor(grad(x.numpy() + float(t) * v.numpy()))),
                torch.tensor(x0), t0, torch.tensor(d), f(x0), torch.tensor(g0),
                torch.tensor(g0 @ d), c2=c2)
            assert got[2] == pytest.approx(float(expected[2]), rel=1e-12, abs=1e-300)
            assert got[3] == expected[3]


@pytest.mark.parametrize("c2", [0.9, 0.1, 0.01])
def test_strong_wolfe_always_decreases_enough(c2):
    for seed in range(12):
        f, grad, x0 = _log_cosh_problem(seed)
        d, g0 = -grad(x0), grad(x0)
        for t0 in (1e-3, 1.0, 10.0):
            f_new, g_new, t, _ = strong_wolfe(
                lambda x, t, v: (f(x + t * v), grad(x + t * v)), x0, t0, d, f(x0), g0, g0 @ d,
                c2=c2)
            assert t > 0
            assert f_new == pytest.approx(f(x0 + t * d), rel=1e-14)
            assert f_new <= f(x0) + 1e-4 * t * (g0 @ d)
