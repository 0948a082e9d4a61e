"""``activation_stats``: what each activation layer outputs on a batch — its mean and spread,
how much of it sits at the flat ends of sigmoid/tanh (saturated), how many ReLU units never fire
(dead) — collected with forward hooks, with one picture of every layer's histogram.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chainrule.autograd import no_grad
from chainrule.creation import tensor
from chainrule.diagnostics._format import format_table, plot_png, report_html
from chainrule.diagnostics.plots import SATURATION_TOL, new_figure, save_figure
from chainrule.tensor import Tensor

__all__ = ["activation_stats", "ActivationReport", "ActivationStats", "SATURATING",
           "RELU_FAMILY"]

#: Activation classes (by class name) with bounded outputs, and their bounds.
SATURATING = {"Sigmoid": (0.0, 1.0), "Tanh": (-1.0, 1.0), "Hardtanh": (-1.0, 1.0),
              "Hardsigmoid": (0.0, 1.0), "Softsign": (-1.0, 1.0)}
#: Activation classes (by class name) that are the identity for positive inputs and flat or
#: nearly flat for negative ones: a unit whose input is <= 0 for every sample is "dead".
RELU_FAMILY = {"ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU", "ELU", "SELU", "CELU", "GELU",
               "SiLU", "Softplus", "Mish"}
_OTHER = {"Softmax", "LogSoftmax", "LogSigmoid", "Tanhshrink", "Softshrink", "Hardshrink",
          "Hardswish"}


@dataclass
class ActivationStats:
    """Statistics of one activation layer's output on one batch.

    ``frac_saturated`` is the fraction of output values within 1e-2 of the layer's bounds
    (nan for unbounded activations); ``frac_dead`` the fraction of units (output positions
    per sample) whose input was <= 0 for every sample of the batch (nan outside the ReLU
    family). For ReLU that is exactly "outputs zero for every sample".
    """

    name: str
    kind: str
    shape: tuple
    mean: float
    std: float
    frac_saturated: float
    frac_dead: float
    values: np.ndarray = field(repr=False)


@dataclass
class ActivationReport:
    """What ``activation_stats`` returns: one ``ActivationStats`` per activation layer."""

    layers: list[ActivationStats]

    def _rows(self) -> tuple[list[str], list[list]]:
        rows = [[s.name, s.kind, s.mean, s.std, s.frac_saturated, s.frac_dead]
                for s in self.layers]
        return ["layer", "type", "mean", "std", "saturated", "dead"], rows

    def table(self) -> str:
        """The statistics as a text table."""
        return format_table(*self._rows())

    def __str__(self) -> str:
        return self.table()

    def _repr_png_(self) -> bytes | None:
        return plot_png(self.plot)

    def _repr_html_(self) -> str:
        return report_html(*self._rows(), png=self._repr_png_(), alt="activation histograms")

    def __getitem__(self, name: str) -> ActivationStats:
        for stats in self.layers:
            if stats.name == name:
                return stats
        raise KeyError(f"no activation layer named {name!r}; have {[s.name for s in self.layers]}")

    def plot(self, path: str | Path, bins: int = 50, title: str | None = None) -> Path:
        """Save one histogram per layer (all in one picture), first layer first."""
        count = len(self.layers)
        cols = min(4, count)
        rows = -(-count // cols)
        fig, axes = new_figure(rows, cols, size=(3.3 * cols, 2.6 * rows), squeeze=False)
        for axis, stats in zip(axes.flat, self.layers):
            values = stats.values[np.isfinite(stats.values)]
            axis.hist(values, bins=bins, color="C0")
            bounds = SATURATING.get(stats.kind)
            if bounds is not None:
                axis.set_xlim(bounds[0] - 0.05, bounds[1] + 0.05)
            note = (f", saturated {stats.frac_saturated:.0%}" if bounds is not None
                    else f", dead {stats.frac_dead:.0%}" if stats.kind in RELU_FAMILY else "")
            axis.set_title(f"{stats.name}: {stats.kind}\nmean {_two(stats.mean)}, std "
                           f"{_two(stats.std)}{note}", fontsize=8)
            axis.set_xlabel("activation value")
            axis.set_ylabel("count")
        for axis in list(axes.flat)[count:]:
            axis.set_visible(False)
        fig.suptitle(title or "Activation histograms per layer")
        return save_figure(fig, path)


def _two(value: float) -> str:
    return f"{0.0 if abs(value) < 0.005 else value:.2f}"


def _is_activation(module) -> bool:
    name = type(module).__name__
    return name in SATURATING or name in RELU_FAMILY or name in _OTHER


def activation_stats(model, batch, layers: tuple[type, ...] | None = None,
                     max_values: int = 100_000) -> ActivationReport:
    """Mean, std, saturated and dead fractions of every activation layer's output on ``batch``.

    Runs ``model(inputs)`` once under ``no_grad`` with a forward hook on each activation module
    (Sigmoid, Tanh, the ReLU family, ... recognised by class name, or the ``layers`` types you
    give); the model's train/eval mode is left as it is.

    Args:
        model: a ``Module`` that uses activation modules (not only functional calls).
        batch: the inputs, or an ``(inputs, targets)`` pair as a DataLoader yields.
        layers: module classes to watch instead of the built-in activation list.
        max_values: values kept per layer for the histogram (a random subset beyond that).

    Returns:
        ``ActivationReport`` with ``layers``, ``table()``, ``plot(path)`` and lookup by name.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2), nn.Sigmoid())
        >>> report = activation_stats(model, cr.randn(32, 3))
        >>> [s.kind for s in report.layers]
        ['ReLU', 'Sigmoid']
    """
    inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
    if not isinstance(inputs, Tensor):
        inputs = tensor(np.asarray(inputs))
    watched = [(name or type(m).__name__, m) for name, m in model.named_modules()
               if (isinstance(m, layers) if layers else _is_activation(m))]
    if not watched:
        raise ValueError(
            f"activation_stats found no activation module in {type(model).__name__}: it watches "
            "modules such as nn.ReLU, nn.Sigmoid and nn.Tanh. If your forward calls functional "
            "activations (F.relu), use the module versions, or pass layers=(YourClass,)."
        )
    collected: dict[str, ActivationStats] = {}
    handles = []
    for name, module in watched:
        def hook(module, args, output, name=name):
            if name not in collected:  # a module called twice: keep its first call
                collected[name] = _stats(name, type(module).__name__, args, output, max_values)
        handles.append(module.register_forward_hook(hook))
    try:
        with no_grad():
            model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return ActivationReport([collected[name] for name, _ in watched if name in collected])


def _stats(name: str, kind: str, args, output, max_values: int) -> ActivationStats:
    out = np.asarray(output.data, dtype=np.float64)
    bounds = SATURATING.get(kind)
    saturated = np.nan
    if bounds is not None:
        saturated = float(np.mean((out <= bounds[0] + SATURATION_TOL)
                                  | (out >= bounds[1] - SATURATION_TOL)))
    dead = np.nan
    if kind in RELU_FAMILY and args and hasattr(args[0], "data") and out.ndim >= 1:
        pre = np.asarray(args[0].data)
        dead = float(np.mean(np.all(pre <= 0, axis=0))) if pre.shape[0] > 0 else np.nan
    values = out.reshape(-1)
    if values.size > max_values:
        values = np.random.default_rng(0).choice(values, max_values, replace=False)
    return ActivationStats(name, kind, tuple(out.shape), float(out.mean()), float(out.std()),
                           saturated, dead, values.astype(np.float32))
