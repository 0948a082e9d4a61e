"""``ReduceLROnPlateau``: lower the rate when a metric stops improving."""

from __future__ import annotations

import math
from typing import Any

from chainrule.optim.lr_scheduler.base import LRScheduler
from chainrule.optim.optimizer import Optimizer, check_int, check_number


class ReduceLROnPlateau(LRScheduler):
    """Multiply the rate by ``factor`` when a metric has not improved for ``patience`` epochs.

    Each ``step(metric)`` compares the metric with the best so far: in mode "min" it improves
    when metric < best·(1 − threshold) ("rel") or metric < best − threshold ("abs"); in mode
    "max" when metric > best·(1 + threshold) or metric > best + threshold. After more than
    ``patience`` epochs without improvement every group's rate becomes
    max(lr·factor, min_lr) (unchanged if that changes it by less than ``eps``), and then
    ``cooldown`` epochs pass before bad epochs are counted again. PyTorch's rules, step for
    step.

    Args:
        optimizer: the optimizer to schedule.
        mode: "min" (a loss) or "max" (an accuracy).
        factor: the factor in [0, 1) (default 0.1).
        patience: epochs without improvement tolerated (default 10).
        threshold: the least change that counts as an improvement (default 1e-4).
        threshold_mode: "rel" or "abs".
        cooldown: epochs to wait after a reduction (default 0).
        min_lr: the lowest rate, or one per group (default 0).
        eps: smaller reductions are skipped (default 1e-8).

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = cr.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5)
        >>> for loss in [3.0, 2.0, 2.0, 2.0]:
        ...     sched.step(loss)
        >>> sched.get_last_lr()
        [0.5]
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float | list[float] = 0, eps: float = 1e-8):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"a scheduler needs a chainrule.optim.Optimizer, got "
                            f"{type(optimizer).__name__}")
        check_number("factor", factor, low=0.0, high=1.0, high_open=True)
        check_int("patience", patience, 0)
        check_int("cooldown", cooldown, 0)
        check_number("threshold", threshold, low=0.0)
        check_number("eps", eps, low=0.0)
        if mode not in ("min", "max"):
            raise ValueError(f"Invalid mode: {mode!r}; expected 'min' or 'max'")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"Invalid threshold_mode: {threshold_mode!r}; expected 'rel' or "
                             "'abs'")
        self.optimizer = optimizer
        groups = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != groups:
                raise ValueError(f"expected {groups} min_lrs (one per parameter group), got "
                                 f"{len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * groups
        for index, value in enumerate(self.min_lrs):
            check_number(f"min_lr[{index}]" if self.default_min_lr is None else "min_lr", value,
                         low=0.0)
        self.factor = factor
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.last_epoch = 0
        self._last_lr = self._group_lrs()
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, value: float, best: float) -> bool:
        """Whether ``value`` improves on ``best`` by more than the threshold."""
        if self.mode == "min" and self.threshold_mode == "rel":
            return value < best * (1.0 - self.threshold)
        if self.mode == "min":
            return value < best - self.threshold
        if self.threshold_mode == "rel":
            return value > best * (self.threshold + 1.0)
        return value > best + self.threshold

    def step(self, metrics: Any) -> None:  # type: ignore[override]
        """Record this epoch's metric (a number or one-element tensor) and maybe lower the rate."""
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._group_lrs()

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"the optimizer has {len(groups)} parameter groups but min_lr gave "
                    f"{len(self.min_lrs)} values (a group was added since); set "
                    "scheduler.min_lrs to one value per group"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr
