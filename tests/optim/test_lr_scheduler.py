"""Learning-rate schedulers epoch by epoch: closed forms, PyTorch, state dicts, validation."""

import json
import math
from bisect import bisect_right

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim import lr_scheduler as sched

BASE_LRS = (0.1, 0.05)
EPOCHS = 40


def _optimizer(cls=optim.SGD, **options):
    groups = [{"params": [cr.zeros(2, requires_grad=True)], "lr": lr} for lr in BASE_LRS]
    options.setdefault("lr", BASE_LRS[0])
    if cls is optim.SGD:
        options.setdefault("momentum", 0.9)
    return cls(groups, **options)


def _trajectory(scheduler, epochs=EPOCHS):
    """The rates in effect at epochs 0 .. epochs-1 (read before each step, as in training)."""
    values = []
    for _ in range(epochs):
        values.append(scheduler.get_last_lr())
        assert values[-1] == [g["lr"] for g in scheduler.optimizer.param_groups]
        scheduler.optimizer.step()
        scheduler.step()
    return np.array(values)


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
    got = _trajectory(make(_optimizer()))
    expected = np.array([[formula(base, e) for base in BASE_LRS] for e in range(EPOCHS)])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_schedulers_record_initial_lr_and_base_lrs():
    opt = _optimizer()
    scheduler = sched.StepLR(opt, step_size=2)
    assert [g["initial_lr"] for g in opt.param_groups] == list(BASE_LRS)
    assert scheduler.base_lrs == list(BASE_LRS)
    assert scheduler.last_epoch == 0


TORCH_SCHEDULERS = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[5, 12, 12, 25], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001)),
    ("CosineAnnealingLR", dict(T_max=7)),
    ("LinearLR", dict(start_factor=0.2, end_factor=0.9, total_iters=8)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=EPOCHS)),
    ("OneCycleLR", dict(max_lr=[1.0, 0.5], total_steps=EPOCHS, anneal_strategy="linear",
                        pct_start=0.25)),
    ("OneCycleLR", dict(max_lr=1.0, epochs=4, steps_per_epoch=10, three_phase=True,
                        div_factor=10.0, final_div_factor=100.0)),
]


def _torch_optimizer(torch, cls="SGD", **options):
    groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in BASE_LRS]
    options.setdefault("lr", BASE_LRS[0])
    if cls == "SGD":
        options.setdefault("momentum", 0.9)
    return getattr(torch.optim, cls)(groups, **options)


def _torch_trajectory(scheduler, epochs=EPOCHS, key=None):
    values = []
    for _ in range(epochs):
        if key is None:
            values.append(scheduler.get_last_lr())
        else:
            values.append([key(g) for g in scheduler.optimizer.param_groups])
        scheduler.optimizer.step()
        scheduler.step()
    return np.array(values, dtype=np.float64)


@pytest.mark.parametrize("optimizer_name", ["SGD", "Adam"])
@pytest.mark.parametrize("name,options", TORCH_SCHEDULERS,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(TORCH_SCHEDULERS)])
def test_schedule_matches_torch_epoch_by_epoch(name, options, optimizer_name):
    torch = pytest.importorskip("torch")
    ours = getattr(sched, name)(_optimizer(getattr(optim, optimizer_name)), **options)
    theirs = getattr(torch.optim.lr_scheduler, name)(_torch_optimizer(torch, optimizer_name),
                                                       **options)
    np.testing.assert_allclose(_trajectory(ours), _torch_trajectory(theirs), rtol=1e-13)
    if name == "OneCycleLR":  # momentum / beta1 cycles too
        momentum = (lambda g: g["betas"][0]) if optimizer_name == "Adam" else \
            (lambda g: g["momentum"])
        ours = getattr(sched, name)(_optimizer(getattr(optim, optimizer_name)), **options)
        theirs = getattr(torch.optim.lr_scheduler, name)(
            _torch_optimizer(torch, optimizer_name), **options)
        got = []
        for _ in range(EPOCHS):
            got.append([momentum(g) for g in ours.optimizer.param_groups])
            ours.optimizer.step()
            ours.step()
        np.testing.assert_allclose(got, _torch_trajectory(theirs, key=momentum), rtol=1e-13)


