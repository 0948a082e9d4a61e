"""Lab 5 — losses: mean squared error against cross-entropy on a sigmoid or softmax output.

Part 1 draws the losses and their gradients as a function of the error (by autograd). Part 2
measures, on real logits of a digits classifier, the gradient each loss sends back to every
sample's logits against that sample's error. Part 3 trains the same network with the same
optimizer and steps under four output/loss pairs and compares how fast each learns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import datasets
from chainrule.diagnostics import plots
from chainrule.lab._common import Result, Table
from chainrule.train import LambdaCallback, evaluate, fit

TITLE = "MSE vs cross-entropy on sigmoid/softmax outputs"
F = nn.functional
KINDS = ("softmax + cross-entropy", "softmax + MSE", "sigmoid + BCE", "sigmoid + MSE")


def loss_of(kind: str, logits, labels, onehot):
    """The loss of ``kind`` for a batch, summed over the classes and averaged over samples."""
    if kind == "softmax + cross-entropy":
        return F.cross_entropy(logits, labels)
    if kind == "softmax + MSE":
        return ((F.softmax(logits, dim=1) - onehot) ** 2).sum(dim=1).mean()
    if kind == "sigmoid + BCE":
        return F.binary_cross_entropy_with_logits(logits, onehot) * float(onehot.shape[1])
    if kind == "sigmoid + MSE":
        return ((logits.sigmoid() - onehot) ** 2).sum(dim=1).mean()
    raise ValueError(f"unknown loss kind {kind!r}; choose from {KINDS}")


def _ratio_text(ratios: dict) -> str:
    parts = []
    if "small" in ratios:
        parts.append(f"{ratios['small']:.1f} (median) for samples with an error between 0.01 "
                     f"and 0.1")
    if "large" in ratios:
        parts.append(f"{ratios['large']:.1f} for errors above 0.5")
    return " and ".join(parts) if parts else "not measurable here (no sample in either band)"


def _when(reach, steps: int) -> str:
    return str(reach) if isinstance(reach, int) else f"more than {steps}"


def _model() -> nn.Sequential:
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def _train(kind: str, x, y, onehot, steps: int, lr: float, every: int, seed: int):
    """``steps`` SGD steps on batches of 32 drawn with replacement (one ``fit`` epoch over
    them); every ``every`` steps, the accuracy and cross-entropy on the whole training set."""
    cr.manual_seed(seed)
    model = _model()
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(steps):
        index = rng.integers(0, len(x), 32)
        batches.append((cr.from_numpy(x[index]), cr.from_numpy(index)))
    whole = [(cr.from_numpy(x), cr.from_numpy(y))]
    checkpoints, accuracies, losses = [], [], []

    def probe(state) -> None:
        if state.step % every == 0:
            result = evaluate(state.model, whole, "cross_entropy", metrics=("accuracy",))
            checkpoints.append(state.step)
            accuracies.append(result["accuracy"])
            losses.append(result["loss"])

    def loss_fn(logits, index):  # the batch's labels and one-hot targets, by sample index
        return loss_of(kind, logits, cr.from_numpy(y[index.data]),
                       cr.from_numpy(onehot[index.data]))

    fit(model, loss_fn, optim.SGD(model.parameters(), lr=lr), batches, epochs=1, metrics=(),
        callbacks=[LambdaCallback(on_batch_end=probe)])
    return model, checkpoints, accuracies, losses


def _logit_gradients(model, x, y, onehot) -> tuple[np.ndarray, dict]:
    """Per-sample error 1 - p(correct) and ‖d loss / d logits‖ for each loss on the same
    logits (the loss summed over samples, so each row of the gradient is one sample's)."""
    with cr.no_grad():
        logits = model(cr.from_numpy(x)).data.astype(np.float64)
    probability = np.exp(logits - logits.max(1, keepdims=True))
    probability /= probability.sum(1, keepdims=True)
    error = 1.0 - probability[np.arange(len(y)), y]
    norms = {}
    for kind in KINDS:
        z = cr.tensor(logits, dtype=cr.float64, requires_grad=True)
        loss = loss_of(kind, z, cr.from_numpy(y), cr.tensor(onehot, dtype=cr.float64))
        (grad,) = cr.grad(loss * float(len(y)), z)
        norms[kind] = np.linalg.norm(grad.data, axis=1)
    return error, norms


def run(out: Path, smoke: bool = False, seed: int = 0) -> Result:
    """Loss curves by autograd, gradient vs error on real logits, and training speed."""
    figures = [plots.plot_losses(out / "loss_and_gradient_vs_error.png")]
    train, test = datasets.digits(flatten=True, seed=seed)
    x, y = train.arrays[0], train.arrays[1]
    x_test, y_test = test.arrays[0], test.arrays[1]
    onehot = np.eye(10, dtype=np.float32)[y]
    steps, every, lr = (200, 20, 0.05) if smoke else (1500, 25, 0.05)

    curves, rows, numbers, models = {}, [], {}, {}
    for kind in KINDS:
        model, checkpoints, accuracies, losses = _train(kind, x, y, onehot, steps, lr, every,
                                                        seed)
        models[kind] = model
        curves[kind] = (checkpoints, accuracies, losses)
        reach = next((s for s, a in zip(checkpoints, accuracies) if a >= 0.9), None)
        with cr.no_grad():
            test_acc = float((model(cr.from_numpy(x_test)).data.argmax(1) == y_test).mean())
        rows.append([kind, reach if reach is not None else f"> {steps}", accuracies[-1],
                     test_acc])
        key = kind.replace(" + ", "_").replace("-", "_").replace(" ", "_").lower()
        numbers[f"steps_to_90_{key}"] = reach
        numbers[f"train_acc_{key}"] = accuracies[-1]
        numbers[f"test_acc_{key}"] = test_acc
    table = Table(f"The same network (64-64-10, ReLU) and optimizer (SGD lr {lr}, batch 32, "
                  f"{steps} steps) under four output/loss pairs",
                  ["output + loss", "steps to 90% train acc.", "final train acc.",
                   "test acc."], rows)

    error, norms = _logit_gradients(models["softmax + cross-entropy"], x, y, onehot)
    fig, axis = plots.new_figure(size=(6.5, 4.2))
    for kind, color in (("softmax + cross-entropy", "C0"), ("softmax + MSE", "C1")):
        axis.scatter(error, np.maximum(norms[kind], 1e-12), s=5, alpha=0.4, color=color,
                     label=kind)
    axis.set(yscale="log", xlabel="error of the sample: 1 - softmax p(correct)",
             ylabel="‖d loss / d logits‖ of the sample (log scale)",
             title="Gradient each loss sends to one sample's logits")
    plots.place_legend(axis, fontsize=8, markerscale=3)
    axis.grid(alpha=0.3)
    figures.append(plots.save_figure(fig, out / "logit_gradient_vs_error.png"))
    ratios = {}
    for name, band in (("small", (error > 0.01) & (error < 0.1)),
                       ("large", error > 0.5)):
        if band.any():
            ratios[name] = float(np.median(norms["softmax + cross-entropy"][band]
                                           / norms["softmax + MSE"][band]))
            numbers[f"ce_over_mse_logit_grad_error_{name}"] = ratios[name]

    figures.append(plots.plot_curves(out / "training_speed.png", [
        dict(series={k: (c[0], c[1]) for k, c in curves.items()},
             title="Training accuracy", xlabel="SGD step", ylabel="accuracy on the train set",
             ylim=(0, 1)),
        dict(series={k: (c[0], c[2]) for k, c in curves.items()},
             title="Cross-entropy on the train set (whichever loss was minimized)",
             xlabel="SGD step",
             ylabel="cross-entropy (log scale)", logy=True),
    ], ncols=2, size=(11.0, 4.0)))

    ce, mse = rows[0], rows[1]
    paragraph = (
        f"Through a sigmoid, the gradient of the squared error with respect to the logit is "
        f"2(σ - 1)·σ(1 - σ): it vanishes when the output is confidently wrong, exactly where a "
        f"large correction is needed, while cross-entropy's is σ - 1, largest for the worst "
        f"predictions (first figure). Through a softmax, on the logits of a trained digits "
        f"classifier, cross-entropy sends each sample a gradient that grows with its error; "
        f"the ratio of cross-entropy's gradient to MSE's is {_ratio_text(ratios)} "
        f"(second figure). Trained with "
        f"the same network, optimizer and {steps} steps, the SGD steps to 90% training "
        f"accuracy are {_when(ce[1], steps)} with softmax + cross-entropy and "
        f"{_when(mse[1], steps)} with softmax + MSE; the "
        f"final test accuracies are {ce[3]:.3f} and {mse[3]:.3f} (sigmoid + BCE "
        f"{rows[2][3]:.3f}, sigmoid + MSE {rows[3][3]:.3f}). For classification, pair a "
        f"sigmoid or softmax output with cross-entropy."
    )
    return Result("losses", TITLE, paragraph, [table], figures, numbers)
