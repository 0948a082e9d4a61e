"""BFGS (chainrule/optim/bfgs.py): the textbook update and the secant equation, a quadratic
minimized with H kept positive definite, the parameter limit."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim.bfgs import _bfgs_update
from tests.optim.problems import closure_of


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
    opt.step(closure_of(opt, lambda: x @ a @ x * 0.5))
    np.testing.assert_allclose(x.data, 0.0, atol=1e-7)
    assert opt.state[x]["n_iter"] <= 25
    inverse_hessian = opt.state[x]["H"]
    np.testing.assert_allclose(inverse_hessian, inverse_hessian.T, atol=1e-12)
    assert np.linalg.eigvalsh(inverse_hessian).min() > 0


def test_bfgs_refuses_too_many_parameters():
    with pytest.raises(ValueError, match=r"dense 101×101 .* more than max_params=100; use LBFGS"):
        optim.BFGS([cr.zeros(101, requires_grad=True)], max_params=100)
