"""Callbacks: code that ``fit`` runs at fixed points of training.

Hooks, in the order ``fit`` calls them (each receives the loop's ``FitState``):
``on_train_begin`` → per epoch ``on_epoch_begin`` → per batch ``on_after_backward`` (gradients
are in ``.grad``, the optimizer has not stepped) and ``on_batch_end`` → ``on_epoch_end``
(``state.logs`` holds the epoch's record) → ``on_train_end`` (always, also after an error);
``on_interrupt`` runs on Ctrl-C before ``on_train_end``. A callback stops training by setting
``state.stop_training = True`` (and ``state.stop_reason``). Callbacks run in increasing
``order`` (``Checkpoint`` last, so that it saves the others' updated state). ``fit`` calls only
the hooks a callback overrides; setting a hook to None on an instance switches it off.

Example:
    >>> class PrintLoss(Callback):
    ...     def on_epoch_end(self, state):
    ...         print(f"epoch {state.epoch}: {state.logs['train_loss']:.3f}")
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Callable

from chainrule.train.metrics import higher_is_better

__all__ = ["Callback", "LambdaCallback", "ProgressBar", "EpochTable", "EarlyStopping",
           "Checkpoint", "CSVLogger", "TerminateOnNaN"]


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
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        self.wait = int(state["wait"])
        self.stopped_epoch = int(state["stopped_epoch"])
        weights = state.get("best_weights")
        self.best_weights = None if weights is None else dict(weights)


# ---------------------------------------------------------------------- checkpoints and logs
class Checkpoint(Callback):
    """Save a full checkpoint every ``every`` epochs, and the best weights.

    ``path_or_dir`` ending in ``.safetensors`` names the checkpoint file (the best weights go
    beside it as ``<name>.best.safetensors``); otherwise it is a folder (created) that gets
    ``checkpoint.safetensors`` and ``best.safetensors``. The last epoch is always saved. On
    Ctrl-C the state at the end of the last finished epoch is written (kept in memory when
    ``every > 1``), so ``fit(..., resume=path)`` continues exactly.

    Args:
        every: save every this many epochs.
        keep_best: also save the model's weights whenever ``monitor`` improves.
        monitor, mode: as in ``EarlyStopping``.
        extra: a JSON-like dict stored in every checkpoint (e.g. a run's configuration).

    Example:
        >>> checkpoint = Checkpoint("runs/demo", every=1, monitor="val_accuracy")
    """

    order = 100

    def __init__(self, path_or_dir: str | os.PathLike, every: int = 1, keep_best: bool = True,
                 monitor: str = "val_loss", mode: str = "auto", extra: dict | None = None) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"Checkpoint every must be an int >= 1, got {every!r}")
        path = Path(path_or_dir)
        if path.suffix == ".safetensors":
            self.path = path
            self.best_path = path.with_name(path.stem + ".best.safetensors")
        else:
            self.path = path / "checkpoint.safetensors"
            self.best_path = path / "best.safetensors"
        self.every = every
        self.keep_best = keep_best
        self.monitor = monitor
        self.mode = _resolve_mode(mode, monitor, "Checkpoint")
        self.extra = extra
        self.best = math.inf if self.mode == "min" else -math.inf
        self._pending: bytes | None = None
        self._pending_epoch = 0
        self.saved_epoch: int | None = None  # the epoch the file on disk holds

    def _payload(self, state, epoch: int) -> bytes:
        from chainrule.train.checkpoint import checkpoint_bytes

        return checkpoint_bytes(state.model, state.optimizer, state.scheduler, epoch=epoch,
                                step=state.step, history=state.history, extra=self.extra,
                                loaders=[state.train_loader], callbacks=state.callbacks)

    def _write(self, state, payload: bytes) -> None:
        from chainrule.train.checkpoint import write_file

        write_file(self.path, payload)
        self.saved_epoch = self._pending_epoch if payload is self._pending else state.epoch
        self._pending = None
        state.checkpoint_path = str(self.path)

    def on_train_begin(self, state) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OSError(f"Checkpoint cannot create the folder {self.path.parent}: "
                          f"{error.strerror or error}") from None
        self._monitor = _monitor_for(self.monitor, state)
        # the state before the first epoch: what Ctrl-C during that epoch saves
        self._pending = self._payload(state, state.initial_epoch)
        self._pending_epoch = state.initial_epoch

    def on_epoch_end(self, state) -> None:
        if self.keep_best:
            value = state.logs.get(self._monitor)
            if _improved(value, self.best, self.mode, 0.0):
                from chainrule.train.checkpoint import save

                self.best = float(value)
                save(state.model, self.best_path,
                     metadata={"epoch": str(state.epoch), self._monitor: repr(self.best)})
        payload = self._payload(state, state.epoch)
        if state.epoch % self.every == 0 or state.epoch >= state.epochs or state.stop_training:
            self._write(state, payload)
        else:
            self._pending, self._pending_epoch = payload, state.epoch

    def on_interrupt(self, state) -> None:
        if self._pending is not None:
            self._write(state, self._pending)
        elif self.path.exists():
            state.checkpoint_path = str(self.path)

    def on_train_end(self, state) -> None:
        if self._pending is not None and not state.interrupted and not state.failed \
                and state.history.rows:
            self._write(state, self._pending)  # stopped between two saves

    def state_dict(self) -> dict:
        return {"best": self.best}

    def load_state_dict(self, state: dict) -> None:
        self.best = float(state["best"])


class CSVLogger(Callback):
    """Write the history to a CSV file after every epoch (one row per epoch, header first).

    The whole file is rewritten atomically each epoch, so it always holds complete rows, and a
    resumed run's file includes the epochs before the resume.

    Example:
        >>> logger = CSVLogger("runs/demo/history.csv")
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def on_epoch_end(self, state) -> None:
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                             dir=folder)
        os.close(handle)
        try:
            state.history.to_csv(temporary)
            os.replace(temporary, self.path)
        except BaseException:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise


# the progress and NaN-guard callbacks live in their own modules; import them from here
from chainrule.train.progress import EpochTable, ProgressBar  # noqa: E402
from chainrule.train.nan_guard import TerminateOnNaN  # noqa: E402
