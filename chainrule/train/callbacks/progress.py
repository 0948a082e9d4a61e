"""Progress callbacks: a tqdm bar over the epochs and a per-epoch table."""

from __future__ import annotations

import sys
from typing import Any

from chainrule.train.callbacks.base import Callback

__all__ = ["ProgressBar", "EpochTable"]


def _short(column: str) -> str:
    name = column[len("train_"):] if column.startswith("train_") else column
    return name.replace("accuracy", "acc")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.3g}"
        return f"{value:.4f}"
    return str(value)


def _write(text: str, file) -> None:
    """Print a line; through tqdm (which clears its bars, prints, and redraws them) only when a
    visible bar draws on the same stream or on the same terminal."""
    tqdm = sys.modules.get("tqdm")
    bars = [bar for bar in getattr(getattr(tqdm, "tqdm", None), "_instances", ())
            if not bar.disable]
    if any(_same_place(getattr(bar.fp, "_wrapped", bar.fp), file) for bar in bars):
        tqdm.tqdm.write(text, file=file)
    else:
        print(text, file=file)
    file.flush()


def _same_place(stream, other) -> bool:
    if stream is other:
        return True
    try:
        return stream.isatty() and other.isatty()
    except (AttributeError, ValueError):  # closed or not a file
        return False


class ProgressBar(Callback):
    """A tqdm bar over the epochs showing the loss, the first metric and the learning rate.

    Args:
        batches: also show a bar over the batches of each epoch (long epochs).
        file: where to draw (default ``sys.stderr``).
        disable: ``None`` (default) hides the bar when ``file`` is not a terminal, so logs and
            pipes stay clean; True/False force it.
    """

    order = -10

    def __init__(self, batches: bool = False, file=None, disable: bool | None = None) -> None:
        self.batches = batches
        self.file = file
        self.disable = disable
        self.bar = None
        self.inner = None
        if not batches:  # no per-batch work: fit then skips these hooks entirely
            self.on_epoch_begin = self.on_batch_end = None

    def _disabled(self, file) -> bool:
        if self.disable is not None:
            return self.disable
        return not (hasattr(file, "isatty") and file.isatty())

    def on_train_begin(self, state) -> None:
        from tqdm import tqdm

        file = self.file or sys.stderr
        self._off = self._disabled(file)
        self.bar = tqdm(total=state.epochs, initial=state.initial_epoch, unit="epoch",
                        desc="training", file=file, disable=self._off, dynamic_ncols=True,
                        leave=True)

    def on_epoch_begin(self, state) -> None:
        if self.batches and not self._off:
            from tqdm import tqdm

            total = len(state.train_loader) if hasattr(state.train_loader, "__len__") else None
            self.inner = tqdm(total=total, unit="batch", desc=f"epoch {state.epoch}",
                              file=self.bar.fp, leave=False, dynamic_ncols=True)

    def on_batch_end(self, state) -> None:
        if self.inner is not None:
            self.inner.update(1)
            if state.batch % 10 == 0:
                self.inner.set_postfix(loss=f"{state.loss:.4f}", refresh=False)

    def on_epoch_end(self, state) -> None:
        if self.inner is not None:
            self.inner.close()
            self.inner = None
        logs = state.logs
        postfix = {"loss": _cell(logs.get("train_loss"))}
        first = state.metrics[0] if state.metrics else None
        if first:
            postfix[_short(first)] = _cell(logs.get("train_" + first))
        if "val_loss" in logs:
            postfix["val_loss"] = _cell(logs["val_loss"])
            if first:
                postfix["val_" + _short(first)] = _cell(logs.get("val_" + first))
        postfix["lr"] = f"{logs.get('lr', float('nan')):.3g}"
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(1)

    def on_train_end(self, state) -> None:
        for bar in (self.inner, self.bar):
            if bar is not None:
                bar.close()
        self.inner = self.bar = None


class EpochTable(Callback):
    """Print one row per epoch (loss, metrics, validation, learning rate, seconds) as a table.

    Example output::

        epoch    loss     acc  val_loss  val_acc      lr   time
            1  1.2841  0.6120    0.5123   0.8711  0.0030   1.1s
    """

    order = -5

    def __init__(self, file=None) -> None:
        self.file = file
        self.columns: list[str] | None = None

    def on_train_begin(self, state) -> None:
        self.columns = None

    def on_epoch_end(self, state) -> None:
        file = self.file or sys.stdout
        logs = state.logs
        if self.columns is None:
            self.columns = [c for c in logs if c != "time"]
            header = "  ".join(f"{_short(c):>{self._width(c)}}" for c in self.columns)
            _write(header + "    time", file)
        cells = []
        for column in self.columns:
            value = logs.get(column)
            if column == "epoch" or value is None:
                text = str(value if value is not None else "-")
            elif column == "lr":
                text = f"{value:.3g}"
            else:
                text = _cell(value)
            cells.append(f"{text:>{self._width(column)}}")
        _write("  ".join(cells) + f"  {logs.get('time', 0.0):5.1f}s", file)

    @staticmethod
    def _width(column: str) -> int:
        return 5 if column == "epoch" else max(8, len(_short(column)))
