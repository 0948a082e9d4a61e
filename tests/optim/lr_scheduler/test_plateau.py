"""ReduceLROnPlateau (chainrule/optim/lr_scheduler/plateau.py): the documented rule written out,
PyTorch, tensor metrics and per-group min_lr; argument validation."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.optim import lr_scheduler as sched
from tests.optim.lr_scheduler.schedules import BASE_LRS, optimizer, torch_optimizer


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
    opt = optimizer()
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
    ours = sched.ReduceLROnPlateau(optimizer(), **options)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_optimizer(torch), **options)
    for value in metrics:
        ours.step(value)
        theirs.step(value)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-15)
        assert ours.num_bad_epochs == theirs.num_bad_epochs


def test_reduce_on_plateau_accepts_a_tensor_metric_and_per_group_min_lr():
    opt = optimizer()
    scheduler = sched.ReduceLROnPlateau(opt, patience=0, factor=0.5, min_lr=[0.04, 0.0])
    for _ in range(3):
        scheduler.step(cr.tensor(1.0))
    assert scheduler.get_last_lr() == [0.04, 0.05 * 0.25]



@pytest.mark.parametrize("make,error,message", [
    (lambda o: sched.ReduceLROnPlateau(o, factor=1.0), ValueError, r"Invalid factor: 1\.0"),
    (lambda o: sched.ReduceLROnPlateau(o, mode="best"), ValueError, r"Invalid mode: 'best'"),
    (lambda o: sched.ReduceLROnPlateau(o, threshold_mode="x"), ValueError,
     r"Invalid threshold_mode: 'x'"),
    (lambda o: sched.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, r"expected 2 min_lrs"),
])
def test_scheduler_arguments_are_validated(make, error, message):
    with pytest.raises(error, match=message):
        make(optimizer())
