"""``fit_classifier``: the lab's classifiers train through ``chainrule.train.fit``, with the
curves the experiments draw: accuracy on the clean training set and on the validation set
after every epoch (both in eval mode), and optional early stopping on the validation accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from chainrule.data import DataLoader, TensorDataset
from chainrule.nn import functional as F
from chainrule.train import Callback, EarlyStopping, evaluate, fit

__all__ = ["Curves", "fit_classifier"]

_EVAL_BATCH = 2048


@dataclass
class Curves:
    """Per-epoch accuracies of one training run (epoch 0 = the first)."""

    train_acc: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    stopped_early: bool = False

    @property
    def best_epoch(self) -> int:
        """The first epoch with the best validation accuracy."""
        return int(np.argmax(self.val_acc)) if self.val_acc else 0

    @property
    def best_val_acc(self) -> float:
        return max(self.val_acc) if self.val_acc else math.nan


class _Record(Callback):
    """After each epoch: the accuracy on the clean training set (no augmentation, eval mode),
    and the validation accuracy that ``fit`` measured."""

    def __init__(self, train_loader: DataLoader, curves: Curves) -> None:
        self.train_loader, self.curves = train_loader, curves

    def on_epoch_end(self, state) -> None:
        clean = evaluate(state.model, self.train_loader, metrics=("accuracy",))
        self.curves.train_acc.append(clean["accuracy"])
        self.curves.val_acc.append(state.logs["val_accuracy"])


def fit_classifier(model, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray],
                   optimizer, epochs: int, batch_size: int = 32, seed: int = 0,
                   penalty: Callable | None = None, l1: float = 0.0,
                   transform: Callable | None = None, patience: int | None = None) -> Curves:
    """Train ``model`` on the arrays ``train`` with cross-entropy for ``epochs`` (shuffled
    mini-batches seeded by ``seed``), recording the accuracies after every epoch.

    Args:
        penalty: ``penalty(model) -> Tensor`` added to the loss (e.g. an L2 term).
        l1: weight of ``fit``'s L1 penalty on the weights.
        transform: the training DataLoader's batch transform (augmentation, MixUp).
        patience: early stopping: stop when the validation accuracy has not improved for this
            many epochs and restore the best weights.
    """
    def loss_fn(outputs, targets):
        loss = F.cross_entropy(outputs, targets)
        return loss if penalty is None else loss + penalty(model)

    loader = DataLoader(TensorDataset(*train), batch_size=batch_size, shuffle=True, seed=seed,
                        transform=transform)
    curves = Curves()
    # seeded, so that no loader draws from the global generator the model's dropout uses
    callbacks = [_Record(DataLoader(TensorDataset(*train), _EVAL_BATCH, seed=seed), curves)]
    if patience is not None:
        callbacks.append(EarlyStopping("val_accuracy", patience=patience, restore_best=True))
    val_loader = DataLoader(TensorDataset(*val), _EVAL_BATCH, seed=seed)
    history = fit(model, loss_fn, optimizer, loader, val_loader, epochs=epochs,
                  callbacks=callbacks, metrics=("accuracy",), l1=l1)
    curves.stopped_early = history.stop_reason is not None
    return curves
