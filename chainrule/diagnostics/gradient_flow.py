"""``gradient_flow``: how large the gradients are in each layer after a backward, and a verdict.

The verdict rule (``RULE``), applied to the layers that hold a weight matrix or kernel (every
layer with parameters when none does), in the order of ``model.named_parameters()``:

* **exploding** when any gradient is NaN or infinite, when any layer's gradient norm exceeds
  ``explode_threshold`` (1e3), or when the first layer's gradient norm is more than
  ``1 / vanish_ratio`` (1e3) times the last layer's (the gradient grows on its way back);
* **vanishing** when the first layer's gradient norm is less than ``vanish_ratio`` (1e-3) times
  the last layer's (the gradient shrinks on its way back to the input);
* **healthy** otherwise.

The update-to-weight ratio estimates how much one step changes each weight, relative to its size
(a rule of thumb: about 1e-3 is healthy; much smaller learns slowly, much larger is unstable):

* given ``lr``: the plain-SGD estimate ``lr · ‖grad‖ / ‖w‖``;
* given ``previous`` (the report of an earlier call): the measured ``‖w - w_previous‖ /
  ‖w_previous‖``, whatever optimizer made the change (call once before ``optimizer.step()``
  and once after, or once per step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chainrule.diagnostics._format import format_table, plot_png, report_html
from chainrule.diagnostics.plots import plot_gradient_flow

__all__ = ["gradient_flow", "GradientFlowReport", "ParameterFlow", "LayerFlow", "RULE",
           "weight_layer_labels"]

RULE = ("exploding: a non-finite gradient, a layer gradient norm > {explode:g}, or first/last "
        "layer gradient-norm ratio > {inverse:g}; vanishing: first/last ratio < {vanish:g}; "
        "healthy otherwise")


@dataclass
class ParameterFlow:
    """Gradient statistics of one parameter (norms are Frobenius norms)."""

    name: str
    layer: str
    shape: tuple
    grad_norm: float
    grad_mean_abs: float
    weight_norm: float
    update_ratio: float


@dataclass
class LayerFlow:
    """Gradient statistics of one layer: all the parameters of one module together."""

    name: str
    num_parameters: int
    grad_norm: float
    grad_mean_abs: float
    weight_norm: float
    update_ratio: float
    has_matrix: bool = False


@dataclass
class GradientFlowReport:
    """What ``gradient_flow`` returns: per-parameter and per-layer rows, and a verdict.

    Attributes:
        parameters, layers: the rows (``ParameterFlow``, ``LayerFlow``), in model order.
        verdict: ``'healthy'``, ``'vanishing'`` or ``'exploding'``.
        reason: one sentence with the numbers behind the verdict.
        first_last_ratio: the first judged layer's gradient norm over the last's.
        ratio_source: ``'lr'``, ``'measured'`` or None (no update ratio; the column is nan).
        rule: the rule used, in words.
    """

    parameters: list[ParameterFlow]
    layers: list[LayerFlow]
    verdict: str
    reason: str
    first_last_ratio: float
    ratio_source: str | None
    rule: str
    weights: dict = field(default_factory=dict, repr=False)

    def table(self, per_parameter: bool = False) -> str:
        """The rows as a text table, with the verdict under it."""
        return format_table(*self._rows(per_parameter)) + f"\nverdict: {self.verdict_line}"

    @property
    def verdict_line(self) -> str:
        """The verdict and its reason, in one line."""
        return f"{self.verdict} ({self.reason})"

    def _repr_png_(self) -> bytes | None:
        return plot_png(self.plot)

    def _repr_html_(self) -> str:
        return report_html(*self._rows(), footer=f"verdict: {self.verdict_line}",
                           png=self._repr_png_(), alt="gradient flow")

    def _rows(self, per_parameter: bool = False) -> tuple[list[str], list[list]]:
        ratio_header = {"lr": "lr*|g|/|w|", "measured": "|dw|/|w|"}.get(self.ratio_source,
                                                                        "update ratio")
        if per_parameter:
            headers = ["parameter", "shape", "grad norm", "mean |grad|", "weight norm",
                       ratio_header]
            rows = [[p.name, "x".join(map(str, p.shape)) or "scalar", p.grad_norm,
                     p.grad_mean_abs, p.weight_norm, p.update_ratio] for p in self.parameters]
        else:
            headers = ["layer", "params", "grad norm", "mean |grad|", "weight norm", ratio_header]
            rows = [[lay.name, lay.num_parameters, lay.grad_norm, lay.grad_mean_abs,
                     lay.weight_norm, lay.update_ratio] for lay in self.layers]
        return headers, rows

    def __str__(self) -> str:
        return self.table()

    def plot(self, path: str | Path) -> Path:
        """Save a bar chart of each layer's gradient norm and mean |grad| (log scale)."""
        return plot_gradient_flow(self, path)


