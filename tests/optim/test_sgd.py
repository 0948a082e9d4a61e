"""SGD (chainrule/optim/sgd.py) against its formula written out in NumPy, over the grid of
momentum, dampening, Nesterov, weight decay and maximize."""

import numpy as np
import pytest

from chainrule import optim
from tests.optim.problems import STEPS, gradient_sequence, grid, ids, run_on_gradients


def reference_sgd(theta, grads, lr, momentum=0.0, dampening=0.0, nesterov=False,
                  weight_decay=0.0, maximize=False):
    theta, buf, out = theta.copy(), None, []
    for t, g in enumerate(grads):
        g = -g if maximize else g.copy()
        g = g + weight_decay * theta
        if momentum:
            buf = g.copy() if t == 0 else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        theta = theta - lr * g
        out.append(theta)
    return out



SGD_CASES = [c for c in grid(momentum=[0.0, 0.9], dampening=[0.0, 0.3], nesterov=[False, True],
                              weight_decay=[0.0, 0.1], maximize=[False, True])
             if not (c["nesterov"] and (c["momentum"] == 0 or c["dampening"] != 0))]

@pytest.mark.parametrize("options", SGD_CASES, ids=ids(SGD_CASES))
def test_sgd_matches_formula(options):
    start, grads = np.linspace(-1, 1, 6).reshape(2, 3), gradient_sequence((2, 3), STEPS)
    got = run_on_gradients(optim.SGD, start, grads, lr=0.1, **options)
    np.testing.assert_allclose(got, reference_sgd(start, grads, 0.1, **options), rtol=1e-12,
                               atol=1e-14)
