"""Pictures as PNG files: the one ``plot_curves`` (panels of line plots, used by the lab and
the diagnostics), a training run's learning curves (``plot_history``) and its confusion matrix.

Figures are matplotlib ``Figure`` objects rendered straight to the file: no pyplot state, no
window and no backend to choose, so they work without a display.

Example:
    >>> import os, tempfile
    >>> path = plot_curves(os.path.join(tempfile.mkdtemp(), "c.png"),
    ...                    [{"series": {"loss": [3.0, 2.0, 1.5]}, "title": "Training"}])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["new_figure", "save_figure", "plot_curves", "plot_history", "plot_confusion"]


def new_figure(rows: int = 1, cols: int = 1, size: tuple[float, float] | None = None,
               squeeze: bool = True):
    """A matplotlib Figure and its axes (constrained layout, no pyplot state)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "chainrule's plots need matplotlib: pip install matplotlib (or pip install -e '.[all]')"
        ) from None
    size = size or (4.2 * cols, 3.2 * rows)
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=squeeze)
    return fig, axes


def save_figure(fig, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` to ``path`` (folders created; the format follows the extension)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def plot_curves(path: str | Path, panels: Sequence[Mapping], ncols: int | None = None,
                title: str = "", size: tuple[float, float] | None = None,
                dpi: int = 110) -> Path:
    """Several panels of line plots in one PNG; returns the path written.

    Each panel is a dict: ``series`` (label → (x, y) or y), ``title``, ``xlabel``, ``ylabel``,
    optional ``logy``/``logx`` (bools) or ``xscale`` (e.g. ``"symlog"``: log with 0 shown),
    ``styles`` (label → dict of plot keywords), ``legend`` (bool, default True), ``ylim``,
    ``xticks``, ``vlines`` (pairs (x, label): dotted markers).
    """
    ncols = ncols or min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = new_figure(nrows, ncols, size=size or (4.3 * ncols, 3.3 * nrows), squeeze=False)
    for axis, panel in zip(axes.flat, panels):
        styles = panel.get("styles", {})
        for label, data in panel["series"].items():
            if isinstance(data, tuple):
                x, y = data
            else:
                y = data
                x = np.arange(1, len(y) + 1)
            axis.plot(x, y, label=label, **styles.get(label, {}))
        if panel.get("logy"):
            axis.set_yscale("log")
        if panel.get("logx"):
            axis.set_xscale("log")
        if panel.get("xscale"):
            axis.set_xscale(panel["xscale"])
            if panel["xscale"] == "symlog":
                axis.set_xlim(left=0)
        if panel.get("ylim"):
            axis.set_ylim(*panel["ylim"])
        if panel.get("xticks") is not None:
            axis.set_xticks(panel["xticks"], [f"{t:g}" for t in panel["xticks"]])
            axis.minorticks_off()
        for x_value, text in panel.get("vlines", ()):
            axis.axvline(x_value, color="0.4", linestyle=":", linewidth=1)
            axis.annotate(text, (x_value, 0.6), xycoords=("data", "axes fraction"),
                          fontsize=7, color="0.3", ha="right", va="center", rotation=90)
        axis.set_title(panel.get("title", ""), fontsize=10)
        axis.set_xlabel(panel.get("xlabel", ""))
        axis.set_ylabel(panel.get("ylabel", ""))
        if panel.get("legend", True) and panel["series"]:
            axis.legend(fontsize=7)
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(panels):]:
        axis.set_visible(False)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path, dpi=dpi)


def plot_history(history: Any, path: str | Path, title: str = "Training curves",
                 metric: str | None = "accuracy", dpi: int = 110) -> Path:
    """Train/validation loss (left) and ``metric`` (right) per epoch, by ``plot_curves``.

    Args:
        history: a ``History`` (or a dict of columns) with ``epoch``, ``train_loss`` and
            optionally ``val_loss``, ``train_<metric>``, ``val_<metric>``.
        metric: the metric for the right panel (None or absent: the loss panel only);
            accuracies are drawn in percent. The loss gets a log scale when it spans more
            than a factor 50.
        dpi: resolution of the PNG.

    Example:
        >>> from chainrule.train import History
        >>> h = History([{"epoch": 1, "train_loss": 1.0}, {"epoch": 2, "train_loss": 0.5}])
        >>> import tempfile, os
        >>> path = plot_history(h, os.path.join(tempfile.mkdtemp(), "curves.png"))
    """
    columns = history.as_dict() if hasattr(history, "as_dict") else dict(history)
    epochs = columns.get("epoch") or list(range(1, len(columns["train_loss"]) + 1))
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
                           and max(positive) / min(positive) > 50))
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
