"""Lab 4 — exploding gradients: a deep ReLU network on the 8×8 digits, initialized with
N(0, 1) weights, with Xavier and with He initialization, each trained with and without gradient
clipping (``fit(..., clip_grad_norm=1.0)``).

Recorded per step: the gradient norm before clipping and the loss; per run: the step where the
loss or a gradient first became NaN/inf (``TerminateOnNaN`` stops training there and prints its
diagnosis), and ``gradient_flow``'s verdict at initialization.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, Subset, datasets
from chainrule.diagnostics import gradient_flow, plots
from chainrule.lab._common import Result, Table
from chainrule.train import LambdaCallback, TerminateOnNaN, fit

TITLE = "large initialization vs Xavier/He, with and without gradient clipping"
INITS = ("N(0, 1)", "Xavier", "He")


def build(init: str, depth: int, width: int, inputs: int = 64, classes: int = 10
          ) -> nn.Sequential:
    """``depth`` Linear layers with ReLU between them, weights drawn by ``init``, zero biases."""
    layers, fan_in = [], inputs
    for index in range(depth):
        last = index == depth - 1
        linear = nn.Linear(fan_in, classes if last else width)
        if init == "N(0, 1)":
            nn.init.normal_(linear.weight, 0.0, 1.0)
        elif init == "Xavier":
            nn.init.xavier_normal_(linear.weight)
        else:
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        nn.init.zeros_(linear.bias)
        layers += [linear] if last else [linear, nn.ReLU()]
        fan_in = width
    return nn.Sequential(*layers)


def _total_norm(model) -> float:
    total = 0.0
    for param in model.parameters():
        if param.grad is not None:
            flat = param.grad.data.reshape(-1).astype(np.float64)
            total += float(np.dot(flat, flat))
    return math.sqrt(total)


def run(out: Path, smoke: bool = False, seed: int = 0) -> Result:
    """Six runs (3 initializations × clipping on/off): gradient norms, NaN onset, diagnosis."""
    train, test = datasets.digits(flatten=True, seed=seed)
    depth, width, epochs, lr, clip = (6, 64, 1, 0.01, 1.0) if smoke else (8, 128, 3, 0.01, 1.0)
    if smoke:
        train = Subset(train, list(range(640)))
    probe = next(iter(DataLoader(train, 256)))

    runs, rows, diagnosis = {}, [], None
    for init in INITS:
        for clipped in (False, True):
            cr.manual_seed(seed)
            model = build(init, depth, width)
            with np.errstate(over="ignore", invalid="ignore"):
                nn.functional.cross_entropy(model(probe[0]), probe[1]).backward()
            verdict = gradient_flow(model).verdict
            model.zero_grad()
            norms, losses = [], []
            record = LambdaCallback(on_after_backward=lambda state: (
                norms.append(_total_norm(state.model)),
                losses.append(float(state.loss_tensor.item()))))
            guard = TerminateOnNaN(file=io.StringIO())
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                history = fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=lr,
                                                                momentum=0.9),
                              DataLoader(train, 32, shuffle=True, seed=seed),
                              DataLoader(test, 512), epochs=epochs, callbacks=[guard, record],
                              clip_grad_norm=clip if clipped else None)
            onset = next((step for step, (n, l) in enumerate(zip(norms, losses), start=1)
                          if not (math.isfinite(n) and math.isfinite(l))), None)
            if guard.diagnosis and diagnosis is None:
                diagnosis = guard.diagnosis
            label = f"{init}{', clipped' if clipped else ''}"
            runs[label] = (norms, losses, onset)
            val_acc = history["val_accuracy"][-1] if len(history) else None
            finite = [n for n in norms if math.isfinite(n)]
            rows.append([init, "yes" if clipped else "no", verdict, norms[0],
                         max(finite) if finite else math.nan,
                         onset if onset is not None else "never", len(norms), val_acc])
    table = Table(f"{depth}-layer ReLU network (width {width}), SGD lr {lr} momentum 0.9, "
                  f"batch 32, {epochs} epoch(s); clipping to norm {clip}",
                  ["init", "clipped", "verdict at init", "grad norm at step 1", "max grad norm",
                   "NaN at step", "steps run", "test accuracy"], rows)

    figure = plots.plot_curves(out / "gradient_norms.png", [
        dict(series={k: (np.arange(1, len(v[0]) + 1), _floor(v[0])) for k, v in runs.items()},
             title="Gradient norm before clipping (× = last step before NaN)", xlabel="step",
             ylabel="gradient norm (log scale)", logy=True, styles=_styles(runs)),
        dict(series={k: (np.arange(1, len(v[1]) + 1), _floor(v[1])) for k, v in runs.items()},
             title="Training loss per batch", xlabel="step", ylabel="cross-entropy (log scale)",
             logy=True, styles=_styles(runs)),
    ], ncols=2, size=(11.0, 4.0))

    large, large_clipped = runs["N(0, 1)"], runs["N(0, 1), clipped"]
    numbers = {
        "nan_step_large_init": large[2], "nan_step_large_init_clipped": large_clipped[2],
        "nan_step_he": runs["He"][2], "nan_step_xavier": runs["Xavier"][2],
        "grad_norm_large_init": large[0][0], "grad_norm_he": runs["He"][0][0],
        "grad_norm_xavier": runs["Xavier"][0][0],
        "test_acc_he": rows[4][7], "test_acc_large_clipped": rows[1][7],
        "verdict_large_init": rows[0][2], "verdict_he": rows[4][2],
    }
    notes = [f"Diagnosis printed by TerminateOnNaN: {diagnosis}"] if diagnosis else []
    onset = (f"the loss turns NaN at step {large[2]}" if large[2] is not None
             else "the loss stays finite but huge")
    paragraph = (
        f"With weights drawn from N(0, 1) each ReLU layer multiplies the signal by about "
        f"sqrt(width/2) = {math.sqrt(width / 2):.0f}, forward and backward, so the first "
        f"gradient norm is {large[0][0]:.1e} (Xavier: {runs['Xavier'][0][0]:.2g}, He: "
        f"{runs['He'][0][0]:.2g}); gradient_flow calls it '{rows[0][2]}'. One SGD step of that "
        f"size throws the weights so far that {onset}"
        + (", and TerminateOnNaN stops the run and names the exploding gradients. "
           if large[2] is not None else ". ")
        + (f"Clipping the gradient norm to {clip} bounds every step: the same badly initialized "
           f"network then trains without NaN (test accuracy {_text(rows[1][7])}), though "
           f"below He initialization ({_text(rows[4][7])}): clipping treats the symptom, a "
           f"variance-preserving initialization (He for ReLU) removes the cause."
           if large_clipped[2] is None else
           f"Even with the gradient norm clipped to {clip} the loss turns NaN at step "
           f"{large_clipped[2]}: the forward pass itself overflows. A variance-preserving "
           f"initialization (He for ReLU: test accuracy {_text(rows[4][7])}) removes the cause.")
    )
    return Result("exploding", TITLE, paragraph, [table], [figure], numbers, notes=notes)


def _text(accuracy) -> str:
    return "none: it stopped on NaN" if accuracy is None else f"{accuracy:.2f}"


def _floor(values: list[float]) -> np.ndarray:
    """Non-finite values become NaN (a gap in the line), the onset is marked separately."""
    array = np.asarray(values, dtype=float)
    return np.where(np.isfinite(array), array, np.nan)


def _styles(runs: dict) -> dict:
    colors = {"N(0, 1)": "C3", "Xavier": "C0", "He": "C2"}
    styles = {}
    for label, (_, _, onset) in runs.items():
        init = label.replace(", clipped", "")
        styles[label] = dict(color=colors[init], linestyle="--" if "clipped" in label else "-",
                             marker="x" if onset is not None else None,
                             markevery=[onset - 2] if onset is not None and onset > 1 else None)
    return styles