def test_chained_schedulers_compose_like_torch():
    torch = pytest.importorskip("torch")
    opt = _optimizer()
    first, second = sched.ExponentialLR(opt, gamma=0.9), sched.MultiStepLR(opt, [3, 6], 0.5)
    topt = _torch_optimizer(torch)
    tfirst = torch.optim.lr_scheduler.ExponentialLR(topt, gamma=0.9)
    tsecond = torch.optim.lr_scheduler.MultiStepLR(topt, [3, 6], 0.5)
    for _ in range(10):
        opt.step(), topt.step()
        first.step(), second.step(), tfirst.step(), tsecond.step()
        np.testing.assert_allclose(second.get_last_lr(), tsecond.get_last_lr(), rtol=1e-13)
    e = 10
    np.testing.assert_allclose(second.get_last_lr(),
                               [b * 0.9 ** e * 0.5 ** 2 for b in BASE_LRS], rtol=1e-12)


# ---------------------------------------------------------------- OneCycleLR closed form
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
    scheduler = sched.OneCycleLR(_optimizer(), max_lr=[1.0, 0.4], total_steps=total,
                                 pct_start=0.3, div_factor=20.0, final_div_factor=50.0,
                                 three_phase=three_phase, anneal_strategy=strategy)
    got = _trajectory(scheduler, total)
    expected = [[_one_cycle_reference(s, total, peak, 0.3, 20.0, 50.0, three_phase,
                                      strategy == "cos") for peak in (1.0, 0.4)]
                for s in range(total)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got[:, 0].max() == pytest.approx(1.0, rel=0.05)
    with pytest.raises(ValueError, match="stepped 31 times, but its cycle has total_steps=30"):
        scheduler.step()


def test_one_cycle_cycles_beta1_on_adam_and_refuses_optimizers_without_momentum():
    opt = _optimizer(optim.Adam, betas=(0.9, 0.98))
    scheduler = sched.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    assert opt.param_groups[0]["betas"] == (0.95, 0.98)
    for _ in range(3):
        opt.step()
        scheduler.step()
    assert 0.85 <= opt.param_groups[0]["betas"][0] < 0.95
    assert opt.param_groups[0]["betas"][1] == 0.98
    with pytest.raises(ValueError, match="cycle_momentum=True needs an optimizer with momentum"):
        sched.OneCycleLR(_optimizer(optim.Adagrad), max_lr=1.0, total_steps=10)
    with pytest.raises(ValueError, match="needs total_steps, or both epochs and steps_per_epoch"):
        sched.OneCycleLR(_optimizer(), max_lr=1.0)


# ---------------------------------------------------------------- ReduceLROnPlateau
def _plateau_reference(metrics, lr, mode, factor, patience, threshold, threshold_mode,
                       cooldown, min_lr, eps=1e-8):
    """The documented rule, written independently: the rate after each epoch's metric."""
    best = math.inf if mode == "min" else -math.inf
    bad = cool = 0
    out = []
    for value in metrics:
        if mode == "min":
            better = value < (best * (1 - threshold) if threshold_mode == "rel"
                              else best - threshold)
        else:
            better = value > (best * (1 + threshold) if threshold_mode == "rel"
                              else best + threshold)
        if better:
            best, bad = value, 0
        else:
            bad += 1
        if cool > 0:
            cool -= 1
            bad = 0
        if bad > patience:
            new = max(lr * factor, min_lr)
            if lr - new > eps:
                lr = new
            cool, bad = cooldown, 0
        out.append(lr)
    return out


PLATEAU_CASES = [
    dict(mode="min", factor=0.5, patience=2, threshold=1e-4, threshold_mode="rel", cooldown=0,
         min_lr=0.0),
    dict(mode="min", factor=0.1, patience=0, threshold=0.05, threshold_mode="abs", cooldown=2,
         min_lr=0.002),
    dict(mode="max", factor=0.3, patience=1, threshold=0.01, threshold_mode="rel", cooldown=1,
         min_lr=0.0),
    dict(mode="max", factor=0.5, patience=3, threshold=0.1, threshold_mode="abs", cooldown=0,
         min_lr=0.01),
]


def _plateau_metrics(seed):
    rng = np.random.default_rng(seed)
    # improving, then flat and noisy, then improving again
    return list(np.concatenate([np.linspace(1.0, 0.5, 10), 0.5 + 0.01 * rng.standard_normal(20),
                                np.linspace(0.5, 0.2, 10)]))


@pytest.mark.parametrize("options", PLATEAU_CASES)
def test_reduce_on_plateau_follows_the_rule(options):
    metrics = _plateau_metrics(0)
    if options["mode"] == "max":
        metrics = [1 - m for m in metrics]
    opt = _optimizer()
    scheduler = sched.ReduceLROnPlateau(opt, **options)
    got = []
    for value in metrics:
        scheduler.step(value)
        got.append(scheduler.get_last_lr())
    for index, base in enumerate(BASE_LRS):
        expected = _plateau_reference(metrics, base, **options)
        np.testing.assert_allclose(np.array(got)[:, index], expected, rtol=1e-15)
    assert min(np.array(got)[:, 0]) < BASE_LRS[0]  # the case does reduce


@pytest.mark.parametrize("options", PLATEAU_CASES)
def test_reduce_on_plateau_matches_torch(options):
    torch = pytest.importorskip("torch")
    metrics = _plateau_metrics(1)
    ours = sched.ReduceLROnPlateau(_optimizer(), **options)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(_torch_optimizer(torch), **options)
    for value in metrics:
        ours.step(value)
        theirs.step(value)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-15)
        assert ours.num_bad_epochs == theirs.num_bad_epochs


