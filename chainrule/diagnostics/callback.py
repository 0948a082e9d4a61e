"""``GradientFlow``: a training callback that records every layer's gradient norm over training
and draws it as a heat map (layer × step)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chainrule.diagnostics._format import format_table
from chainrule.diagnostics.gradient_flow import (
    GradientFlowReport, gradient_flow, weight_layer_labels,
)
from chainrule.diagnostics.plots import plot_heatmap
from chainrule.train.callbacks import Callback

__all__ = ["GradientFlow"]


class GradientFlow(Callback):
    """Record ``gradient_flow`` every ``every`` optimizer steps and plot it as a heat map.

    It reads the gradients after each ``backward()`` (hook ``on_after_backward``: before
    clipping and before the optimizer step, so it sees the raw gradients) and measures the
    update-to-weight ratio ‖Δw‖/‖w‖ between two records. In a loop of your own, call
    ``flow.on_after_backward()`` after ``loss.backward()`` (or ``flow.record(model)``).

    Args:
        model: the model to watch (default: the one the training loop passes).
        every: record every this many steps.
        path: if given, the heat map is saved there when training ends.

    Attributes:
        steps: the step number of each record. layers: layer names.
        grad_norms: array (records × layers). update_ratios: the same shape.
        verdicts: the verdict of each record. last: the last ``GradientFlowReport``.

    Example:
        >>> from chainrule.train import fit  # doctest: +SKIP
        >>> flow = GradientFlow(every=10, path="flow.png")  # doctest: +SKIP
        >>> fit(model, "cross_entropy", optimizer, loader, epochs=3,
        ...     callbacks=[flow])  # doctest: +SKIP
    """

    def __init__(self, model=None, every: int = 1, path: str | Path | None = None):
        if every < 1:
            raise ValueError(f"GradientFlow: every must be at least 1, got {every}")
        self.model = model
        self.every = int(every)
        self.path = Path(path) if path is not None else None
        self.steps: list[int] = []
        self.layers: list[str] = []
        self._norms: list[list[float]] = []
        self._ratios: list[list[float]] = []
        self.verdicts: list[str] = []
        self.last: GradientFlowReport | None = None
        self._step = 0

    # The hooks chainrule.train.fit calls (each with the loop's state; a loop of your own may
    # call them with no argument when the model was given to the constructor).
    def on_after_backward(self, *args, **kwargs) -> None:
        self._step += 1
        if (self._step - 1) % self.every == 0:
            self.record(self._find_model(args, kwargs), step=self._step)

    def on_train_end(self, *args, **kwargs) -> None:
        if self.path is not None and self.steps:
            self.plot(self.path)

    def _find_model(self, args, kwargs):
        if self.model is not None:
            return self.model
        for value in list(args) + list(kwargs.values()):
            model = getattr(value, "model", None)
            if model is not None and hasattr(model, "named_parameters"):
                return model
            if hasattr(value, "named_parameters"):
                return value
        raise RuntimeError("GradientFlow could not find the model: pass GradientFlow(model=...)")

    def record(self, model, step: int | None = None) -> GradientFlowReport | None:
        """Record the current gradients of ``model`` (call after ``backward``); returns the
        report, or None when no parameter has a gradient yet."""
        try:
            report = gradient_flow(model, previous=self.last)
        except RuntimeError:
            return None
        if not self.layers:
            self.layers = [lay.name for lay in report.layers]
        by_name = {lay.name: lay for lay in report.layers}
        self._norms.append([by_name[n].grad_norm if n in by_name else np.nan
                            for n in self.layers])
        self._ratios.append([by_name[n].update_ratio if n in by_name else np.nan
                             for n in self.layers])
        self.steps.append(len(self.steps) + 1 if step is None else int(step))
        self.verdicts.append(report.verdict)
        self.last = report
        return report

    @property
    def grad_norms(self) -> np.ndarray:
        """Gradient norm per record (rows) and layer (columns)."""
        return np.array(self._norms, dtype=float).reshape(len(self._norms), len(self.layers))

    @property
    def update_ratios(self) -> np.ndarray:
        """‖Δw‖/‖w‖ since the previous record, per record and layer (nan on the first)."""
        return np.array(self._ratios, dtype=float).reshape(len(self._ratios), len(self.layers))

    def table(self) -> str:
        """First and last recorded gradient norm per layer, and the median update ratio."""
        norms, ratios = self.grad_norms, self.update_ratios
        rows = []
        for j, name in enumerate(self.layers):
            finite = ratios[:, j][np.isfinite(ratios[:, j])]
            rows.append([name, norms[0, j], norms[-1, j],
                         float(np.median(finite)) if finite.size else np.nan])
        return format_table(["layer", "first grad norm", "last grad norm", "median |dw|/|w|"],
                            rows)

    def plot(self, path: str | Path, title: str | None = None) -> Path:
        """Save the heat map of log10 gradient norm (layers top to bottom, steps left to
        right)."""
        if not self.steps:
            raise RuntimeError("GradientFlow has no record yet: train with it first")
        # Rows are the weight layers, counted from the input as a depth is ("weight layer 1"
        # ... "weight layer N"); normalization layers' scale and shift would only add rows.
        labels = weight_layer_labels(self.last.layers)
        rows = [j for j, name in enumerate(self.layers) if name in labels] or list(
            range(len(self.layers)))
        names = [labels.get(self.layers[j], self.layers[j]) for j in rows]
        return plot_heatmap(self.grad_norms[:, rows].T, path, names, self.steps,
                            title=title or "Gradient norm per layer over training",
                            ylabel="weight layer (input at top)")
