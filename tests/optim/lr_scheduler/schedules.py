"""The lr_scheduler tests' driver: an optimizer with two parameter groups (lr 0.1 and 0.05),
the rates a scheduler gives epoch by epoch, and the same for PyTorch's."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim import lr_scheduler as sched

BASE_LRS = (0.1, 0.05)
EPOCHS = 40


def optimizer(cls=optim.SGD, **options):
    groups = [{"params": [cr.zeros(2, requires_grad=True)], "lr": lr} for lr in BASE_LRS]
    options.setdefault("lr", BASE_LRS[0])
    if cls is optim.SGD:
        options.setdefault("momentum", 0.9)
    return cls(groups, **options)


def trajectory(scheduler, epochs=EPOCHS):
    """The rates in effect at epochs 0 .. epochs-1 (read before each step, as in training)."""
    values = []
    for _ in range(epochs):
        values.append(scheduler.get_last_lr())
        assert values[-1] == [g["lr"] for g in scheduler.optimizer.param_groups]
        scheduler.optimizer.step()
        scheduler.step()
    return np.array(values)


def torch_optimizer(torch, cls="SGD", **options):
    groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in BASE_LRS]
    options.setdefault("lr", BASE_LRS[0])
    if cls == "SGD":
        options.setdefault("momentum", 0.9)
    return getattr(torch.optim, cls)(groups, **options)


def torch_trajectory(scheduler, epochs=EPOCHS, key=None):
    values = []
    for _ in range(epochs):
        if key is None:
            values.append(scheduler.get_last_lr())
        else:
            values.append([key(g) for g in scheduler.optimizer.param_groups])
        scheduler.optimizer.step()
        scheduler.step()
    return np.array(values, dtype=np.float64)


def assert_matches_torch(name, options, optimizer_name):
    """Scheduler ``name`` with ``options`` gives PyTorch's rates (and momentum, for OneCycleLR)
    epoch by epoch over an ``optimizer_name`` optimizer."""
    torch = pytest.importorskip("torch")
    ours = getattr(sched, name)(optimizer(getattr(optim, optimizer_name)), **options)
    theirs = getattr(torch.optim.lr_scheduler, name)(torch_optimizer(torch, optimizer_name),
                                                       **options)
    np.testing.assert_allclose(trajectory(ours), torch_trajectory(theirs), rtol=1e-13)
    if name == "OneCycleLR":  # momentum / beta1 cycles too
        momentum = (lambda g: g["betas"][0]) if optimizer_name == "Adam" else \
            (lambda g: g["momentum"])
        ours = getattr(sched, name)(optimizer(getattr(optim, optimizer_name)), **options)
        theirs = getattr(torch.optim.lr_scheduler, name)(
            torch_optimizer(torch, optimizer_name), **options)
        got = []
        for _ in range(EPOCHS):
            got.append([momentum(g) for g in ours.optimizer.param_groups])
            ours.optimizer.step()
            ours.step()
        np.testing.assert_allclose(got, torch_trajectory(theirs, key=momentum), rtol=1e-13)
