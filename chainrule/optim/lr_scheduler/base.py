"""The scheduler base class: records each group's starting rate and steps epoch by epoch."""

from __future__ import annotations

import copy
from typing import Any

from chainrule.optim.optimizer import Optimizer, check_int

__all__ = ["LRScheduler"]


class LRScheduler:
    """Base class of the epoch-indexed schedulers.

    Subclasses write ``get_lr()``: the rates for epoch ``self.last_epoch``, often computed from
    the current ``group["lr"]`` (the recursive form) or from ``self.base_lrs``.

    Args:
        optimizer: the optimizer whose groups' ``lr`` the scheduler sets.
        last_epoch: the index of the last epoch done; -1 (the default) starts a new schedule.
            Resuming with ``last_epoch >= 0`` needs ``initial_lr`` in every group (restore the
            optimizer's state dict first).
    """

    _excluded_state: tuple[str, ...] = ("optimizer",)

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"a scheduler needs a chainrule.optim.Optimizer, got "
                            f"{type(optimizer).__name__}")
        check_int("last_epoch", last_epoch, -1)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for index, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param_groups[{index}] has no 'initial_lr', which resuming a scheduler "
                        f"with last_epoch={last_epoch} needs; load the optimizer's state dict "
                        "first, or start with last_epoch=-1"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The rate of each group for epoch ``last_epoch`` (called by ``step``)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_lr")

    def get_last_lr(self) -> list[float]:
        """The rates set by the last ``step()``, one per parameter group."""
        return list(self._last_lr)

    def step(self) -> None:
        """Advance one epoch and set each group's ``lr``; call after ``optimizer.step()``."""
        self._step_count += 1
        self.last_epoch += 1
        values = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state as plain data (everything but the optimizer and callables)."""
        return {key: copy.deepcopy(value) for key, value in self.__dict__.items()
                if key not in self._excluded_state}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned (deep-copied)."""
        if not isinstance(state_dict, dict):
            raise TypeError(f"expected a dict from scheduler.state_dict(), got "
                            f"{type(state_dict).__name__}")
        self.__dict__.update({key: copy.deepcopy(value) for key, value in state_dict.items()
                              if key not in self._excluded_state})

    def _group_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]
