"""Adagrad (chainrule/optim/adagrad.py) against its formula written out in NumPy."""

import numpy as np
import pytest

from chainrule import optim
from tests.optim.problems import STEPS, gradient_sequence, grid, ids, run_on_gradients


def reference_adagrad(theta, grads, lr, lr_decay=0.0, weight_decay=0.0,
                      initial_accumulator_value=0.0, eps=1e-10, maximize=False):
    theta, out = theta.copy(), []
    total = np.full_like(theta, initial_accumulator_value)
    for t, g in enumerate(grads, start=1):
        g = (-g if maximize else g) + weight_decay * theta
        step_size = lr / (1 + (t - 1) * lr_decay)
        total = total + g ** 2
        theta = theta - step_size * g / (np.sqrt(total) + eps)
        out.append(theta)
    return out



ADAGRAD_CASES = grid(lr_decay=[0.0, 0.1], weight_decay=[0.0, 0.1],
                      initial_accumulator_value=[0.0, 0.5], maximize=[False, True])

@pytest.mark.parametrize("options", ADAGRAD_CASES, ids=ids(ADAGRAD_CASES))
def test_adagrad_matches_formula(options):
    start, grads = np.linspace(-1, 1, 6).reshape(2, 3), gradient_sequence((2, 3), STEPS)
    got = run_on_gradients(optim.Adagrad, start, grads, lr=0.1, **options)
    np.testing.assert_allclose(got, reference_adagrad(start, grads, 0.1, **options), rtol=1e-12,
                               atol=1e-14)
