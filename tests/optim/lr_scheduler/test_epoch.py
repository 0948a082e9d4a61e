"""Epoch schedulers (chainrule/optim/lr_scheduler/epoch.py): StepLR, MultiStepLR, ExponentialLR,
CosineAnnealingLR, LambdaLR and LinearLR against their closed forms and PyTorch, epoch by
epoch; argument validation."""

import math
from bisect import bisect_right

import numpy as np
import pytest

from chainrule.optim import lr_scheduler as sched
from tests.optim.lr_scheduler.schedules import (
    BASE_LRS, EPOCHS, assert_matches_torch, optimizer, trajectory,
)


CLOSED_FORMS = {
    "step": (lambda o: sched.StepLR(o, step_size=7, gamma=0.5),
             lambda base, e: base * 0.5 ** (e // 7)),
    "multistep": (lambda o: sched.MultiStepLR(o, milestones=[25, 5, 12, 12], gamma=0.3),
                  lambda base, e: base * 0.3 ** bisect_right([5, 12, 12, 25], e)),
    "exponential": (lambda o: sched.ExponentialLR(o, gamma=0.9),
                    lambda base, e: base * 0.9 ** e),
    "cosine": (lambda o: sched.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
               lambda base, e: 0.001 + (base - 0.001) * (1 + math.cos(math.pi * e / 10)) / 2),
    "lambda": (lambda o: sched.LambdaLR(o, lambda e: 1.0 / (1 + e)),
               lambda base, e: base / (1 + e)),
    "linear": (lambda o: sched.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=8),
               lambda base, e: base * (0.2 + 0.7 * min(e, 8) / 8)),
    "linear-decay": (lambda o: sched.LinearLR(o, start_factor=1.0, end_factor=0.0,
                                              total_iters=10),
                     lambda base, e: base * (1.0 - min(e, 10) / 10)),
}


@pytest.mark.parametrize("name", list(CLOSED_FORMS))
def test_schedule_matches_its_closed_form(name):
    make, formula = CLOSED_FORMS[name]
    got = trajectory(make(optimizer()))
    expected = np.array([[formula(base, e) for base in BASE_LRS] for e in range(EPOCHS)])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


TORCH_SCHEDULERS = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[5, 12, 12, 25], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001)),
    ("CosineAnnealingLR", dict(T_max=7)),
    ("LinearLR", dict(start_factor=0.2, end_factor=0.9, total_iters=8)),
]


@pytest.mark.parametrize("optimizer_name", ["SGD", "Adam"])
@pytest.mark.parametrize("name,options", TORCH_SCHEDULERS,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(TORCH_SCHEDULERS)])
def test_schedule_matches_torch_epoch_by_epoch(name, options, optimizer_name):
    assert_matches_torch(name, options, optimizer_name)


@pytest.mark.parametrize("make,error,message", [
    (lambda o: sched.StepLR(o, step_size=0), ValueError, r"Invalid step_size: 0"),
    (lambda o: sched.StepLR(o, step_size=2, gamma=-1), ValueError, r"Invalid gamma: -1"),
    (lambda o: sched.MultiStepLR(o, milestones=[2, -1]), ValueError, r"Invalid milestones\[1\]"),
    (lambda o: sched.CosineAnnealingLR(o, T_max=0), ValueError, r"Invalid T_max: 0"),
    (lambda o: sched.LinearLR(o, start_factor=0.0), ValueError,
     r"Invalid start_factor: 0\.0; expected a number in \(0, 1\]"),
    (lambda o: sched.LinearLR(o, end_factor=1.5), ValueError, r"Invalid end_factor: 1\.5"),
    (lambda o: sched.LambdaLR(o, [lambda e: 1.0]), ValueError, r"expected 2 lr_lambdas"),
    (lambda o: sched.LambdaLR(o, 3.0), TypeError, r"lr_lambda\[0\] should be a function"),
])
def test_scheduler_arguments_are_validated(make, error, message):
    with pytest.raises(error, match=message):
        make(optimizer())
