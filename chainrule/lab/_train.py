"""A short, explicit training loop for the lab's classifiers (forward, loss, backward, step),
with per-epoch train/validation curves and optional early stopping."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.data import DataLoader, TensorDataset

__all__ = ["Curves", "fit_classifier", "evaluate", "accuracy", "batch_indices"]


@dataclass
class Curves:
    """Per-epoch metrics of one training run."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    steps: int = 0
    best_epoch: int = 0
    stopped_early: bool = False

    @property
    def best_val_acc(self) -> float:
        return max(self.val_acc) if self.val_acc else math.nan


def evaluate(model, x: np.ndarray, y: np.ndarray, loss_fn: Callable | None = None,
             batch_size: int = 2048) -> tuple[float, float]:
    """(mean loss, accuracy) of ``model`` on arrays ``x``, ``y`` in eval mode, without a graph."""
    loss_fn = loss_fn or nn.functional.cross_entropy
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    try:
        with cr.no_grad():
            for start in range(0, len(x), batch_size):
                inputs = cr.from_numpy(x[start:start + batch_size])
                targets = cr.from_numpy(y[start:start + batch_size])
                logits = model(inputs)
                total_loss += float(loss_fn(logits, targets)) * len(inputs)
                correct += int((logits.data.argmax(axis=1) == targets.data).sum())
    finally:
        model.train(was_training)
    return total_loss / len(x), correct / len(x)


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of ``x`` that ``model`` classifies as ``y``."""
    return evaluate(model, x, y)[1]


def batch_indices(n: int, batch_size: int, rng: np.random.Generator):
    """A shuffled permutation of range(n) cut into batches."""
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def fit_classifier(model, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray],
                   optimizer, epochs: int, batch_size: int = 32, seed: int = 0,
                   loss_fn: Callable | None = None, penalty: Callable | None = None,
                   transform: Callable | None = None, patience: int | None = None) -> Curves:
    """Train ``model`` on ``train`` for ``epochs`` (mini-batches from a DataLoader), recording
    train and validation loss and accuracy after every epoch.

    Args:
        penalty: ``penalty(model) -> Tensor`` added to the loss (L1, L2 by hand).
        transform: the DataLoader's batch transform (augmentation, MixUp).
        patience: early stopping: stop when the validation accuracy has not improved for this
            many epochs and restore the best weights.
    """
    loss_fn = loss_fn or nn.functional.cross_entropy
    loader = DataLoader(TensorDataset(*train), batch_size=batch_size, shuffle=True, seed=seed,
                        transform=transform)
    curves = Curves()
    best_state, best_acc, waited = None, -1.0, 0
    for epoch in range(epochs):
        model.train()
        for inputs, targets in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            if penalty is not None:
                loss = loss + penalty(model)
            loss.backward()
            optimizer.step()
            curves.steps += 1
        train_loss, train_acc = evaluate(model, *train)
        val_loss, val_acc = evaluate(model, *val)
        for name, value in (("train_loss", train_loss), ("train_acc", train_acc),
                            ("val_loss", val_loss), ("val_acc", val_acc)):
            getattr(curves, name).append(value)
        if val_acc > best_acc:
            best_acc, curves.best_epoch, waited = val_acc, epoch, 0
            if patience is not None:
                best_state = copy.deepcopy(model.state_dict())
        else:
            waited += 1
            if patience is not None and waited >= patience:
                curves.stopped_early = True
                break
    if patience is not None and best_state is not None:
        model.load_state_dict(best_state)
    return curves
