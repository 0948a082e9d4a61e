"""The optimizers experiment's network part: full-batch training of small MLPs on the moons by
Adam, L-BFGS, Newton (fixed damping with a line search, the Levenberg–Marquardt trust region,
saddle-free) and Gauss–Newton — iterations and wall time to a loss target, and the
convergence curves near a minimum.

Two problems:

- **to a target**: the moons MLP 2-32-32-2 (tanh, 1,218 parameters; 200 points), cross-entropy,
  target loss 0.05;
- **to the minimum**: a 2-16-16-2 tanh MLP with an L2 term 0.01·½‖θ‖², so that the loss has a
  strict minimum; f − f* (f* the lowest loss any method reached) and the gradient's norm show
  how each method converges near it (Newton's quadratic convergence is a straight fall on a
  log scale, steeper and steeper).

An "iteration" is one ``step`` of Newton and Gauss–Newton (trial steps rejected by the trust
region included), one Adam step, and one iteration of L-BFGS with its line search (its
``n_iter``; it runs 5 per ``step`` call, because PyTorch's L-BFGS — and so chainrule's, which
follows it step for step — can stall when called with ``max_iter=1``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

import chainrule as cr
from chainrule import models, optim
from chainrule.data import datasets
from chainrule.diagnostics import plots
from chainrule.lab._common import Table
from chainrule.nn import functional as F
from chainrule.train import needs_closure

__all__ = ["Run", "METHODS", "to_target", "to_minimum", "network_section"]

TARGET = 0.05
L2 = 0.01
#: method → (label, optimizer factory, iterations per step call)
METHODS = {
    "adam": ("Adam (lr 0.01)", lambda p: optim.Adam(p, lr=0.01), 1),
    "lbfgs": ("L-BFGS", lambda p: optim.LBFGS(p, max_iter=5, history_size=20,
                                                line_search_fn="strong_wolfe"), 5),
    "newton-fixed": ("Newton, fixed λ = 1e-3 + line search",
                     lambda p: optim.Newton(p, damping=1e-3, line_search_fn="strong_wolfe"), 1),
    "newton": ("Newton, trust region (LM)",
               lambda p: optim.Newton(p, adaptive_damping=True, damping=1e-3), 1),
    "saddle-free": ("Newton, saddle-free |H|",
                    lambda p: optim.Newton(p, adaptive_damping=True, saddle_free=True,
                                           damping=1e-3), 1),
    "gauss-newton": ("Gauss–Newton (LM)", lambda p: optim.GaussNewton(p), 1),
}


@dataclass
class Run:
    """One method on one problem: the loss, gradient norm and seconds after each iteration
    count in ``iterations`` (0 = the start)."""

    name: str
    iterations: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def label(self) -> str:
        return METHODS[self.name][0]

    def first(self, target: float) -> tuple[int | None, float | None]:
        """(iterations, seconds) when the loss first reached ``target``; None if never."""
        for count, loss, spent in zip(self.iterations, self.losses, self.seconds):
            if loss <= target:
                return count, spent
        return None, None


def _problem(samples: int, hidden: tuple, seed: int):
    train, _ = datasets.moons(n_samples=samples, seed=seed)
    x, y = train.tensors
    cr.manual_seed(seed)
    net = models.mlp(2, hidden, 2, activation="tanh").to(cr.float64)
    return net, x.to(cr.float64), y


def _run(name: str, net, x, y, l2: float, max_iterations: int, stop) -> Run:
    _, make, per_call = METHODS[name]
    params = list(net.parameters())
    optimizer = make(params)
    with_output = getattr(optimizer, "closure_returns_output", False)

    def objective(output):
        loss = F.cross_entropy(output, y)
        return loss + (0.5 * l2) * sum((p * p).sum() for p in params) if l2 else loss

    def closure():
        optimizer.zero_grad()
        output = net(x)
        loss = objective(output)
        loss.backward()
        return (loss, output) if with_output else loss

    def measure(run: Run, count: int, spent: float) -> None:
        loss = objective(net(x))
        grads = cr.grad(loss, params)
        run.iterations.append(count)
        run.losses.append(float(loss))
        run.grad_norms.append(float(np.sqrt(sum(float((g.data ** 2).sum()) for g in grads))))
        run.seconds.append(spent)

    run = Run(name)
    measure(run, 0, 0.0)
    spent, count = 0.0, 0
    while count < max_iterations and not stop(run):
        started = time.perf_counter()
        if not needs_closure(optimizer):
            closure()
            optimizer.step()
            count += 1
        else:
            optimizer.step(closure)
            count = (optimizer.state[params[0]]["n_iter"] if name == "lbfgs"
                     else count + per_call)
        spent += time.perf_counter() - started
        measure(run, count, spent)
    return run


def to_target(smoke: bool, seed: int) -> tuple[dict, int]:
    """Every method but saddle-free on the moons MLP until the loss reaches ``TARGET`` (or its
    iteration budget ends). Returns (runs by name, parameter count)."""
    samples, hidden = (100, (8, 8)) if smoke else (250, (32, 32))
    budget = {"adam": 300 if smoke else 2000, "lbfgs": 100 if smoke else 300}
    runs = {}
    for name in ("adam", "lbfgs", "newton-fixed", "newton", "gauss-newton"):
        net, x, y = _problem(samples, hidden, seed)
        runs[name] = _run(name, net, x, y, 0.0, budget.get(name, 15 if name == "newton-fixed"
                                                              else 30),
                          lambda run: run.losses[-1] <= TARGET)
    return runs, sum(p.data.size for p in net.parameters())


def _minimum_size(smoke: bool) -> tuple[int, tuple]:
    return (100, (6, 6)) if smoke else (250, (16, 16))


def to_minimum(smoke: bool, seed: int) -> tuple[dict, float, int]:
    """Every method on the regularized 2-16-16-2 MLP (2-6-6-2 at smoke size) for a fixed
    budget, down to the rounding of the loss. Returns (runs, f* the lowest loss reached,
    parameter count)."""
    samples, hidden = _minimum_size(smoke)
    budget = {"adam": 400 if smoke else 1500, "lbfgs": 100 if smoke else 300}
    runs = {}
    for name in ("adam", "lbfgs", "newton", "saddle-free", "gauss-newton"):
        net, x, y = _problem(samples, hidden, seed)
        runs[name] = _run(name, net, x, y, L2, budget.get(name, 20 if smoke else 40),
                          lambda run: run.grad_norms[-1] < 1e-10)
    best = min(min(run.losses) for run in runs.values())
    return runs, best, sum(p.data.size for p in net.parameters())


#: one colour per method in every figure
STYLES = {label: {"color": f"C{k}"} for k, (label, _, _) in enumerate(METHODS.values())}


def _count(value, budget) -> str:
    return str(value) if value is not None else f"not in {budget}"


def network_section(out, smoke: bool, seed: int) -> tuple[list, list, dict, str]:
    """Both problems: (tables, figures, numbers, the paragraph's sentences)."""
    runs, parameters = to_target(smoke, seed)
    rows, numbers = [], {}
    for name, run in runs.items():
        iterations, seconds = run.first(TARGET)
        rows.append([run.label, _count(iterations, run.iterations[-1]),
                     seconds if seconds is not None else "-", run.losses[-1],
                     1000 * run.seconds[-1] / max(run.iterations[-1], 1)])
        numbers[f"network_iterations_to_{TARGET}_{name}"] = iterations
        numbers[f"network_seconds_to_{TARGET}_{name}"] = seconds
    target_table = Table(
        f"Full batch, moons MLP ({parameters} parameters, tanh, float64): iterations and wall "
        f"time to a training loss of {TARGET}",
        ["method", "iterations", "seconds", "final loss", "ms per iteration"], rows)
    minimum, best, small = to_minimum(smoke, seed)
    rows = []
    for name, run in minimum.items():
        gaps = np.maximum(np.array(run.losses) - best, 1e-16)
        reach = next((c for c, g in zip(run.iterations, gaps) if g <= 1e-10), None)
        rows.append([run.label, _count(reach, run.iterations[-1]), run.losses[-1] - best,
                     run.grad_norms[-1], run.seconds[-1]])
        numbers[f"minimum_iterations_{name}"] = reach
        numbers[f"minimum_final_grad_{name}"] = run.grad_norms[-1]
    widths = "-".join(map(str, (2, *_minimum_size(smoke)[1], 2)))
    minimum_table = Table(
        f"To the minimum: {widths} tanh MLP ({small} parameters) with L2 {L2}·½‖θ‖², "
        "iterations until f − f* ≤ 1e-10 (f* the lowest loss any method reached)",
        ["method", "iterations", "final f − f*", "final gradient norm", "seconds"], rows)
    figures = [plots.plot_curves(out / "network_to_target.png", [
        dict(series={r.label: (r.iterations, r.losses) for r in runs.values()},
             title=f"Loss against iterations (each run stops at {TARGET})",
             xlabel="iteration (log scale beyond 2)", ylabel="cross-entropy (log scale)",
             logy=True, xscale="symlog", styles=STYLES),
        dict(series={r.label: (r.seconds[1:], r.losses[1:]) for r in runs.values()},
             title="Loss against wall time", xlabel="seconds (log scale)",
             ylabel="cross-entropy (log scale)", logy=True, logx=True, styles=STYLES),
    ], ncols=2, size=(11.5, 4.2)), plots.plot_curves(out / "network_to_minimum.png", [
        dict(series={r.label: (r.iterations, np.maximum(np.array(r.losses) - best, 1e-16))
                     for r in minimum.values()},
             title="f − f* near the minimum (values < 1e-16 drawn at 1e-16)",
             xlabel="iteration (log scale beyond 2)", ylabel="f − f* (log scale)", logy=True,
             xscale="symlog", styles=STYLES),
        dict(series={r.label: (r.iterations, np.maximum(r.grad_norms, 1e-16))
                     for r in minimum.values()},
             title="Gradient norm", xlabel="iteration (log scale beyond 2)",
             ylabel="‖∇f‖ (log scale)", logy=True, xscale="symlog", styles=STYLES),
    ], ncols=2, size=(11.5, 4.2))]
    paragraph = _paragraph(runs, minimum, parameters, widths)
    return [target_table, minimum_table], figures, numbers, paragraph


def _paragraph(runs: dict, minimum: dict, parameters: int, widths: str) -> str:
    def reach(name):
        iterations, seconds = runs[name].first(TARGET)
        if iterations is None:
            return (f"{runs[name].label} does not reach it in {runs[name].iterations[-1]} "
                    f"iterations (loss {runs[name].losses[-1]:.3f})")
        return f"{runs[name].label} in {iterations} iterations ({seconds:.2f} s)"

    fixed, adaptive = runs["newton-fixed"].first(TARGET)[0], runs["newton"].first(TARGET)[0]
    damping = ""
    if adaptive is not None and (fixed is None or fixed > adaptive):
        damping = ("The fixed-λ Newton raises λ until H + λI is positive definite, so each "
                   "step is damped as strongly as the most negative curvature demands and it "
                   "creeps; the trust region shrinks λ whenever the quadratic model predicted "
                   "the decrease well and keeps only steps that lower the loss. ")
    newton, gauss = minimum["newton"], minimum["gauss-newton"]
    gap = gauss.losses[-1] - min(min(run.losses) for run in minimum.values())
    elsewhere = (f" at a loss {gap:.2g} above f* (another stationary point)" if gap > 1e-6
                 else "")
    return (
        f"On the {parameters}-parameter moons MLP, full batch, to a loss of {TARGET}: "
        f"{reach('newton')}, {reach('gauss-newton')}, {reach('lbfgs')} and {reach('adam')}; "
        f"{reach('newton-fixed')}. {damping}Near the minimum of the regularized {widths} "
        f"network {_convergence(newton.grad_norms)} Gauss–Newton, whose matrix leaves out the "
        f"network's own curvature, ends at ‖∇f‖ {gauss.grad_norms[-1]:.0e}{elsewhere} after "
        f"{gauss.iterations[-1]} iterations, L-BFGS at "
        f"{minimum['lbfgs'].grad_norms[-1]:.0e} after {minimum['lbfgs'].iterations[-1]} and "
        f"Adam at {minimum['adam'].grad_norms[-1]:.0e} after {minimum['adam'].iterations[-1]} "
        f"steps. {_per_second(runs, parameters)}"
    )


def _convergence(norms: list[float]) -> str:
    """The trust-region Newton's gradient norms as it closes in, and by how much the digits
    gained grow per iteration (1 for linear convergence, 2 for quadratic)."""
    start = next((k for k, g in enumerate(norms) if g < 1e-2), len(norms) - 1)
    end = next((k for k, g in enumerate(norms) if g < 1e-9), len(norms) - 1)
    shown = norms[start:end + 1][-5:]
    listed = ", ".join(f"{g:.0e}" for g in shown)
    digits = -np.log10(np.maximum(shown, 1e-300))
    growth = [b / a for a, b in zip(digits, digits[1:]) if a >= 2]
    if len(growth) < 2:
        return f"the trust-region Newton's gradient norm ends at {listed};"
    return (f"the trust-region Newton's gradient norm falls {listed} in its last iterations: "
            f"the digits gained grow ×{np.mean(growth[-3:]):.1f} per iteration (×1 is linear "
            f"convergence, ×2 quadratic);")


def _per_second(runs: dict, parameters: int) -> str:
    timed = {name: run.first(TARGET)[1] for name, run in runs.items()}
    reached = sorted((seconds, name) for name, seconds in timed.items() if seconds is not None)
    if not reached:
        return f"No method reached {TARGET} within its budget."
    ms = {name: 1000 * run.seconds[-1] / max(run.iterations[-1], 1) for name, run in runs.items()}
    return (f"An iteration costs {ms['newton']:.0f} ms for Newton (a Hessian of {parameters}² "
            f"entries), {ms['gauss-newton']:.0f} ms for Gauss–Newton and {ms['adam']:.2f} ms "
            f"for Adam; by wall time the first to the target was "
            f"{runs[reached[0][1]].label} ({reached[0][0]:.2f} s).")
