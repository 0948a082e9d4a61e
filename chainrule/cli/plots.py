"""The pictures of a ``chainrule train`` run folder: ``curves.png`` (the learning curves, with
the epoch whose weights are kept marked) and ``confusion.png``. They are drawn with the
library's ``chainrule.diagnostics.plots`` helpers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from chainrule.diagnostics.plots import new_figure, plot_curves, save_figure

__all__ = ["plot_history", "plot_confusion"]


def plot_history(history: Any, path: str | Path, title: str = "Training curves",
                 metric: str | None = "accuracy", dpi: int = 110,
                 kept_epoch: int | None = None) -> Path:
    """Train/validation loss (left) and ``metric`` (right) per epoch, by ``plot_curves``.

    Args:
        history: a ``History`` (or a dict of columns) with ``epoch``, ``train_loss`` and
            optionally ``val_loss``, ``train_<metric>``, ``val_<metric>``.
        metric: the metric for the right panel (None or absent: the loss panel only);
            accuracies are drawn in percent. The loss gets a log scale when it spans more
            than a factor 50.
        dpi: resolution of the PNG.
        kept_epoch: the epoch whose weights the run keeps (marked with a dotted line).

    Example:
        >>> from chainrule.train import History
        >>> h = History([{"epoch": 1, "train_loss": 1.0}, {"epoch": 2, "train_loss": 0.5}])
        >>> import tempfile, os
        >>> path = plot_history(h, os.path.join(tempfile.mkdtemp(), "curves.png"))
    """
    columns = history.as_dict() if hasattr(history, "as_dict") else dict(history)
    epochs = columns.get("epoch") or list(range(1, len(columns.get("train_loss") or []) + 1))
    names = ["loss"]
    if metric and (f"train_{metric}" in columns or f"val_{metric}" in columns):
        names.append(metric)
    panels = []
    for name in names:
        label = "loss (cross-entropy)" if name == "loss" and metric == "accuracy" else name
        scale = 100.0 if name == "accuracy" else 1.0
        series, styles = {}, {}
        for split, legend, line in (("train", "training", "-"), ("val", "validation", "--")):
            points = [(epoch, scale * value) for epoch, value
                      in zip(epochs, columns.get(f"{split}_{name}") or []) if value is not None]
            if points:
                series[legend] = tuple(list(axis) for axis in zip(*points))
                styles[legend] = dict(linestyle=line, marker="o", markersize=3)
        positive = [v for key in ("train_loss", "val_loss")
                    for v in columns.get(key) or [] if v is not None and v > 0]
        panels.append(dict(series=series, styles=styles, xlabel="epoch",
                           title=label.split(" (")[0].capitalize(),
                           ylabel=label + (" (%)" if name == "accuracy" else ""),
                           logy=name == "loss" and bool(positive)
                           and max(positive) / min(positive) > 50,
                           vlines=[(kept_epoch, f"weights kept: epoch {kept_epoch}")]
                           if kept_epoch else []))
    return plot_curves(path, panels, ncols=len(panels), title=title,
                       size=(5.2 * len(panels), 3.8), dpi=dpi)


def plot_confusion(matrix: np.ndarray, path: str | Path, classes: Sequence[str] | None = None,
                   title: str = "Confusion matrix") -> Path:
    """Save a confusion matrix (rows: true class, columns: predicted) with counts in the cells;
    returns the path written.

    Example:
        >>> import tempfile, os
        >>> path = plot_confusion(np.array([[5, 1], [0, 4]]),
        ...                       os.path.join(tempfile.mkdtemp(), "c.png"))
    """
    matrix = np.asarray(matrix)
    n = matrix.shape[0]
    classes = [str(c) for c in (classes if classes is not None else range(n))]
    size = min(9.0, 2.5 + 0.5 * n)
    figure, axis = new_figure(size=(size + 1.0, size))
    image = axis.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04, label="samples")
    axis.set_xticks(range(n))
    axis.set_yticks(range(n))
    rotate = max(len(c) for c in classes) > 3
    axis.set_xticklabels(classes, rotation=45 if rotate else 0, ha="right" if rotate else "center")
    axis.set_yticklabels(classes)
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    axis.set_title(title)
    threshold = matrix.max() / 2 if matrix.size else 0
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    axis.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=10,
                              color="white" if matrix[i, j] > threshold else "black")
    return save_figure(figure, path)
