"""The callback base class, ``LambdaCallback``, and the monitoring helpers the others share."""

from __future__ import annotations

import math
from typing import Callable

from chainrule.train.metrics import higher_is_better

__all__ = ["Callback", "LambdaCallback"]


class Callback:
    """Base class: override the hooks you need (the others do nothing).

    ``state_dict()``/``load_state_dict()`` hold a callback's own state (plain data), saved in
    checkpoints so that a resumed run continues exactly.
    """

    order = 0

    def on_train_begin(self, state) -> None:
        """Before the first epoch (after a resume has been loaded)."""

    def on_epoch_begin(self, state) -> None:
        """Before an epoch's first batch; ``state.epoch`` is set."""

    def on_after_backward(self, state) -> None:
        """After ``backward()``, before clipping and ``optimizer.step()`` (gradients in
        ``.grad``)."""

    def on_batch_end(self, state) -> None:
        """After ``optimizer.step()``; ``state.loss`` and ``state.batch_size`` are set."""

    def on_epoch_end(self, state) -> None:
        """After validation and the scheduler step; ``state.logs`` is the epoch's record."""

    def on_train_end(self, state) -> None:
        """After the last epoch, after an early stop, after Ctrl-C, and after an error."""

    def on_interrupt(self, state) -> None:
        """On Ctrl-C (KeyboardInterrupt), before ``on_train_end``; fit re-raises afterwards."""

    def state_dict(self) -> dict:
        """This callback's state as plain data (numbers, strings, arrays, lists, dicts)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned."""


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda state: ...)``.

    Example:
        >>> seen = []
        >>> callback = LambdaCallback(on_epoch_end=lambda state: seen.append(state.epoch))
    """

    _HOOKS = ("on_train_begin", "on_epoch_begin", "on_after_backward", "on_batch_end",
              "on_epoch_end", "on_train_end", "on_interrupt")

    def __init__(self, **hooks: Callable) -> None:
        unknown = sorted(set(hooks) - set(self._HOOKS))
        if unknown:
            raise TypeError(f"LambdaCallback got unknown hooks {unknown}; the hooks are "
                            f"{list(self._HOOKS)}")
        for name, function in hooks.items():
            setattr(self, name, function)


def _monitor_for(monitor: str, state) -> str:
    """``val_x`` without a validation loader falls back to ``train_x``."""
    if monitor.startswith("val_") and state.val_loader is None:
        return "train_" + monitor[4:]
    return monitor


def _resolve_mode(mode: str, monitor: str, owner: str) -> str:
    if mode == "auto":
        return "max" if higher_is_better(monitor) else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"{owner} mode must be 'auto', 'min' or 'max', got {mode!r}")
    return mode


def _improved(value: float, best: float, mode: str, min_delta: float) -> bool:
    if value is None or not math.isfinite(value):
        return False
    if mode == "min":
        return value < best - min_delta
    return value > best + min_delta


def _logged(state, monitor: str, owner: str) -> float:
    if monitor not in state.logs:
        raise KeyError(f"{owner} monitors {monitor!r}, which the epoch record does not have; "
                       f"recorded: {sorted(state.logs)}")
    return state.logs[monitor]
