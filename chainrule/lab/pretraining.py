"""Lab 8 — pre-training: an autoencoder learns to reconstruct all 1,797 digit images (no labels),
then its encoder is reused for a classifier trained on a few labels per class — frozen (only
the new output layer learns) or fine-tuned (everything learns) — against the same classifier
trained from scratch on the same labels.

Two encoders of the same shape (64-128-128-32): sigmoid units, the kind of network unsupervised
pre-training was invented for (Hinton & Salakhutdinov 2006), and ReLU units. Every classifier is
trained with Adam (lr 1e-3, batch 16) for the same number of epochs; each accuracy is the mean
over several random draws of the labelled examples.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset, datasets
from chainrule.diagnostics import plots
from chainrule.lab._common import Result, Table
from chainrule.lab._train import fit_classifier
from chainrule.nn.registry import ACTIVATIONS as REGISTRY
from chainrule.train import fit

TITLE = "autoencoder pre-training, then fine-tuning on a few labels"
MODES = ("from scratch", "pre-trained, frozen", "pre-trained, fine-tuned")
ACTIVATIONS = ("sigmoid", "relu")  # names in chainrule.nn.registry
WIDTHS = (64, 128, 128, 32)


def encoder(activation: str) -> nn.Sequential:
    """64 → 128 → 128 → 32, each Linear followed by the activation."""
    layers = []
    for fan_in, fan_out in zip(WIDTHS[:-1], WIDTHS[1:]):
        layers += [nn.Linear(fan_in, fan_out), REGISTRY[activation].module()]
    return nn.Sequential(*layers)


def decoder(activation: str) -> nn.Sequential:
    """32 → 128 → 64 (linear output: pixel values)."""
    return nn.Sequential(nn.Linear(WIDTHS[-1], 128), REGISTRY[activation].module(),
                         nn.Linear(128, WIDTHS[0]))


def pretrain(activation: str, images: np.ndarray, epochs: int, seed: int):
    """Train encoder + decoder to reconstruct ``images`` (mean squared error, Adam)."""
    cr.manual_seed(seed)
    autoencoder = nn.Sequential(encoder(activation), decoder(activation))
    optimizer = optim.Adam(autoencoder.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(images, images), batch_size=64, shuffle=True, seed=seed)
    history = fit(autoencoder, lambda output, target: ((output - target) ** 2).mean(), optimizer,
                  loader, epochs=epochs, metrics=())
    return autoencoder, history["train_loss"]


def _labelled(y: np.ndarray, per_class: int, draw: int) -> np.ndarray:
    rng = np.random.default_rng(1000 + draw)
    return np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False)
                           for c in range(10)])


def classify(mode: str, activation: str, pretrained, train, val, epochs: int, seed: int
             ) -> float:
    """Final validation accuracy of encoder + Linear(32, 10) trained on ``train``."""
    cr.manual_seed(seed)
    body = encoder(activation) if mode == "from scratch" else copy.deepcopy(pretrained)
    model = nn.Sequential(body, nn.Linear(WIDTHS[-1], 10))
    if mode == "pre-trained, frozen":
        body.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    curves = fit_classifier(model, train, val, optim.Adam(trainable, lr=1e-3), epochs=epochs,
                            batch_size=16, seed=seed)
    return curves.val_acc[-1]


def run(out: Path, smoke: bool = False, seed: int = 0) -> Result:
    """Pre-train two autoencoders, then compare scratch / frozen / fine-tuned classifiers."""
    train_split, test_split = datasets.digits(flatten=True, seed=seed)
    x, y = train_split.arrays[0], train_split.arrays[1]
    x_test, y_test = test_split.arrays[0], test_split.arrays[1]
    unlabeled = np.concatenate([x, x_test])  # all images, labels never used
    labels_per_class, draws, ae_epochs, epochs = (([3], 1, 15, 40) if smoke
                                                  else ([1, 3, 10], 3, 100, 100))

    accuracy, rows, autoencoders, ae_losses = {}, [], {}, {}
    for activation in ACTIVATIONS:
        autoencoder, losses = pretrain(activation, unlabeled, ae_epochs, seed)
        autoencoders[activation], ae_losses[activation] = autoencoder, losses
        for per_class in labels_per_class:
            for mode in MODES:
                scores = []
                for draw in range(draws):
                    index = _labelled(y, per_class, draw + seed)
                    scores.append(classify(mode, activation, autoencoder[0],
                                           (x[index], y[index]), (x_test, y_test), epochs,
                                           seed + draw))
                accuracy[activation, per_class, mode] = float(np.mean(scores))
            rows.append([REGISTRY[activation].title, per_class]
                        + [accuracy[activation, per_class, m] for m in MODES])
    table = Table(f"Test accuracy ({len(x_test)} digits) of encoder + linear output, mean over "
                  f"{draws} draw(s) of the labelled examples; {epochs} epochs of Adam; "
                  f"autoencoders pre-trained for {ae_epochs} epochs on {len(unlabeled)} "
                  f"unlabelled images",
                  ["encoder units", "labels per class"] + list(MODES), rows)

    styles = {}
    series = {}
    for activation, color in zip(ACTIVATIONS, ("C3", "C0")):
        for mode, line in zip(MODES, (":", "--", "-")):
            label = f"{REGISTRY[activation].title}, {mode}"
            series[label] = (labels_per_class, [accuracy[activation, k, mode]
                                                for k in labels_per_class])
            styles[label] = dict(color=color, linestyle=line, marker="o")
    figures = [plots.plot_curves(out / "accuracy_vs_labels.png", [
        dict(series=series, styles=styles, title="Test accuracy with few labels",
             xlabel="labelled examples per class (log scale)", ylabel="test accuracy",
             logx=len(labels_per_class) > 1, ylim=(0, 1), xticks=labels_per_class),
        dict(series={f"{REGISTRY[a].title} autoencoder": v for a, v in ae_losses.items()},
             title="Autoencoder pre-training", xlabel="epoch",
             ylabel="reconstruction MSE (log scale)", logy=True),
    ], ncols=2, size=(11.0, 4.2))]
    figures.append(_reconstructions(autoencoders, x_test[:8], out / "reconstructions.png"))

    numbers = {}
    for (activation, per_class, mode), value in accuracy.items():
        short = mode.split(",")[-1].strip().replace(" ", "_")
        numbers[f"acc_{activation.lower()}_{per_class}_{short}"] = value
    k = labels_per_class[-1] if smoke else 3
    gain = {a: accuracy[a, k, MODES[2]] - accuracy[a, k, MODES[0]] for a in ACTIVATIONS}
    numbers.update({f"finetune_gain_{a.lower()}_{k}_per_class": g for a, g in gain.items()})
    frozen_vs_tuned = {a: accuracy[a, k, MODES[2]] - accuracy[a, k, MODES[1]]
                       for a in ACTIVATIONS}
    paragraph = (
        f"With {k} labelled digits per class, the sigmoid network trained from scratch reaches "
        f"{accuracy['sigmoid', k, MODES[0]]:.2f} test accuracy, and "
        f"{accuracy['sigmoid', k, MODES[2]]:.2f} "
        f"when its encoder was first pre-trained as an autoencoder on the unlabelled images "
        f"(a gain of {gain['sigmoid']:+.2f})"
        + (": the reconstruction task put the weights where the gradients of a deep sigmoid "
           "network, weak at random initialization, can take them further — the reason "
           "unsupervised pre-training was how deep networks were trained before ReLU and good "
           "initializations. " if gain["sigmoid"] > 0.05 else ". ")
        + f"With ReLU units the network trained from scratch reaches "
        f"{accuracy['relu', k, MODES[0]]:.2f} and pre-training changes the result by "
        f"{gain['relu']:+.2f}"
        + (f", {'far ' if gain['sigmoid'] > gain['relu'] + 0.1 else ''}less than for sigmoid "
           "units: a network that trains well from scratch has less to gain. "
           if gain["relu"] < gain["sigmoid"] else ". ")
        + f"Fine-tuning the whole network instead of freezing the encoder changes the accuracy "
        f"by {frozen_vs_tuned['sigmoid']:+.2f} (sigmoid) and {frozen_vs_tuned['relu']:+.2f} "
        f"(ReLU)"
        + (": features learnt for reconstruction keep details a classifier does not need, and "
           "fine-tuning lets the labels reshape them." if min(frozen_vs_tuned.values()) > 0
           else ".")
    )
    return Result("pretraining", TITLE, paragraph, [table], figures, numbers)


def _reconstructions(autoencoders: dict, images: np.ndarray, path: Path) -> Path:
    rows = 1 + len(autoencoders)
    fig, axes = plots.new_figure(rows, len(images), size=(1.2 * len(images), 1.35 * rows),
                                 squeeze=False)
    pictures = [("original", images)]
    for activation, autoencoder in autoencoders.items():
        with cr.no_grad():
            pictures.append((f"{REGISTRY[activation].title} AE",
                             autoencoder(cr.from_numpy(images)).data))
    for row, (name, batch) in enumerate(pictures):
        for col in range(len(images)):
            axis = axes[row, col]
            axis.imshow(np.clip(batch[col].reshape(8, 8), 0, 1), cmap="gray", vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
            if col == 0:
                axis.set_ylabel(name, fontsize=8)
    fig.suptitle("Test digits and their reconstructions", fontsize=10)
    return plots.save_figure(fig, path)
