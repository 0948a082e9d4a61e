"""Pictures of what a network does: activations and their derivatives, losses against the error,
gradient flow per layer and over training; the figure helpers and the one ``plot_curves``
(panels of line plots) that the lab and the command line draw with.

Every function writes a PNG with a matplotlib ``Figure`` (no display needed; pyplot's global
state is not touched) and returns the path written.

Example:
    >>> from chainrule.diagnostics import plots
    >>> path = plots.plot_activations("activations.png")  # doctest: +SKIP
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

import chainrule as cr
from chainrule.nn.registry import ACTIVATIONS

__all__ = [
    "new_figure", "save_figure", "activation_functions", "plot_activations", "loss_functions",
    "plot_losses", "plot_gradient_flow", "plot_heatmap", "plot_curves", "curves_figure",
    "place_legend", "legend_covers_data", "integer_ticks", "SATURATION_TOL",
]

#: An output within this distance of a bound of sigmoid/tanh counts as saturated.
SATURATION_TOL = 1e-2


# ---------------------------------------------------------------------------- figures
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
    ``xticks``, ``vlines`` (pairs (x, label): dotted markers), ``integer_x`` (integer x ticks;
    default True when the x label starts with "epoch"). Legends go where they cover no data
    (``place_legend``).
    """
    fig = curves_figure(panels, ncols=ncols, title=title, size=size)
    return save_figure(fig, path, dpi=dpi)


def curves_figure(panels: Sequence[Mapping], ncols: int | None = None, title: str = "",
                  size: tuple[float, float] | None = None):
    """The Figure ``plot_curves`` saves (same arguments, no path)."""
    ncols = ncols or min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = new_figure(nrows, ncols, size=size or (4.3 * ncols, 3.3 * nrows), squeeze=False)
    legends = []
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
        elif panel.get("integer_x", panel.get("xlabel", "").lower().startswith("epoch")):
            integer_ticks(axis)
        for x_value, text in panel.get("vlines", ()):
            axis.axvline(x_value, color="0.4", linestyle=":", linewidth=1)
            axis.annotate(text, (x_value, 0.6), xycoords=("data", "axes fraction"),
                          fontsize=7, color="0.3", ha="right", va="center", rotation=90)
        axis.set_title(panel.get("title", ""), fontsize=10)
        axis.set_xlabel(panel.get("xlabel", ""))
        axis.set_ylabel(panel.get("ylabel", ""))
        if panel.get("legend", True) and panel["series"]:
            legends.append(axis)
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(panels):]:
        axis.set_visible(False)
    if title:
        fig.suptitle(title)
    for axis in legends:
        place_legend(axis, fontsize=7)
    for axis in legends:  # a legend moved outside shrinks its neighbours: check them again
        if legend_covers_data(axis, axis.get_legend()):
            place_legend(axis, fontsize=7)
    return fig


def integer_ticks(axis) -> None:
    """Major ticks of the x axis at integers only (epochs, steps, layers)."""
    from matplotlib.ticker import MaxNLocator

    axis.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))


def place_legend(axis, **kwargs):
    """A legend inside ``axis`` where it covers no plotted point or line (``loc="best"``
    first, then each corner), else outside the axes on the right; returns the legend.

    Inside is judged after one layout pass of the whole figure, on the data in display
    coordinates (``legend_covers_data``); a legend inside the axes does not move them, so the
    candidates are measured without laying the figure out again.
    """
    axis.get_figure().draw_without_rendering()
    for loc in ("best", "upper right", "upper left", "lower left", "lower right",
                "center right", "upper center", "lower center"):
        legend = axis.legend(loc=loc, **kwargs)
        if not legend_covers_data(axis, legend):
            if loc == "best":  # freeze where "best" put it, so a later layout does not move it
                legend.set_loc(_corner_of(axis, legend))
                if legend_covers_data(axis, legend):
                    continue
            return legend
    return axis.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                       **kwargs)


def _corner_of(axis, legend):
    """The legend's position as (x, y) of its lower-left corner in axes fraction."""
    box = legend.get_window_extent().transformed(axis.transAxes.inverted())
    return (float(box.x0), float(box.y0))


def legend_covers_data(axis, legend, pad: float = 2.0) -> bool:
    """Whether ``legend``'s box (display coordinates, ``pad`` pixels wider) contains a point
    of a line or scatter of ``axis``, or a line segment crosses it (sampled along the line)."""
    box = legend.get_window_extent()
    x0, y0, x1, y1 = box.x0 - pad, box.y0 - pad, box.x1 + pad, box.y1 + pad
    for points in _display_points(axis):
        inside = ((points[:, 0] >= x0) & (points[:, 0] <= x1)
                  & (points[:, 1] >= y0) & (points[:, 1] <= y1))
        if inside.any():
            return True
    return False


