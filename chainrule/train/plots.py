"""Pictures of a training run: learning curves and the confusion matrix (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = ["plot_curves", "plot_confusion"]


def _pyplot():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo"):
        matplotlib.use("Agg")  # files only: no window, works without a display
    import matplotlib.pyplot as plt

    return plt


def plot_curves(history: Any, path: str | Path, title: str = "Training curves",
                metric: str | None = "accuracy", dpi: int = 110) -> None:
    """Save train/validation loss (left) and ``metric`` (right) per epoch to ``path`` (PNG).

    Args:
        history: a ``History`` (or a dict of columns) with ``epoch``, ``train_loss`` and
            optionally ``val_loss``, ``train_<metric>``, ``val_<metric>``.
        metric: the metric for the right panel (None or absent: the loss panel only).
        dpi: resolution of the PNG.

    Example:
        >>> from chainrule.train import History
        >>> h = History([{"epoch": 1, "train_loss": 1.0}, {"epoch": 2, "train_loss": 0.5}])
        >>> import tempfile, os
        >>> plot_curves(h, os.path.join(tempfile.mkdtemp(), "curves.png"))
    """
    columns = history.as_dict() if hasattr(history, "as_dict") else dict(history)
    epochs = columns.get("epoch") or list(range(1, len(columns["train_loss"]) + 1))
    panels = [("loss", "loss (cross-entropy)" if metric == "accuracy" else "loss")]
    if metric and (f"train_{metric}" in columns or f"val_{metric}" in columns):
        panels.append((metric, metric))
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8), squeeze=False)
    for axis, (name, label) in zip(axes[0], panels):
        for split, style in (("train", "-"), ("val", "--")):
            values = columns.get(f"{split}_{name}")
            if values is None:
                continue
            points = [(e, v) for e, v in zip(epochs, values) if v is not None]
            if not points:
                continue
            xs, ys = zip(*points)
            if name == "accuracy":
                ys = [100.0 * v for v in ys]
            axis.plot(xs, ys, style, marker="o", markersize=3,
                      label="training" if split == "train" else "validation")
        axis.set_xlabel("epoch")
        axis.set_ylabel(label + (" (%)" if name == "accuracy" else ""))
        axis.set_title(label.split(" (")[0].capitalize())
        if name == "loss":
            positive = [v for key in ("train_loss", "val_loss")
                        for v in columns.get(key) or [] if v is not None and v > 0]
            if positive and max(positive) / min(positive) > 50:
                axis.set_yscale("log")
        axis.grid(True, alpha=0.3)
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=dpi)
    plt.close(figure)


def plot_confusion(matrix: np.ndarray, path: str | Path, classes: Sequence[str] | None = None,
                   title: str = "Confusion matrix") -> None:
    """Save a confusion matrix (rows: true class, columns: predicted) with counts in the cells.

    Example:
        >>> import tempfile, os
        >>> plot_confusion(np.array([[5, 1], [0, 4]]), os.path.join(tempfile.mkdtemp(), "c.png"))
    """
    matrix = np.asarray(matrix)
    n = matrix.shape[0]
    classes = [str(c) for c in (classes if classes is not None else range(n))]
    plt = _pyplot()
    size = min(9.0, 2.5 + 0.5 * n)
    figure, axis = plt.subplots(figsize=(size + 1.0, size))
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
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
