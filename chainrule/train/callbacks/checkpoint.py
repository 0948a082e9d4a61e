"""Periodic and best-model checkpoints during ``fit``."""

from __future__ import annotations

import math
import os
from pathlib import Path

from chainrule.serialization import save, write_file
from chainrule.train.callbacks.base import Callback, _improved, _monitor_for, _resolve_mode
from chainrule.train.checkpoint import checkpoint_bytes

__all__ = ["Checkpoint"]


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

        return checkpoint_bytes(state.model, state.optimizer, state.scheduler, epoch=epoch,
                                step=state.step, history=state.history, extra=self.extra,
                                loaders=[state.train_loader], callbacks=state.callbacks)

    def _write(self, state, payload: bytes) -> None:

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