def _display_points(axis):
    """Every line (densified to ~1 pixel steps) and scatter of ``axis`` in display pixels."""
    for line in axis.get_lines():
        if not line.get_visible() or line.get_label().startswith("_"):
            continue
        xy = np.asarray(line.get_xydata(), dtype=float)
        with np.errstate(all="ignore"):
            xy = line.get_transform().transform(xy) if len(xy) else xy
        finite = np.isfinite(xy).all(axis=1)
        if not finite.any():
            continue
        pieces = [xy[finite][:1]]
        for start, end in zip(xy[:-1], xy[1:]):  # a gap (NaN) breaks the line
            if not (np.isfinite(start).all() and np.isfinite(end).all()):
                continue
            count = int(min(2000, max(2, np.hypot(*(end - start)))))
            if line.get_linestyle() in ("None", "none", "", " "):
                count = 2
            pieces.append(start + np.linspace(0, 1, count)[:, None] * (end - start))
        yield np.concatenate(pieces)
    for collection in axis.collections:
        offsets = np.asarray(collection.get_offsets(), dtype=float)
        if len(offsets):
            yield collection.get_offset_transform().transform(offsets)


# ---------------------------------------------------------------------------- activations
def activation_functions() -> dict[str, Callable]:
    """Title → function on a Tensor for every activation of ``nn.registry.ACTIVATIONS`` (PReLU
    with its initial slope 0.25, RReLU in eval mode, i.e. its mean slope); LeakyReLU is drawn
    with slope 0.1, because its default 0.01 would not show."""
    shown = {}
    for entry in ACTIVATIONS.values():
        if entry.name == "leaky_relu":
            shown["LeakyReLU(0.1)"] = partial(entry.functional, negative_slope=0.1)
        else:
            shown[entry.title] = entry.function
    return shown


