"""Early stopping on a monitored metric, restoring the best weights."""

from __future__ import annotations

import math

from chainrule.train.callbacks.base import Callback, _improved, _logged, _monitor_for, _resolve_mode

__all__ = ["EarlyStopping"]


# ---------------------------------------------------------------------- early stopping
class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    Args:
        monitor: a column of the epoch record (``val_loss``, ``val_accuracy``, ...); ``val_*``
            falls back to ``train_*`` when ``fit`` has no validation loader.
        patience: epochs without improvement tolerated.
        min_delta: the least change that counts as an improvement.
        mode: ``'min'``, ``'max'`` or ``'auto'`` (max for accuracies/F1, min for losses/errors).
        restore_best: at the end, load the weights of the best epoch back into the model.

    Example:
        >>> stopper = EarlyStopping("val_loss", patience=3, restore_best=True)
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best: bool = False) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"EarlyStopping patience must be an int >= 1, got {patience!r}")
        if min_delta < 0:
            raise ValueError(f"EarlyStopping min_delta must be >= 0, got {min_delta}")
        self.monitor = monitor
        self.patience = patience
        self.min_delta = float(min_delta)
        self.mode = _resolve_mode(mode, monitor, "EarlyStopping")
        self.restore_best = restore_best
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None

    def on_train_begin(self, state) -> None:
        self._monitor = _monitor_for(self.monitor, state)

    def on_epoch_end(self, state) -> None:
        value = _logged(state, self._monitor, "EarlyStopping")
        if _improved(value, self.best, self.mode, self.min_delta):
            self.best, self.best_epoch, self.wait = float(value), state.epoch, 0
            if self.restore_best:
                self.best_weights = state.model.state_dict()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = state.epoch
            state.stop_training = True
            state.stop_reason = (
                f"early stopping at epoch {state.epoch}: {self._monitor} did not improve by more "
                f"than {self.min_delta:g} for {self.patience} epochs (best {self.best:.4g} at "
                f"epoch {self.best_epoch})"
            )

    def on_train_end(self, state) -> None:
        if self.restore_best and self.best_weights is not None and not state.failed:
            state.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "stopped_epoch": self.stopped_epoch, "best_weights": self.best_weights}

    def load_state_dict(self, state: dict) -> None:
        """Restore the state; a run that had stopped early and is resumed (to train further, on
        purpose) starts a fresh patience window, keeping its best value and weights."""
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        self.wait = int(state["wait"])
        self.stopped_epoch = int(state["stopped_epoch"])
        if self.stopped_epoch:
            self.wait, self.stopped_epoch = 0, 0
        weights = state.get("best_weights")
        self.best_weights = None if weights is None else dict(weights)


# ---------------------------------------------------------------------- checkpoints and logs
