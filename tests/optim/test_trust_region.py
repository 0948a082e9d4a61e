"""The Levenberg–Marquardt trust region (chainrule/optim/trust_region.py): a step is accepted
only when the loss goes down, λ shrinks after good predictions and grows after rejections, the
dense and CG models give the same steps, saddle-free steps follow |H|."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from chainrule.optim.trust_region import (
    CGModel, DenseModel, cholesky_solve, conjugate_gradient, damped_direction, damped_step,
)


def _spd(size, seed):
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((size, size))
    return basis @ basis.T + np.eye(size), rng.standard_normal(size)


def _quadratic(matrix, gradient):
    return lambda step: float(gradient @ step + 0.5 * step @ matrix @ step)


def test_an_exact_model_is_accepted_at_once_and_shrinks_the_damping():
    matrix, gradient = _spd(4, 0)
    state = {"damping": 1.0}
    step = damped_step(DenseModel(matrix, gradient), 0.0, _quadratic(matrix, gradient), state)
    np.testing.assert_allclose(step, -np.linalg.solve(matrix + np.eye(4), gradient), rtol=1e-12)
    assert state["trials"] == 1 and state["rejected"] == 0
    assert state["rho"] == pytest.approx(1.0)  # the model is the function itself
    assert state["damping"] == pytest.approx(0.1)  # λ·max(1/10, 1 − (2ρ − 1)³)


def test_a_poor_prediction_shrinks_the_damping_less():
    matrix, gradient = _spd(4, 5)
    state = {"damping": 1.0}
    true = _quadratic(2.0 * matrix, gradient)  # the real curvature is twice the model's
    damped_step(DenseModel(matrix, gradient), 0.0, true, state)
    rho = state["rho"]
    assert 0 < rho < 1
    assert state["damping"] == pytest.approx(max(0.1, 1 - (2 * rho - 1) ** 3))


def test_zero_damping_on_a_quadratic_is_the_newton_step_and_stays_zero():
    matrix, gradient = _spd(5, 1)
    state = {"damping": 0.0}
    step = damped_step(DenseModel(matrix, gradient), 0.0, _quadratic(matrix, gradient), state)
    np.testing.assert_allclose(step, -np.linalg.solve(matrix, gradient), rtol=1e-10)
    assert state["rho"] == pytest.approx(1.0) and state["damping"] == 0.0


def test_a_step_that_raises_the_loss_is_never_accepted():
    matrix, gradient = _spd(3, 2)
    state = {"damping": 1e-3}
    calls = []

    def worse(step):  # the true loss rises along every step
        calls.append(step)
        return 1.0 + float(step @ step)

    assert damped_step(DenseModel(matrix, gradient), 1.0, worse, state, max_tries=5) is None
    assert state["rejected"] == state["trials"] == len(calls) == 5
    # λ grew by ν = 2, 4, 8, 16, 32 (Nielsen): 1e-3 · 2^15
    assert state["damping"] == pytest.approx(1e-3 * 2 ** 15) and state["nu"] == 64


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), damping=st.floats(0.0, 10.0))
def test_on_a_non_convex_function_the_loss_never_rises(seed, damping):
    # f(x) = Σ cos(aᵢ·x) + ¼|x|²/10: many saddles and maxima; the model is the exact Hessian
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((6, 3)) * 2

    def f(x):
        return float(np.cos(a @ x).sum() + 0.025 * x @ x)

    def gradient(x):
        return -a.T @ np.sin(a @ x) + 0.05 * x

    def hessian(x):
        return -(a.T * np.cos(a @ x)) @ a + 0.05 * np.eye(3)

    x = rng.standard_normal(3)
    state = {"damping": damping}
    for _ in range(8):
        before = f(x)
        step = damped_step(DenseModel(hessian(x), gradient(x)), before,
                           lambda s: f(x + s), state)
        if step is not None:
            x = x + step
        assert f(x) <= before


def test_saddle_free_steps_go_down_along_negative_curvature():
    hessian = np.diag([2.0, -1.0])
    gradient = np.array([1.0, 0.5])
    model = DenseModel(hessian, gradient, absolute=True)
    np.testing.assert_allclose(model.solve(0.0), -np.array([0.5, 0.5]))  # |H| = diag(2, 1)
    assert model.curvature(np.array([1.0, 1.0])) == pytest.approx(3.0)
    # the plain model has no minimum: M + λI is not positive definite for λ < 1
    assert DenseModel(hessian, gradient).solve(0.5) is None
    assert DenseModel(hessian, gradient).solve(1.5) is not None


def test_the_cg_model_gives_the_dense_model_s_steps():
    matrix, gradient = _spd(6, 3)
    dense = DenseModel(matrix, gradient)
    cg = CGModel(lambda v: matrix @ v, gradient, max_iter=50, tol=1e-13)
    for damping in (0.0, 0.1, 10.0):
        np.testing.assert_allclose(cg.solve(damping), dense.solve(damping), rtol=1e-8,
                                   atol=1e-12)
    step = np.arange(6.0)
    assert cg.curvature(step) == pytest.approx(dense.curvature(step))
    assert cg.products > 0


def test_a_psd_model_skips_the_positive_definiteness_test_only_when_damped():
    singular = np.zeros((2, 2))
    gradient = np.array([1.0, -1.0])
    assert DenseModel(singular, gradient, psd=True).solve(0.0) is None
    np.testing.assert_allclose(DenseModel(singular, gradient, psd=True).solve(2.0), -gradient / 2)


def test_non_finite_curvature_is_refused():
    with pytest.raises(FloatingPointError, match="non-finite"):
        DenseModel(np.array([[np.nan]]), np.array([1.0]))


def test_fixed_damping_is_raised_until_positive_definite():
    hessian = np.diag([1.0, -3.0])
    direction, damping = damped_direction(hessian, np.array([1.0, 1.0]), 0.0)
    assert damping > 3.0 and (np.linalg.eigvalsh(hessian + damping * np.eye(2)) > 0).all()
    assert direction @ np.array([1.0, 1.0]) < 0


def test_conjugate_gradient_solves_a_positive_definite_system():
    matrix, gradient = _spd(5, 4)
    direction, products = conjugate_gradient(lambda v: matrix @ v, gradient, 20, 1e-12)
    np.testing.assert_allclose(direction, -np.linalg.solve(matrix, gradient), rtol=1e-8)
    assert products <= 6


@pytest.mark.parametrize("size, block", [(1, 128), (7, 3), (300, 128), (256, 128)])
def test_cholesky_solve_equals_a_direct_solve(size, block):
    matrix, rhs = _spd(size, size)
    factor = np.linalg.cholesky(matrix)
    np.testing.assert_allclose(cholesky_solve(factor, rhs, block=block),
                               np.linalg.solve(matrix, rhs), rtol=1e-9, atol=1e-12)