def _value_and_derivative(fn: Callable, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """f(x) and f'(x) for elementwise f, the derivative by chainrule's autograd."""
    t = cr.tensor(x, dtype=cr.float64, requires_grad=True)
    y = fn(t)
    (dy,) = cr.grad(y.sum(), t)
    return y.detach().data.copy(), dy.data.copy()


def _saturated_ranges(name: str, x: np.ndarray, y: np.ndarray):
    bounds = {"Sigmoid": (0.0, 1.0), "Tanh": (-1.0, 1.0)}.get(name)
    if bounds is None:
        return []
    low, high = bounds
    saturated = (y < low + SATURATION_TOL) | (y > high - SATURATION_TOL)
    return [(x[saturated & (x < 0)].max(initial=-np.inf), x[saturated & (x > 0)].min(
        initial=np.inf))]


def plot_activations(path: str | Path, names: Sequence[str] | None = None,
                     x_range: tuple[float, float] = (-6.0, 6.0)) -> Path:
    """Each activation (solid) and its derivative (dashed, by autograd) on one panel each;
    the saturated regions of sigmoid and tanh (output within 1e-2 of a bound) are shaded.

    Args:
        path: the PNG to write.
        names: which of ``activation_functions()`` to draw (default: all).
        x_range: the input interval.
    """
    functions = activation_functions()
    names = list(names or functions)
    unknown = [n for n in names if n not in functions]
    if unknown:
        raise ValueError(f"unknown activation(s) {unknown}; choose from {list(functions)}")
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig, axes = new_figure(rows, cols, size=(3.4 * cols, 2.9 * rows), squeeze=False)
    x = np.linspace(*x_range, 601)
    for axis, name in zip(axes.flat, names):
        y, dy = _value_and_derivative(functions[name], x)
        axis.axhline(0, color="0.8", linewidth=0.8)
        axis.axvline(0, color="0.8", linewidth=0.8)
        axis.plot(x, y, color="C0", label="f(x)")
        axis.plot(x, dy, color="C3", linestyle="--", label="f'(x)")
        for left, right in _saturated_ranges(name, x, y):
            axis.axvspan(x_range[0], left, color="C1", alpha=0.15, label="saturated")
            axis.axvspan(right, x_range[1], color="C1", alpha=0.15)
        axis.set_title(name)
        axis.set_xlabel("input x")
        axis.set_xlim(*x_range)
        axis.legend(loc="upper left", fontsize=7)
    for axis in list(axes.flat)[len(names):]:
        axis.set_visible(False)
    fig.suptitle("Activations f (solid) and their derivatives f' (dashed)")
    return save_figure(fig, path)


# ---------------------------------------------------------------------------- losses
def loss_functions() -> dict[str, Callable]:
    """Name → loss(error) for a target of 1 (regression: prediction 1 - e; classification:
    probability 1 - e of the right class, e in [0, 1))."""
    def huber(e):
        a = e.abs()
        return cr.where(a < 1.0, e * e * 0.5, a - 0.5)

    return {
        "MSE (e²)": lambda e: e * e,
        "MAE (|e|)": lambda e: e.abs(),
        "Huber (δ=1)": huber,
        "cross-entropy (-log(1-e))": lambda e: -(1.0 - e).log(),
    }


def plot_losses(path: str | Path, max_error: float = 0.99) -> Path:
    """Three panels against the error e (target 1, prediction 1 - e): the loss, |d loss /
    d prediction| for MSE, MAE, Huber and cross-entropy, and |d loss / d logit| for MSE and
    cross-entropy on a sigmoid output (log scales). Through a sigmoid, MSE's gradient vanishes
    when the prediction is confidently wrong (e → 1); cross-entropy's does not."""
    fig, (left, middle, right) = new_figure(1, 3, size=(13.0, 3.7))
    error = np.linspace(0.0, max_error, 400)
    for name, fn in loss_functions().items():
        loss, slope = _value_and_derivative(fn, error)
        left.plot(error, loss, label=name)
        middle.plot(error[1:], np.abs(slope[1:]), label=name)
    # Through the logit z of a sigmoid output p = σ(z):
    # d(σ(z) - 1)²/dz = 2(σ - 1)·σ(1 - σ) → 0 as σ → 0, while d(-log σ(z))/dz = σ - 1.
    p = 1.0 - error
    logit = np.log(np.clip(p, 1e-12, None) / np.clip(1 - p, 1e-12, None))
    z = cr.tensor(logit, dtype=cr.float64, requires_grad=True)
    (dz_mse,) = cr.grad(((cr.sigmoid(z) - 1.0) ** 2).sum(), z)
    (dz_ce,) = cr.grad((-cr.sigmoid(z).log()).sum(), z)
    right.plot(error[1:], np.abs(dz_mse.data[1:]), label="MSE on σ(z)")
    right.plot(error[1:], np.abs(dz_ce.data[1:]), label="cross-entropy on σ(z)")
    left.set(title="Loss against the error", xlabel="error e (target 1, prediction 1 - e)",
             ylabel="loss", ylim=(0, 3))
    middle.set(title="Gradient w.r.t. the prediction", xlabel="error e",
               ylabel="|d loss / d prediction| (log scale)", yscale="log")
    right.set(title="Gradient w.r.t. the logit of a sigmoid", xlabel="error e = 1 - σ(z)",
              ylabel="|d loss / d z| (log scale)", yscale="log")
    for axis in (left, middle, right):
        axis.legend(fontsize=7)
        axis.grid(alpha=0.3)
    return save_figure(fig, path)


# ---------------------------------------------------------------------------- gradient flow
def plot_gradient_flow(report, path: str | Path) -> Path:
    """Bars of each layer's gradient norm and mean |grad| (log scale) from a
    ``GradientFlowReport``; the verdict is in the title."""
    names = [lay.name for lay in report.layers]
    norms = np.array([lay.grad_norm for lay in report.layers], dtype=float)
    means = np.array([lay.grad_mean_abs for lay in report.layers], dtype=float)
    fig, axis = new_figure(size=(max(5.0, 0.45 * len(names) + 2.5), 3.8))
    positions = np.arange(len(names))
    floor = _log_floor(np.concatenate([norms, means]))
    axis.bar(positions - 0.2, np.maximum(norms, floor), width=0.4, label="gradient norm ‖g‖")
    axis.bar(positions + 0.2, np.maximum(means, floor), width=0.4, label="mean |g|")
    axis.set_yscale("log")
    axis.set_xticks(positions, names, rotation=60 if len(names) > 6 else 0, ha="right"
                    if len(names) > 6 else "center", fontsize=8)
    axis.set_xlabel("layer (input → output)")
    axis.set_ylabel("gradient (log scale)")
    axis.set_title(f"Gradient flow: {report.verdict}")
    axis.legend(fontsize=8)
    return save_figure(fig, path)


def _log_floor(values: np.ndarray) -> float:
    positive = values[np.isfinite(values) & (values > 0)]
    return float(positive.min() / 10) if positive.size else 1e-30


def plot_heatmap(matrix: np.ndarray, path: str | Path, row_labels: Sequence[str],
                 col_values: Sequence[float], title: str, xlabel: str = "step",
                 colorbar_label: str = "log10 gradient norm", log: bool = True,
                 ylabel: str = "layer (input at top)") -> Path:
    """A (rows × columns) heat map, e.g. layer × step of gradient norms, log10 colour scale;
    at most ~16 row labels are written, always the first and the last."""
    matrix = np.asarray(matrix, dtype=float)
    values = matrix
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.log10(np.where(matrix > 0, matrix, np.nan))
    fig, axis = new_figure(size=(7.5, min(6.0, max(2.6, 0.25 * len(row_labels) + 1.6))))
    cols = np.asarray(col_values, dtype=float)
    image = axis.imshow(values, aspect="auto", interpolation="nearest", cmap="viridis",
                        extent=(cols[0] - 0.5, cols[-1] + 0.5, len(row_labels) - 0.5, -0.5)
                        if len(cols) else None)
    every = max(1, -(-len(row_labels) // 16))  # at most ~16 labels, so they never overlap
    shown = list(range(0, len(row_labels), every))
    if shown and shown[-1] != len(row_labels) - 1:  # the last row (the output side) is named
        shown[-1:] = [len(row_labels) - 1] if len(row_labels) - 1 - shown[-1] < every else [
            shown[-1], len(row_labels) - 1]
    axis.set_yticks(shown, [row_labels[i] for i in shown], fontsize=8)
    if len(cols) and np.all(cols == np.round(cols)):
        integer_ticks(axis)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    fig.colorbar(image, ax=axis, label=colorbar_label)
    return save_figure(fig, path)
