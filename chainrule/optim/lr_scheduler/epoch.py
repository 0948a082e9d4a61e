"""Epoch schedules: LambdaLR, StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Callable, Iterable

from chainrule.optim.lr_scheduler.base import LRScheduler
from chainrule.optim.optimizer import Optimizer, check_int, check_number

__all__ = ["LambdaLR", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR"]


class LambdaLR(LRScheduler):
    """lr = initial_lr · lr_lambda(epoch).

    Args:
        optimizer: the optimizer to schedule.
        lr_lambda: a function of the epoch giving a factor, or a list of such functions, one per
            parameter group. It is not part of ``state_dict()`` (pass it again when resuming).
        last_epoch: see ``LRScheduler``.

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = cr.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 0.5 ** epoch)
        >>> sched.step(); sched.step(); sched.get_last_lr()
        [0.25]
    """

    _excluded_state = ("optimizer", "lr_lambdas")

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable | list[Callable],
                 last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"a scheduler needs a chainrule.optim.Optimizer, got "
                            f"{type(optimizer).__name__}")
        groups = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != groups:
                raise ValueError(f"expected {groups} lr_lambdas (one per parameter group), got "
                                 f"{len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * groups
        for index, fn in enumerate(self.lr_lambdas):
            if not callable(fn):
                raise TypeError(f"lr_lambda[{index}] should be a function of the epoch, got "
                                f"{type(fn).__name__}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base_lr * fn(self.last_epoch) for fn, base_lr in zip(self.lr_lambdas,
                                                                       self.base_lrs)]


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs.

    lr(epoch) = initial_lr · gamma^⌊epoch / step_size⌋

    Args:
        optimizer: the optimizer to schedule.
        step_size: epochs between decays (≥ 1).
        gamma: the factor (default 0.1).
        last_epoch: see ``LRScheduler``.

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = cr.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        >>> lrs = []
        >>> for _ in range(5):
        ...     lrs.append(sched.get_last_lr()[0]); sched.step()
        >>> lrs
        [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1):
        check_int("step_size", step_size, 1)
        check_number("gamma", gamma, low=0.0)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._group_lrs()
        return [lr * self.gamma for lr in self._group_lrs()]


class MultiStepLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each milestone epoch.

    lr(epoch) = initial_lr · gamma^(number of milestones ≤ epoch)

    Args:
        optimizer: the optimizer to schedule.
        milestones: epoch indices (a milestone listed twice multiplies by gamma²).
        gamma: the factor (default 0.1).
        last_epoch: see ``LRScheduler``.

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = cr.optim.lr_scheduler.MultiStepLR(opt, milestones=[1, 3], gamma=0.5)
        >>> lrs = []
        >>> for _ in range(4):
        ...     lrs.append(sched.get_last_lr()[0]); sched.step()
        >>> lrs
        [1.0, 0.5, 0.5, 0.25]
    """

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1):
        milestones = list(milestones)
        for index, milestone in enumerate(milestones):
            check_int(f"milestones[{index}]", milestone, 0)
        check_number("gamma", gamma, low=0.0)
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._group_lrs()
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in self._group_lrs()]

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["milestones"] = sorted(self.milestones.elements())  # a plain list
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.milestones = Counter(self.milestones)


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every epoch: lr(epoch) = initial_lr · gamma^epoch.

    Args:
        optimizer: the optimizer to schedule.
        gamma: the factor per epoch.
        last_epoch: see ``LRScheduler``.

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = cr.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
        >>> sched.step(); sched.step(); sched.get_last_lr()
        [0.25]
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        check_number("gamma", gamma, low=0.0)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._group_lrs()
        return [lr * self.gamma for lr in self._group_lrs()]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing from the initial rate down to ``eta_min`` over ``T_max`` epochs.

    Closed form (what the values equal when nothing else changes the rate):

        lr(t) = eta_min + (initial_lr − eta_min) · (1 + cos(π·t / T_max)) / 2

    Computed, as in PyTorch, recursively from the current rate,
    lr(t) = eta_min + (lr(t−1) − eta_min) · (1 + cos(π·t/T_max)) / (1 + cos(π·(t−1)/T_max)),
    so that it composes with other schedulers acting on the same optimizer. After T_max the
    rate rises again along the same cosine (period 2·T_max).

    Args:
        optimizer: the optimizer to schedule.
        T_max: half-period in epochs (> 0).
        eta_min: the smallest rate (default 0).
        last_epoch: see ``LRScheduler``.

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = cr.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
        >>> sched.step(); sched.step(); round(sched.get_last_lr()[0], 6)  # half-way
        0.5
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1):
        check_number("T_max", T_max, low=0.0, low_open=True)
        check_number("eta_min", eta_min, low=0.0)
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, period, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._group_lrs()
        if self._step_count == 1 and t > 0:
            return [eta_min + (base_lr - eta_min) * (1 + math.cos(t * math.pi / period)) / 2
                    for base_lr in self.base_lrs]
        if (t - 1 - period) % (2 * period) == 0:  # at the bottom: the recursion would divide by 0
            return [lr + (base_lr - eta_min) * (1 - math.cos(math.pi / period)) / 2
                    for base_lr, lr in zip(self.base_lrs, self._group_lrs())]
        return [(1 + math.cos(math.pi * t / period)) / (1 + math.cos(math.pi * (t - 1) / period))
                * (lr - eta_min) + eta_min for lr in self._group_lrs()]


class LinearLR(LRScheduler):
    """Linear warm-up (or decay) of the factor from ``start_factor`` to ``end_factor``.

    lr(epoch) = initial_lr · (start_factor + (end_factor − start_factor)·min(epoch, total_iters)
    / total_iters), computed recursively from the current rate as in PyTorch.

    Args:
        optimizer: the optimizer to schedule.
        start_factor: factor at epoch 0, in (0, 1] (default 1/3).
        end_factor: factor from ``total_iters`` on, in [0, 1] (default 1).
        total_iters: epochs the change lasts (default 5).
        last_epoch: see ``LRScheduler``.

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = cr.optim.lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=3)
        >>> lrs = []
        >>> for _ in range(5):
        ...     lrs.append(round(sched.get_last_lr()[0], 6)); sched.step()
        >>> lrs
        [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, total_iters: int = 5, last_epoch: int = -1):
        check_number("start_factor", start_factor, low=0.0, high=1.0, low_open=True)
        check_number("end_factor", end_factor, low=0.0, high=1.0)
        check_int("total_iters", total_iters, 1)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._group_lrs()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._group_lrs()
        change = self.end_factor - self.start_factor
        factor = 1.0 + change / (self.total_iters * self.start_factor
                                 + (self.last_epoch - 1) * change)
        return [lr * factor for lr in self._group_lrs()]
