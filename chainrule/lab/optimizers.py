"""Lab 6 — optimizers: SGD, Momentum, AdaGrad, RMSProp, Adam, Newton, BFGS and L-BFGS on two 2-D
test functions (their paths drawn on the contour plot), then small networks trained full batch
by Adam, L-BFGS, Newton (fixed damping, trust region, saddle-free) and Gauss–Newton: iterations
and wall time to a loss target, and the convergence near a minimum (``_second_order``).

Each optimizer is chainrule's own (``chainrule.optim``); a "step" is one ``optimizer.step()``,
for BFGS and L-BFGS one iteration with its strong-Wolfe line search (``max_iter=1``). Learning
rates were chosen once per function so that each first-order method is stable; they are in the
table.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable

import numpy as np

import chainrule as cr
from chainrule.diagnostics import plots
from chainrule.lab import _second_order
from chainrule.lab._common import Result, Table
from chainrule.optim.registry import OPTIMIZERS

TITLE = "SGD to Newton on 2-D test functions and a small network"
#: the optimizers compared, by their names in ``chainrule.optim.registry``
NAMES = ("sgd", "momentum", "adagrad", "rmsprop", "adam", "newton", "bfgs", "lbfgs")
SECOND_ORDER = tuple(name for name in NAMES if OPTIMIZERS[name].closure)
FIRST_ORDER = tuple(name for name in NAMES if not OPTIMIZERS[name].closure)
# one iteration per step (its line search may use up to 25 evaluations); Newton on the network
OPTIONS = {"newton": {"damping": 0.0}, "bfgs": {"max_iter": 1, "max_eval": 25},
           "lbfgs": {"max_iter": 1, "max_eval": 25}}
_ANGLE = math.radians(30)
_ROTATION = np.array([[math.cos(_ANGLE), -math.sin(_ANGLE)], [math.sin(_ANGLE), math.cos(_ANGLE)]])
QUADRATIC_MATRIX = _ROTATION @ np.diag([1.0, 50.0]) @ _ROTATION.T


def quadratic(w):
    """½ wᵀAw with A's eigenvalues 1 and 50 (condition number 50), axes rotated by 30°."""
    return 0.5 * (w @ (cr.tensor(QUADRATIC_MATRIX, dtype=w.dtype) @ w))


