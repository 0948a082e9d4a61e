"""Lab 10 — benchmark: MNIST-1D (Greydanus 2020; 4,000 training and 1,000 test signals of length
40) with logistic regression, a multilayer perceptron, a 1-D convolutional network, a small
residual network and the paper's GRU (the signal as 40 steps of one value), each built from
``chainrule.models`` and trained with Adam for the same number of epochs. Test accuracy and
training time per model.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import models, optim
from chainrule.data import datasets
from chainrule.diagnostics import plots
from chainrule.lab._common import Result, Table
from chainrule.lab._train import fit_classifier

TITLE = "MNIST-1D with logistic regression, an MLP, a CNN, a residual net and a GRU"

#: name → (builder, learning rate, description)
MODELS = {
    "logistic regression": (lambda: models.mlp(40, (), 10), 1e-2, "Linear 40→10"),
    "MLP": (lambda: models.mlp(40, (256, 256), 10), 3e-3, "40-256-256-10, ReLU"),
    "CNN": (lambda: models.cnn(1, 10, 40, channels=(32, 32, 32), kernel_size=5, hidden=0), 3e-3,
            "3 × (conv 5, ReLU, max-pool 2), linear"),
    "residual net": (lambda: models.resnet(1, 10, 40, channels=(16, 32), blocks=1), 3e-3,
                     "stem + 2 residual blocks with BatchNorm, global pooling"),
    "GRU": (lambda: models.gru(1, 10, 40), 1e-2,
            "the paper's: bidirectional GRU, hidden 6, 40 steps of 1, linear on all outputs"),
}


def run(out: Path, smoke: bool = False, seed: int = 0) -> Result:
    """Train each model on MNIST-1D; test accuracy and wall time."""
    train_split, test_split = datasets.mnist1d(flatten=False)
    x, y = train_split.arrays[0], train_split.arrays[1]
    if smoke:
        x, y = x[:1000], y[:1000]
    test = (test_split.arrays[0], test_split.arrays[1])
    epochs = 2 if smoke else 20

    rows, curves, numbers = [], {}, {}
    for name, (build, lr, description) in MODELS.items():
        cr.manual_seed(seed)
        model = build()
        started = time.perf_counter()
        result = fit_classifier(model, (x, y), test, optim.Adam(model.parameters(), lr=lr),
                                epochs=epochs, batch_size=64, seed=seed)
        seconds = time.perf_counter() - started
        curves[name] = result
        parameters = sum(p.data.size for p in model.parameters())
        rows.append([name, description, parameters, result.train_acc[-1], result.val_acc[-1],
                     seconds, seconds / epochs])
        slug = name.split()[0].lower()
        numbers[f"test_acc_{slug}"] = result.val_acc[-1]
        numbers[f"seconds_{slug}"] = seconds
    table = Table(f"MNIST-1D, {len(x)} training / {len(test[0])} test signals; Adam, batch 64, "
                  f"{epochs} epochs; time includes the per-epoch evaluation",
                  ["model", "architecture", "parameters", "train acc", "test acc",
                   "train time (s)", "s per epoch"], rows)

    figures = [plots.plot_curves(out / "accuracy.png", [
        dict(series={n: c.val_acc for n, c in curves.items()}, title="Test accuracy per epoch",
             xlabel="epoch", ylabel="test accuracy", ylim=(0, 1)),
        dict(series={n: (np.linspace(r[5] / epochs, r[5], epochs), curves[n].val_acc)
                     for n, r in zip(curves, rows)},
             title="Test accuracy against training time", xlabel="seconds (log scale)",
             ylabel="test accuracy", ylim=(0, 1), logx=True),
    ], ncols=2, size=(11.0, 4.0))]

    acc = {r[0]: r[4] for r in rows}
    paragraph = (
        f"The same data, optimizer and budget, four architectures: logistic regression reaches "
        f"{acc['logistic regression']:.2f} test accuracy, the MLP {acc['MLP']:.2f}, the CNN "
        f"{acc['CNN']:.2f}, the residual network {acc['residual net']:.2f} and the GRU "
        f"{acc['GRU']:.2f} (the MNIST-1D paper reports about 0.32, 0.68, 0.94 and 0.91 for "
        f"logistic regression, MLP, CNN and GRU, the GRU with Adam 1e-2 over 6,000 steps of "
        f"100). The MLP has the most "
        f"parameters ({rows[1][2]:,}) but treats every position of the signal separately; the "
        f"convolutions share their weights across positions and pool, so a pattern is "
        f"recognised wherever it appears in the signal — the right inductive bias for this "
        f"task, with {rows[2][2]:,} parameters. The price is time: the convolutional models "
        f"take {rows[2][5] / max(rows[1][5], 1e-9):.1f}× and "
        f"{rows[3][5] / max(rows[1][5], 1e-9):.1f}× the MLP's training time here, and the "
        f"GRU, which reads the signal one value at a time through {rows[4][2]:,} parameters, "
        f"{rows[4][5] / max(rows[1][5], 1e-9):.1f}×."
    )
    return Result("benchmark", TITLE, paragraph, [table], figures, numbers)
