"""RMSprop (chainrule/optim/rmsprop.py) against its formula written out in NumPy, centered and
with momentum."""

import numpy as np
import pytest

from chainrule import optim
from tests.optim.problems import STEPS, gradient_sequence, grid, ids, run_on_gradients


def reference_rmsprop(theta, grads, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                      centered=False, maximize=False):
    theta, out = theta.copy(), []
    v, mean_g, buf = np.zeros_like(theta), np.zeros_like(theta), np.zeros_like(theta)
    for g in grads:
        g = (-g if maximize else g) + weight_decay * theta
        v = alpha * v + (1 - alpha) * g ** 2
        if centered:
            mean_g = alpha * mean_g + (1 - alpha) * g
            denom = np.sqrt(v - mean_g ** 2) + eps
        else:
            denom = np.sqrt(v) + eps
        if momentum > 0:
            buf = momentum * buf + g / denom
            theta = theta - lr * buf
        else:
            theta = theta - lr * g / denom
        out.append(theta)
    return out



RMSPROP_CASES = grid(momentum=[0.0, 0.8], centered=[False, True], weight_decay=[0.0, 0.1],
                      maximize=[False, True])

@pytest.mark.parametrize("options", RMSPROP_CASES, ids=ids(RMSPROP_CASES))
def test_rmsprop_matches_formula(options):
    start, grads = np.linspace(-1, 1, 6).reshape(2, 3), gradient_sequence((2, 3), STEPS)
    got = run_on_gradients(optim.RMSprop, start, grads, lr=0.01, **options)
    np.testing.assert_allclose(got, reference_rmsprop(start, grads, 0.01, **options), rtol=1e-10,
                               atol=1e-12)