def test_reduce_on_plateau_accepts_a_tensor_metric_and_per_group_min_lr():
    opt = _optimizer()
    scheduler = sched.ReduceLROnPlateau(opt, patience=0, factor=0.5, min_lr=[0.04, 0.0])
    for _ in range(3):
        scheduler.step(cr.tensor(1.0))
    assert scheduler.get_last_lr() == [0.04, 0.05 * 0.25]


# ---------------------------------------------------------------- state dicts
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
    straight_opt = _optimizer()
    straight = make(straight_opt)
    expected = _advance(straight, 5) + _advance(straight, 5, seed=1)

    opt = _optimizer()
    scheduler = make(opt)
    first = _advance(scheduler, 5)
    saved_scheduler = json.loads(json.dumps(scheduler.state_dict()))
    saved_optimizer = opt.state_dict()
    assert "optimizer" not in saved_scheduler and "lr_lambdas" not in saved_scheduler

    fresh_opt = _optimizer()
    fresh = make(fresh_opt)
    fresh_opt.load_state_dict(saved_optimizer)
    fresh.load_state_dict(saved_scheduler)
    assert fresh.get_last_lr() == first[-1]
    np.testing.assert_array_equal(first + _advance(fresh, 5, seed=1), expected)


def test_resuming_needs_initial_lr():
    with pytest.raises(KeyError, match=r"param_groups\[0\] has no 'initial_lr'"):
        sched.StepLR(_optimizer(), step_size=2, last_epoch=3)
    opt = _optimizer()
    sched.StepLR(opt, step_size=2)
    sched.StepLR(opt, step_size=2, last_epoch=3)  # initial_lr is there now


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
    (lambda o: sched.OneCycleLR(o, max_lr=1.0, total_steps=0), ValueError,
     r"Invalid total_steps: 0"),
    (lambda o: sched.OneCycleLR(o, max_lr=1.0, total_steps=5, pct_start=1.5), ValueError,
     r"Invalid pct_start: 1\.5"),
    (lambda o: sched.OneCycleLR(o, max_lr=1.0, total_steps=5, anneal_strategy="exp"),
     ValueError, r"Invalid anneal_strategy: 'exp'"),
    (lambda o: sched.OneCycleLR(o, max_lr=[1.0], total_steps=5), ValueError,
     r"max_lr must have one value per parameter group"),
    (lambda o: sched.ReduceLROnPlateau(o, factor=1.0), ValueError, r"Invalid factor: 1\.0"),
    (lambda o: sched.ReduceLROnPlateau(o, mode="best"), ValueError, r"Invalid mode: 'best'"),
    (lambda o: sched.ReduceLROnPlateau(o, threshold_mode="x"), ValueError,
     r"Invalid threshold_mode: 'x'"),
    (lambda o: sched.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, r"expected 2 min_lrs"),
    (lambda o: sched.StepLR("sgd", step_size=2), TypeError, r"needs a chainrule\.optim\.Optim"),
])
def test_scheduler_arguments_are_validated(make, error, message):
    with pytest.raises(error, match=message):
        make(_optimizer())
