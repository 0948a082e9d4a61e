"""OneCycleLR (chainrule/optim/lr_scheduler/one_cycle.py): two- and three-phase cycles, cos and
linear, against the formula and PyTorch (rates and momentum or beta1); argument validation."""

import math

import numpy as np
import pytest

from chainrule import optim
from chainrule.optim import lr_scheduler as sched
from tests.optim.lr_scheduler.schedules import (
    EPOCHS, assert_matches_torch, optimizer, trajectory,
)


def _one_cycle_reference(step, total, max_lr, pct, div, final_div, three_phase, cos=True):
    anneal = ((lambda a, b, p: b + (a - b) / 2 * (1 + math.cos(math.pi * p))) if cos
              else (lambda a, b, p: a + (b - a) * p))
    initial, low = max_lr / div, max_lr / div / final_div
    up_end = pct * total - 1
    if step <= up_end:
        return anneal(initial, max_lr, step / up_end)
    if three_phase:
        down_end = 2 * pct * total - 2
        if step <= down_end:
            return anneal(max_lr, initial, (step - up_end) / (down_end - up_end))
        return anneal(initial, low, (step - down_end) / (total - 1 - down_end))
    return anneal(max_lr, low, (step - up_end) / (total - 1 - up_end))


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_one_cycle_matches_its_formula(three_phase, strategy):
    total = 30
    scheduler = sched.OneCycleLR(optimizer(), max_lr=[1.0, 0.4], total_steps=total,
                                 pct_start=0.3, div_factor=20.0, final_div_factor=50.0,
                                 three_phase=three_phase, anneal_strategy=strategy)
    got = trajectory(scheduler, total)
    expected = [[_one_cycle_reference(s, total, peak, 0.3, 20.0, 50.0, three_phase,
                                      strategy == "cos") for peak in (1.0, 0.4)]
                for s in range(total)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got[:, 0].max() == pytest.approx(1.0, rel=0.05)
    with pytest.raises(ValueError, match="stepped 31 times, but its cycle has total_steps=30"):
        scheduler.step()


def test_one_cycle_cycles_beta1_on_adam_and_refuses_optimizers_without_momentum():
    opt = optimizer(optim.Adam, betas=(0.9, 0.98))
    scheduler = sched.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    assert opt.param_groups[0]["betas"] == (0.95, 0.98)
    for _ in range(3):
        opt.step()
        scheduler.step()
    assert 0.85 <= opt.param_groups[0]["betas"][0] < 0.95
    assert opt.param_groups[0]["betas"][1] == 0.98
    with pytest.raises(ValueError, match="cycle_momentum=True needs an optimizer with momentum"):
        sched.OneCycleLR(optimizer(optim.Adagrad), max_lr=1.0, total_steps=10)
    with pytest.raises(ValueError, match="needs total_steps, or both epochs and steps_per_epoch"):
        sched.OneCycleLR(optimizer(), max_lr=1.0)


TORCH_SCHEDULERS = [
    ("OneCycleLR", dict(max_lr=1.0, total_steps=EPOCHS)),
    ("OneCycleLR", dict(max_lr=[1.0, 0.5], total_steps=EPOCHS, anneal_strategy="linear",
                        pct_start=0.25)),
    ("OneCycleLR", dict(max_lr=1.0, epochs=4, steps_per_epoch=10, three_phase=True,
                        div_factor=10.0, final_div_factor=100.0)),
]


@pytest.mark.parametrize("optimizer_name", ["SGD", "Adam"])
@pytest.mark.parametrize("name,options", TORCH_SCHEDULERS,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(TORCH_SCHEDULERS)])
def test_schedule_matches_torch_epoch_by_epoch(name, options, optimizer_name):
    assert_matches_torch(name, options, optimizer_name)


@pytest.mark.parametrize("make,error,message", [
    (lambda o: sched.OneCycleLR(o, max_lr=1.0, total_steps=0), ValueError,
     r"Invalid total_steps: 0"),
    (lambda o: sched.OneCycleLR(o, max_lr=1.0, total_steps=5, pct_start=1.5), ValueError,
     r"Invalid pct_start: 1\.5"),
    (lambda o: sched.OneCycleLR(o, max_lr=1.0, total_steps=5, anneal_strategy="exp"),
     ValueError, r"Invalid anneal_strategy: 'exp'"),
    (lambda o: sched.OneCycleLR(o, max_lr=[1.0], total_steps=5), ValueError,
     r"max_lr must have one value per parameter group"),
])
def test_scheduler_arguments_are_validated(make, error, message):
    with pytest.raises(error, match=message):
        make(optimizer())
