"""Drivers and problems shared by the optimizer tests: a parameter fed a fixed gradient
sequence, option grids for the formula tests, closures, the Rosenbrock function."""

import itertools

import numpy as np

import chainrule as cr

STEPS = 6
ROSENBROCK_START = [-1.5, 2.0]


def gradient_sequence(shape, steps, seed=0):
    """``steps`` standard-normal gradients of ``shape``."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(steps)]


def run_on_gradients(cls, start, grads, dtype=np.float64, **options):
    """Apply ``cls`` to a parameter that gets the gradients in ``grads`` one by one; the
    parameter's value after each step."""
    param = cr.tensor(start, dtype=dtype, requires_grad=True)
    opt = cls([param], **options)
    trajectory = []
    for grad in grads:
        param.grad = cr.tensor(grad, dtype=dtype)
        opt.step()
        trajectory.append(param.data.copy())
    return trajectory


def grid(**choices):
    """Every combination of the options' values, as dicts."""
    keys = list(choices)
    return [dict(zip(keys, values)) for values in itertools.product(*choices.values())]


def ids(cases):
    """Test ids for a grid: ``momentum=0.9-nesterov=True``."""
    return ["-".join(f"{k}={v}" for k, v in case.items()) for case in cases]


def closure_of(opt, loss_fn):
    """The usual closure: zero the gradients, evaluate, backpropagate, return the loss."""
    def evaluate():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss
    return evaluate


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
