"""The scheduler base (chainrule/optim/lr_scheduler/base.py): initial_lr and base_lrs, chained
schedulers as PyTorch composes them, state_dict round trips through JSON for every scheduler,
resuming needs initial_lr, a scheduler needs an optimizer."""

import json

import numpy as np
import pytest

from chainrule.optim import lr_scheduler as sched
from tests.optim.lr_scheduler.schedules import BASE_LRS, optimizer, torch_optimizer


def test_schedulers_record_initial_lr_and_base_lrs():
    opt = optimizer()
    scheduler = sched.StepLR(opt, step_size=2)
    assert [g["initial_lr"] for g in opt.param_groups] == list(BASE_LRS)
    assert scheduler.base_lrs == list(BASE_LRS)
    assert scheduler.last_epoch == 0


def test_chained_schedulers_compose_like_torch():
    torch = pytest.importorskip("torch")
    opt = optimizer()
    first, second = sched.ExponentialLR(opt, gamma=0.9), sched.MultiStepLR(opt, [3, 6], 0.5)
    topt = torch_optimizer(torch)
    tfirst = torch.optim.lr_scheduler.ExponentialLR(topt, gamma=0.9)
    tsecond = torch.optim.lr_scheduler.MultiStepLR(topt, [3, 6], 0.5)
    for _ in range(10):
        opt.step(), topt.step()
        first.step(), second.step(), tfirst.step(), tsecond.step()
        np.testing.assert_allclose(second.get_last_lr(), tsecond.get_last_lr(), rtol=1e-13)
    e = 10
    np.testing.assert_allclose(second.get_last_lr(),
                               [b * 0.9 ** e * 0.5 ** 2 for b in BASE_LRS], rtol=1e-12)


STATEFUL = {
    "step": lambda o: sched.StepLR(o, step_size=3, gamma=0.5),
    "multistep": lambda o: sched.MultiStepLR(o, milestones=[2, 5, 5], gamma=0.5),
    "cosine": lambda o: sched.CosineAnnealingLR(o, T_max=6),
    "lambda": lambda o: sched.LambdaLR(o, [lambda e: 0.9 ** e, lambda e: 1 / (e + 1)]),
    "linear": lambda o: sched.LinearLR(o, total_iters=4),
    "one-cycle": lambda o: sched.OneCycleLR(o, max_lr=1.0, total_steps=20),
    "plateau": lambda o: sched.ReduceLROnPlateau(o, patience=1, cooldown=1),
}


def _advance(scheduler, epochs, seed=0):
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(epochs):
        scheduler.optimizer.step()
        if isinstance(scheduler, sched.ReduceLROnPlateau):
            scheduler.step(float(rng.uniform(0.9, 1.0)))
        else:
            scheduler.step()
        values.append(scheduler.get_last_lr())
    return values


@pytest.mark.parametrize("name", list(STATEFUL))
def test_scheduler_state_dict_round_trip_through_json(name):
    make = STATEFUL[name]
    straight_opt = optimizer()
    straight = make(straight_opt)
    expected = _advance(straight, 5) + _advance(straight, 5, seed=1)

    opt = optimizer()
    scheduler = make(opt)
    first = _advance(scheduler, 5)
    saved_scheduler = json.loads(json.dumps(scheduler.state_dict()))
    saved_optimizer = opt.state_dict()
    assert "optimizer" not in saved_scheduler and "lr_lambdas" not in saved_scheduler

    fresh_opt = optimizer()
    fresh = make(fresh_opt)
    fresh_opt.load_state_dict(saved_optimizer)
    fresh.load_state_dict(saved_scheduler)
    assert fresh.get_last_lr() == first[-1]
    np.testing.assert_array_equal(first + _advance(fresh, 5, seed=1), expected)


def test_resuming_needs_initial_lr():
    with pytest.raises(KeyError, match=r"param_groups\[0\] has no 'initial_lr'"):
        sched.StepLR(optimizer(), step_size=2, last_epoch=3)
    opt = optimizer()
    sched.StepLR(opt, step_size=2)
    sched.StepLR(opt, step_size=2, last_epoch=3)  # initial_lr is there now



@pytest.mark.parametrize("make,error,message", [
    (lambda o: sched.StepLR("sgd", step_size=2), TypeError, r"needs a chainrule\.optim\.Optim"),
])
def test_scheduler_arguments_are_validated(make, error, message):
    with pytest.raises(error, match=message):
        make(optimizer())
