"""Lab 7 — overfitting: a large network (40-256-256-10) trained on 400 MNIST-1D signals,
without remedies and then with each remedy on its own: L2 and L1 penalties, dropout, BatchNorm,
data augmentation (random shifts), mixup, PCA inputs, a smaller network, early stopping.

Every run uses the same training subset, validation set (the MNIST-1D test split), optimizer
(Adam, lr 1e-3, batch 32), number of epochs and seed; only the remedy changes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import models, nn, optim
from chainrule.data import PCA, datasets, transforms
from chainrule.diagnostics import plots
from chainrule.lab._common import Result, Table
from chainrule.lab._train import fit_classifier

TITLE = "a small training set and a large network, and the remedies"
REMEDIES = ("none", "L2 penalty", "L1 penalty", "dropout", "BatchNorm", "augmentation",
            "mixup", "PCA inputs", "smaller network", "early stopping")


def _subset(x: np.ndarray, y: np.ndarray, size: int, seed: int):
    chosen = np.sort(np.random.default_rng(seed).choice(len(x), size, replace=False))
    return x[chosen], y[chosen]


def _setup(remedy: str, train, val, seed: int, smoke: bool) -> dict:
    """Model, data and training options for ``remedy``."""
    hidden = (128, 128) if smoke else (256, 256)
    features = train[0].shape[1]
    options: dict = dict(train=train, val=val)
    if remedy == "dropout":
        options["model"] = models.mlp(features, hidden, 10, dropout=0.5)
    elif remedy == "BatchNorm":
        options["model"] = models.mlp(features, hidden, 10, batch_norm=True)
    elif remedy == "smaller network":
        options["model"] = models.mlp(features, (32,), 10)
    elif remedy == "PCA inputs":
        pca = PCA(10).fit(train[0])
        options["train"] = (pca.transform(train[0]).astype(np.float32), train[1])
        options["val"] = (pca.transform(val[0]).astype(np.float32), val[1])
        options["model"] = models.mlp(10, hidden, 10)
    else:
        options["model"] = models.mlp(features, hidden, 10)
    if remedy == "L2 penalty":
        options["penalty"] = lambda model: nn.utils.l2_penalty(model, 1e-3, only_weights=True)
    elif remedy == "L1 penalty":
        options["l1"] = 1e-4  # fit's L1 penalty on the weights
    elif remedy == "augmentation":
        options["transform"] = transforms.RandomShift1d(4, seed=seed)
    elif remedy == "mixup":
        # MixUp mixes image batches (N, C, H, W): a signal is a 1×40 image; the model flattens
        options["train"] = (train[0].reshape(len(train[0]), 1, 1, -1), train[1])
        options["transform"] = transforms.MixUp(0.4, num_classes=10, seed=seed)
    elif remedy == "early stopping":
        options["patience"] = 10 if not smoke else 5
    return options


def run(out: Path, smoke: bool = False, seed: int = 0) -> Result:
    """Train/validation curves without and with each remedy; best accuracy and gap each."""
    train_split, test_split = datasets.mnist1d()
    size, epochs = (200, 20) if smoke else (400, 100)
    train = _subset(train_split.arrays[0], train_split.arrays[1], size, seed)
    val = (test_split.arrays[0], test_split.arrays[1])

    curves, rows = {}, []
    for remedy in REMEDIES:
        cr.manual_seed(seed)
        options = _setup(remedy, train, val, seed, smoke)
        model = options.pop("model")
        optimizer = optim.Adam(model.parameters(), lr=1e-3)
        result = fit_classifier(model, options.pop("train"), options.pop("val"), optimizer,
                                epochs=epochs, batch_size=32, seed=seed, **options)
        curves[remedy] = result
        final = result.best_epoch if remedy == "early stopping" else len(result.val_acc) - 1
        gap = result.train_acc[final] - result.val_acc[final]
        rows.append([remedy, result.best_val_acc, result.best_epoch + 1,
                     result.train_acc[final], result.val_acc[final], gap,
                     len(result.val_acc), sum(p.data.size for p in model.parameters())])
    table = Table(f"Training on {len(train[0])} MNIST-1D signals, validating on {len(val[0])}; "
                  f"Adam lr 1e-3, batch 32, up to {epochs} epochs. Final = the last epoch "
                  f"(early stopping: the restored best epoch)",
                  ["remedy", "best val acc", "at epoch", "final train acc", "final val acc",
                   "train/val gap", "epochs run", "parameters"], rows)

    panels = []
    for remedy in REMEDIES:
        c = curves[remedy]
        panels.append(dict(series={"train": c.train_acc, "validation": c.val_acc},
                           title=remedy, xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02),
                           legend=remedy == "none",
                           vlines=[(c.best_epoch + 1, "restored best epoch")]
                           if remedy == "early stopping" else []))
    figures = [plots.plot_curves(out / "train_val_curves.png", panels, ncols=5,
                                 size=(16.0, 6.4),
                                 title="Train (blue) and validation (orange) accuracy per epoch")]
    fig, axis = plots.new_figure(size=(8.0, 3.8))
    positions = np.arange(len(REMEDIES))
    axis.bar(positions - 0.2, [r[1] for r in rows], width=0.4, label="best validation accuracy")
    axis.bar(positions + 0.2, [r[5] for r in rows], width=0.4, label="final train/val gap")
    axis.set_xticks(positions, REMEDIES, rotation=35, ha="right", fontsize=8)
    axis.axhline(rows[0][1], color="C0", linestyle=":", linewidth=1,
                 label="best validation accuracy without remedy")
    axis.set_ylim(0, 1)
    axis.set_ylabel("accuracy (fraction)")
    axis.set_title("Each remedy on its own")
    axis.legend(fontsize=8, loc="upper right", ncols=2)
    axis.grid(alpha=0.3, axis="y")
    figures.append(plots.save_figure(fig, out / "remedies.png"))

    by_name = {r[0]: r for r in rows}
    numbers = {f"best_val_acc_{r[0].replace(' ', '_')}": r[1] for r in rows}
    numbers.update({f"gap_{r[0].replace(' ', '_')}": r[5] for r in rows})
    baseline = by_name["none"]
    helped = sorted((r for r in rows[1:] if r[1] > baseline[1]), key=lambda r: -r[1])
    narrowed = [r[0] for r in rows[1:] if r[5] < baseline[5] - 0.02]
    best = helped[0] if helped else baseline
    paragraph = (
        f"With {len(train[0])} training signals the {baseline[7]:,}-parameter network fits the "
        f"training set (final train accuracy {baseline[3]:.2f}) while reaching only "
        f"{baseline[4]:.2f} on new signals: a train/validation gap of {baseline[5]:.2f}, the "
        f"signature of overfitting. Each remedy constrains the network differently — penalties "
        f"on the weights, noise in the units (dropout), more varied inputs (augmentation, "
        f"mixup), fewer inputs (PCA) or fewer parameters, or less training (early stopping). "
        f"The gap narrowed by more than 0.02 with: {', '.join(narrowed) or 'none'}. The best "
        f"validation accuracy rose above the baseline's {baseline[1]:.3f} with "
        f"{len(helped)} of {len(rows) - 1} remedies; the best was {best[0]} ({best[1]:.3f}). "
        f"A narrower gap is not always a better model: a smaller network or a strong penalty "
        f"also closes it by fitting the training set less well. "
        + ("Here augmentation, which adds knowledge about the task (a shifted signal is still "
           "the same digit), did most." if best[0] == "augmentation" else
           f"Here {best[0]} did most.")
    )
    return Result("overfitting", TITLE, paragraph, [table], figures, numbers)