def rosenbrock(w):
    """(1 - x)² + 100 (y - x²)²: a curved valley, minimum 0 at (1, 1)."""
    return (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2


def make_optimizer(name: str, params, settings: dict):
    """The optimizer ``name`` (one of ``NAMES``) with this function's learning rate from
    ``settings`` (the second-order methods keep their own)."""
    if name not in NAMES:
        raise ValueError(f"unknown optimizer {name!r}; choose from {NAMES}")
    return OPTIMIZERS[name].build(params, settings.get(name), **OPTIONS.get(name, {}))


def _label(name: str) -> str:
    return OPTIMIZERS[name].label


FUNCTIONS = {
    "ill-conditioned quadratic": dict(
        fn=quadratic, start=(-4.0, 2.0), minimum=(0.0, 0.0), box=((-4.6, 1.6), (-4.0, 2.6)),
        lr={"sgd": 0.035, "momentum": 0.01, "adagrad": 1.0, "rmsprop": 0.05, "adam": 0.2}),
    "Rosenbrock": dict(
        fn=rosenbrock, start=(-1.2, 1.0), minimum=(1.0, 1.0), box=((-1.6, 1.5), (-0.7, 1.8)),
        lr={"sgd": 1.5e-3, "momentum": 3e-4, "adagrad": 0.5, "rmsprop": 0.01, "adam": 0.05}),
}


def trajectory(fn: Callable, start, name: str, settings: dict, steps: int):
    """(points (steps+1, 2), losses, seconds) of ``name`` minimizing ``fn`` from ``start``."""
    w = cr.tensor(start, dtype=cr.float64, requires_grad=True)
    optimizer = make_optimizer(name, [w], settings)

    def closure():
        optimizer.zero_grad()
        loss = fn(w)
        loss.backward()
        return loss

    points, losses = [w.data.copy()], [float(fn(w).data)]
    started = time.perf_counter()
    for _ in range(steps):
        if losses[-1] < 1e-30:  # converged to rounding: nothing left to draw
            points.append(points[-1])
            losses.append(losses[-1])
            continue
        optimizer.step(closure)
        points.append(w.data.copy())
        with cr.no_grad():
            losses.append(float(fn(w).data))
    return np.array(points), np.array(losses), time.perf_counter() - started


def _contour_figure(fname: str, paths: dict, losses: dict, path: Path) -> Path:
    """One panel per optimizer: its path on the contour plot of ``fname``."""
    spec = FUNCTIONS[fname]
    (x0, x1), (y0, y1) = spec["box"]
    gx, gy = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
    grid = cr.tensor(np.stack([gx.ravel(), gy.ravel()]), dtype=cr.float64)
    with cr.no_grad():
        values = (rosenbrock(grid).data if fname == "Rosenbrock" else
                  0.5 * np.einsum("in,ij,jn->n", grid.data, QUADRATIC_MATRIX, grid.data))
    levels = np.logspace(-2, math.log10(values.max()), 16)
    fig, axes = plots.new_figure(2, 4, size=(14.0, 7.0))
    for k, (axis, name) in enumerate(zip(axes.flat, NAMES)):
        axis.contour(gx, gy, values.reshape(gx.shape), levels=levels, colors="0.78",
                     linewidths=0.6)
        points = paths[name]
        axis.plot(points[:, 0], points[:, 1], "-", color=f"C{k}", linewidth=1.3,
                  marker="." if name in SECOND_ORDER else None, markersize=5)
        axis.plot(*spec["start"], "ko", markersize=5)
        axis.plot(*spec["minimum"], "k*", markersize=11)
        reach = next((step for step, v in enumerate(losses[name]) if v < 1e-6), None)
        lr = spec["lr"].get(name)
        outcome = (f"loss < 1e-6 after {reach} steps" if reach is not None else
                   f"loss {losses[name][-1]:.1e} after {len(losses[name]) - 1} steps")
        axis.set_title(f"{_label(name)}{f' (lr {lr:g})' if lr else ''}\n{outcome}", fontsize=9)
        axis.set(xlim=(x0, x1), ylim=(y0, y1))
        axis.set_xlabel("x", fontsize=8)
        axis.set_ylabel("y", fontsize=8)
        axis.tick_params(labelsize=7)
    fig.suptitle(f"{fname}: paths from the start ● to the minimum ★ (second-order methods: "
                 "one dot per step)")
    return plots.save_figure(fig, path)


def _reached(numbers: dict) -> str:
    names = [_label(n) for n in FIRST_ORDER if numbers[f"rosenbrock_steps_to_1e-6_{n}"] is not None]
    if not names:
        return "none of the first-order methods gets there"
    return "of the first-order methods only " + " and ".join(names) + (
        " gets there" if len(names) == 1 else " get there")


QUAD = "ill-conditioned quadratic"


def _count(steps: int | None, budget: int) -> str:
    return str(steps) if steps is not None else f"more than {budget}"


def _slug(fname: str) -> str:
    return "quadratic" if fname.startswith("ill") else "rosenbrock"


def run(out: Path, smoke: bool = False, seed: int = 0) -> Result:
    """Trajectories on the 2-D functions, then loss vs steps and wall time on a network."""
    steps = {"ill-conditioned quadratic": 60 if smoke else 300,
             "Rosenbrock": 200 if smoke else 2000}
    paths, rows, numbers = {}, [], {}
    losses_by_function = {}
    for fname, spec in FUNCTIONS.items():
        paths[fname], losses_by_function[fname] = {}, {}
        for name in NAMES:
            points, losses, seconds = trajectory(spec["fn"], spec["start"], name, spec["lr"],
                                                 steps[fname])
            paths[fname][name] = points
            losses_by_function[fname][name] = losses
            reach = next((k for k, v in enumerate(losses) if v < 1e-6), None)
            at10 = losses[min(10, len(losses) - 1)]
            rows.append([fname, _label(name), spec["lr"].get(name, "-"), at10, losses[-1],
                         reach if reach is not None else f"> {steps[fname]}", seconds])
            key = _slug(fname)
            numbers[f"{key}_loss_after_10_{name}"] = at10
            numbers[f"{key}_steps_to_1e-6_{name}"] = reach
    table = Table("Minimizing 2-D test functions (a step of BFGS/L-BFGS includes its line "
                  "search)", ["function", "optimizer", "lr", "loss after 10 steps",
                               "final loss", "steps to loss < 1e-6", "wall time (s)"], rows)
    figures = [_contour_figure(f, paths[f], losses_by_function[f],
                               out / f"trajectories_{_slug(f)}.png") for f in FUNCTIONS]
    figures.append(plots.plot_curves(out / "loss_per_step_2d.png", [
        dict(series={_label(n): (np.arange(len(v)), np.maximum(v, 1e-30)) for n, v in
                     losses_by_function[f].items()},
             title=f"{f}: loss per step (values < 1e-30 drawn at 1e-30)",
             xlabel="step (0 = start; log scale beyond 2)", ylabel="f(x, y) (log scale)",
             logy=True, xscale="symlog")
        for f in FUNCTIONS], ncols=2, size=(11.0, 4.0)))

    network_tables, network_figures, network_numbers, network_text = \
        _second_order.network_section(out, smoke, seed)
    figures += network_figures
    numbers.update(network_numbers)

    q = "quadratic"
    paragraph = (
        f"On the ill-conditioned quadratic (condition number 50, rotated axes) Newton's method "
        f"lands on the minimum in {_count(numbers[f'{q}_steps_to_1e-6_newton'], steps[QUAD])} "
        f"step(s) and BFGS/L-BFGS need {_count(numbers[f'{q}_steps_to_1e-6_bfgs'], steps[QUAD])}/"
        f"{_count(numbers[f'{q}_steps_to_1e-6_lbfgs'], steps[QUAD])}, while plain SGD, whose "
        f"learning rate is capped by the steep direction, zig-zags and needs "
        f"{_count(numbers[f'{q}_steps_to_1e-6_sgd'], steps[QUAD])} steps to reach a loss of "
        f"1e-6; momentum averages the zig-zag out "
        f"({_count(numbers[f'{q}_steps_to_1e-6_momentum'], steps[QUAD])} steps). The adaptive "
        f"methods (AdaGrad, RMSProp, Adam) rescale each coordinate, which helps when the "
        f"valley is aligned with the axes but not when it is rotated as here. In Rosenbrock's "
        f"curved valley the second-order methods follow the curvature and reach the minimum in "
        f"{_count(numbers['rosenbrock_steps_to_1e-6_newton'], steps['Rosenbrock'])} (Newton), "
        f"{_count(numbers['rosenbrock_steps_to_1e-6_bfgs'], steps['Rosenbrock'])} (BFGS) and "
        f"{_count(numbers['rosenbrock_steps_to_1e-6_lbfgs'], steps['Rosenbrock'])} (L-BFGS) "
        f"steps; "
        f"{_reached(numbers)} within {steps['Rosenbrock']} steps. " + network_text
    )
    return Result("optimizers", TITLE, paragraph, [table, *network_tables], figures, numbers)