def weight_layer_labels(layers: list[LayerFlow]) -> dict[str, str]:
    """Layer name → ``"weight layer k"`` for the layers that hold a weight matrix or kernel,
    counted from the input (k = 1), as a depth is counted; other layers (BatchNorm, biases
    alone) get no label. ``'0'``, ``'2'``, ``'5.fc1'`` of a Sequential become weight layers
    1, 2, 3.

    Example:
        >>> weight_layer_labels([LayerFlow("0", 6, 1.0, 0.1, 1.0, 0.0, True),
        ...                      LayerFlow("1", 2, 1.0, 0.1, 1.0, 0.0, False),
        ...                      LayerFlow("2", 6, 1.0, 0.1, 1.0, 0.0, True)])
        {'0': 'weight layer 1', '2': 'weight layer 2'}
    """
    weighted = [lay.name for lay in layers if lay.has_matrix]
    return {name: f"weight layer {k}" for k, name in enumerate(weighted, start=1)}


def _layer_of(name: str) -> str:
    layer = name.rpartition(".")[0]
    return layer if layer else "(model)"


def _norm(array: np.ndarray) -> float:
    return float(np.sqrt(np.sum(np.square(array, dtype=np.float64))))


def gradient_flow(model, lr: float | None = None, previous: GradientFlowReport | None = None,
                  vanish_ratio: float = 1e-3, explode_threshold: float = 1e3
                  ) -> GradientFlowReport:
    """Gradient norms per parameter and per layer after ``backward()``, with a verdict.

    For a layer with parameters p: grad norm = sqrt(Σ_p ‖∂L/∂p‖²), mean |grad| = Σ|∂L/∂p| / n,
    weight norm = sqrt(Σ_p ‖p‖²). The verdict rule is in this module's docstring (``RULE``).

    Args:
        model: a ``Module`` whose parameters hold ``.grad`` (call ``loss.backward()`` first).
            Parameters without a gradient (frozen or unused) are left out.
        lr: learning rate for the update-ratio estimate ``lr·‖grad‖/‖w‖``.
        previous: an earlier report of the same model; the update ratio is then measured as
            ``‖w - w_previous‖ / ‖w_previous‖`` (takes precedence over ``lr``).
        vanish_ratio: first/last gradient-norm ratio below which the flow is "vanishing".
        explode_threshold: gradient norm above which the flow is "exploding".

    Returns:
        A ``GradientFlowReport`` with ``table()``, ``plot(path)``, ``verdict`` and ``reason``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
        >>> model(cr.randn(16, 4)).pow(2).mean().backward()
        >>> gradient_flow(model, lr=0.1).verdict
        'healthy'
    """
    if not 0 < vanish_ratio < 1:
        raise ValueError(f"vanish_ratio must be in (0, 1), got {vanish_ratio}")
    rows: list[ParameterFlow] = []
    weights: dict = {}
    layer_order: list[str] = []
    for name, param in model.named_parameters():
        if param.grad is None:
            continue
        grad = np.asarray(param.grad.data)
        weight = np.asarray(param.data)
        weights[name] = weight.copy()
        layer = _layer_of(name)
        if layer not in layer_order:
            layer_order.append(layer)
        grad_norm, weight_norm = _norm(grad), _norm(weight)
        ratio = _update_ratio(name, weight, weight_norm, grad_norm, lr, previous)
        rows.append(ParameterFlow(name, layer, tuple(weight.shape), grad_norm,
                                  float(np.mean(np.abs(grad), dtype=np.float64)) if grad.size
                                  else 0.0, weight_norm, ratio))
    if not rows:
        raise RuntimeError(
            "gradient_flow found no parameter with a gradient: call loss.backward() before "
            "gradient_flow(model) (and make sure the parameters have requires_grad=True)"
        )
    ratio_source = "measured" if previous is not None else ("lr" if lr is not None else None)
    layers = [_layer_row(layer, [r for r in rows if r.layer == layer], previous, lr)
              for layer in layer_order]
    verdict, reason, first_last = _verdict(layers, vanish_ratio, explode_threshold)
    rule = RULE.format(explode=explode_threshold, inverse=1 / vanish_ratio, vanish=vanish_ratio)
    return GradientFlowReport(rows, layers, verdict, reason, first_last, ratio_source, rule,
                              weights)


