"""``History``: what ``fit`` records, one row per epoch."""

from __future__ import annotations

import base64
import csv
import html
import io
import math
from pathlib import Path
from typing import Any, Iterator

__all__ = ["History"]


class History:
    """Per-epoch records of a training run: losses, metrics, learning rate and wall time.

    Each epoch is one dict (a row), e.g. ``{"epoch": 3, "train_loss": 0.21,
    "train_accuracy": 0.94, "val_loss": 0.25, "val_accuracy": 0.93, "lr": 0.001,
    "time": 1.8}``; ``time`` is the epoch's wall time in seconds (validation included).
    ``history["val_loss"]`` is one column as a list (None where an epoch lacks it), as Keras'
    ``history.history``.

    Example:
        >>> h = History()
        >>> h.append({"epoch": 1, "train_loss": 0.5}); h.append({"epoch": 2, "train_loss": 0.25})
        >>> h["train_loss"], len(h)
        ([0.5, 0.25], 2)
    """

    def __init__(self, rows: list[dict[str, Any]] | None = None) -> None:
        self.rows: list[dict[str, Any]] = [dict(row) for row in rows or []]

    # ------------------------------------------------------------------ access
    def append(self, row: dict[str, Any]) -> None:
        """Add one epoch's record."""
        self.rows.append(dict(row))

    @property
    def columns(self) -> list[str]:
        """Column names in first-seen order."""
        names: dict[str, None] = {}
        for row in self.rows:
            names.update(dict.fromkeys(row))
        return list(names)

    def __getitem__(self, column: str) -> list:
        if column not in self.columns:
            raise KeyError(f"History has no column {column!r}; it has {self.columns}")
        return [row.get(column) for row in self.rows]

    def __contains__(self, column: str) -> bool:
        return column in self.columns

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def keys(self) -> list[str]:
        """The column names (so ``dict(history.as_dict())`` and ``in`` work as on a dict)."""
        return self.columns

    @property
    def last(self) -> dict[str, Any]:
        """The latest epoch's record (an empty dict before the first epoch)."""
        return dict(self.rows[-1]) if self.rows else {}

    def best(self, monitor: str = "val_loss", mode: str = "min") -> dict[str, Any]:
        """The record of the epoch where ``monitor`` was lowest (``mode='min'``) or highest."""
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        rows = [r for r in self.rows if _is_number(r.get(monitor))]
        if not rows:
            raise KeyError(f"no epoch recorded {monitor!r}; recorded columns: {self.columns}")
        pick = min if mode == "min" else max
        return dict(pick(rows, key=lambda r: r[monitor]))

    # ------------------------------------------------------------------ export
    def as_dict(self) -> dict[str, list]:
        """Column name → list of values, one per epoch."""
        return {column: self[column] for column in self.columns}

    to_dict = as_dict

    def state_dict(self) -> list[dict[str, Any]]:
        """The rows as plain JSON-ready data (for checkpoints)."""
        return [dict(row) for row in self.rows]

    @classmethod
    def from_state_dict(cls, rows: list[dict[str, Any]]) -> "History":
        """Rebuild a History saved with ``state_dict``."""
        return cls(rows)

    def to_csv(self, path: str | Path) -> None:
        """Write one row per epoch with a header line (floats with full precision)."""
        columns = self.columns
        with open(path, "w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=columns)
            writer.writeheader()
            for row in self.rows:
                writer.writerow({c: _format(row.get(c)) for c in columns})

    @classmethod
    def from_csv(cls, path: str | Path) -> "History":
        """Read a file written by ``to_csv`` (numbers become int or float)."""
        with open(path, newline="") as stream:
            rows = [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(stream)]
        return cls(rows)

    # ------------------------------------------------------------------ display
    def figure(self):
        """The learning curves as a matplotlib ``Figure``: the losses in one panel, the other
        per-epoch metrics (accuracy, ...) in a second, epochs on an integer axis."""
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        epochs = self["epoch"] if "epoch" in self else list(range(1, len(self) + 1))
        skip = {"epoch", "time", "lr", "step"}
        numeric = [c for c in self.columns if c not in skip
                   and any(_is_number(v) for v in self[c])]
        losses = [c for c in numeric if "loss" in c]
        others = [c for c in numeric if c not in losses]
        panels = [group for group in (losses, others) if group]
        fig = Figure(figsize=(4.2 * max(1, len(panels)), 3.0), layout="constrained")
        axes = fig.subplots(1, max(1, len(panels)), squeeze=False)[0]
        for axis, group in zip(axes, panels):
            for column in group:
                points = [(e, v) for e, v in zip(epochs, self[column]) if _is_number(v)]
                axis.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                          markersize=3, label=column)
            axis.set_xlabel("epoch")
            axis.set_ylabel("loss" if group is losses else "metric")
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))
            axis.legend(fontsize=8, loc="best", framealpha=0.8)
        return fig

    def _repr_png_(self) -> bytes | None:
        if not self.rows:
            return None
        try:
            fig = self.figure()
        except ImportError:
            return None
        stream = io.BytesIO()
        fig.savefig(stream, format="png", dpi=90)
        return stream.getvalue()

    def _repr_html_(self) -> str:
        columns = self.columns
        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        shown = self.rows if len(self.rows) <= 12 else self.rows[:5] + [None] + self.rows[-5:]
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_short(row.get(c)))}</td>" for c in columns)
            + "</tr>" if row is not None else f"<tr><td colspan={len(columns)}>…</td></tr>"
            for row in shown)
        png = self._repr_png_()
        image = ("" if png is None else '<img alt="learning curves" src="data:image/png;base64,'
                 + base64.b64encode(png).decode("ascii") + '">')
        return (f"<div><p>History: {len(self)} epochs</p>{image}<table><thead><tr>{head}"
                f"</tr></thead><tbody>{body}</tbody></table></div>")

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={_format(v)}" for k, v in self.last.items())
        return f"History({len(self)} epochs{': last ' + last if last else ''})"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not (
        isinstance(value, float) and math.isnan(value))


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else _format(value)


def _parse(text: str) -> Any:
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
