"""Learning-rate schedules: change ``group["lr"]`` epoch by epoch, as PyTorch's schedulers do.

A scheduler is created over an optimizer (it records each group's starting rate as
``group["initial_lr"]`` and sets epoch 0's rate) and its ``step()`` is called once per epoch (or
per batch, for ``OneCycleLR``) after ``optimizer.step()``. The values match PyTorch's, epoch by
epoch, including its recursive ("chainable") forms, so two schedulers may act on one optimizer.

    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(100):
        train(...)          # optimizer.step() inside
        scheduler.step()

``state_dict()`` holds plain data only (numbers, strings, lists, dicts), never the optimizer or
a callable, so a checkpoint can store it as JSON.
"""

from chainrule.optim.lr_scheduler.base import LRScheduler
from chainrule.optim.lr_scheduler.epoch import (
    CosineAnnealingLR, ExponentialLR, LambdaLR, LinearLR, MultiStepLR, StepLR,
)
from chainrule.optim.lr_scheduler.one_cycle import OneCycleLR
from chainrule.optim.lr_scheduler.plateau import ReduceLROnPlateau

__all__ = ["LRScheduler", "LambdaLR", "StepLR", "MultiStepLR", "ExponentialLR",
           "CosineAnnealingLR", "LinearLR", "OneCycleLR", "ReduceLROnPlateau"]