def _update_ratio(name, weight, weight_norm, grad_norm, lr, previous) -> float:
    if previous is not None:
        before = previous.weights.get(name)
        if before is None or before.shape != weight.shape:
            return math.nan
        before_norm = _norm(before)
        return _norm(weight - before) / before_norm if before_norm > 0 else math.nan
    if lr is not None:
        return lr * grad_norm / weight_norm if weight_norm > 0 else math.nan
    return math.nan


def _layer_row(layer: str, rows: list[ParameterFlow], previous, lr) -> LayerFlow:
    count = sum(int(np.prod(r.shape)) for r in rows)
    grad_norm = math.sqrt(sum(r.grad_norm ** 2 for r in rows))
    weight_norm = math.sqrt(sum(r.weight_norm ** 2 for r in rows))
    mean_abs = (sum(r.grad_mean_abs * int(np.prod(r.shape)) for r in rows) / count
                if count else 0.0)
    if previous is not None:
        # ‖Δw‖ of the layer from the per-parameter ratios: ‖Δw_p‖ = ratio_p · ‖w_p(before)‖.
        moved, before = 0.0, 0.0
        for r in rows:
            old = previous.weights.get(r.name)
            if old is None or old.shape != r.shape:
                continue
            old_norm = _norm(old)
            before += old_norm ** 2
            moved += (r.update_ratio * old_norm) ** 2 if old_norm > 0 else 0.0
        ratio = math.sqrt(moved) / math.sqrt(before) if before > 0 else math.nan
    elif lr is not None:
        ratio = lr * grad_norm / weight_norm if weight_norm > 0 else math.nan
    else:
        ratio = math.nan
    has_matrix = any(len(r.shape) >= 2 for r in rows)
    return LayerFlow(layer, count, grad_norm, mean_abs, weight_norm, ratio, has_matrix)


def _verdict(layers: list[LayerFlow], vanish_ratio: float, explode_threshold: float):
    judged = [lay for lay in layers if lay.has_matrix] or layers
    for lay in layers:
        if not math.isfinite(lay.grad_norm):
            return "exploding", f"layer '{lay.name}' has a non-finite gradient", math.nan
    biggest = max(layers, key=lambda lay: lay.grad_norm)
    first, last = judged[0], judged[-1]
    ratio = first.grad_norm / last.grad_norm if last.grad_norm > 0 else (
        math.inf if first.grad_norm > 0 else math.nan)
    span = f"first/last layer gradient-norm ratio {ratio:.3g} ('{first.name}' / '{last.name}')"
    if biggest.grad_norm > explode_threshold:
        return ("exploding", f"layer '{biggest.name}' has gradient norm {biggest.grad_norm:.3g} "
                f"> {explode_threshold:g}", ratio)
    if len(judged) > 1 and ratio > 1 / vanish_ratio:
        return "exploding", f"{span} > {1 / vanish_ratio:g}", ratio
    if len(judged) > 1 and (ratio < vanish_ratio or math.isnan(ratio)):
        return "vanishing", f"{span} < {vanish_ratio:g}", ratio
    return "healthy", f"{span}, largest gradient norm {biggest.grad_norm:.3g}", ratio
