"""Deterministic train/test splitting shared by the bundled datasets (private)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from chainrule.data.dataset import Splits, TensorDataset


def check_fraction(test_fraction: float, owner: str) -> float:
    """Validate a test fraction in [0, 1)."""
    if isinstance(test_fraction, bool) or not 0.0 <= float(test_fraction) < 1.0:
        raise ValueError(f"{owner} test_fraction must be in [0, 1), got {test_fraction!r}")
    return float(test_fraction)


def split_indices(labels: np.ndarray | None, n: int, test_fraction: float, seed: int,
                  stratify: bool) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) index arrays; stratified: each class gives round(f * count) tests."""
    # a stream of its own, so a dataset generated from the same seed is not correlated with it
    rng = np.random.default_rng([int(seed), 1])
    if not stratify or labels is None:
        order = rng.permutation(n)
        n_test = int(round(test_fraction * n))
        return np.sort(order[n_test:]), np.sort(order[:n_test])
    test_parts = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        members = members[rng.permutation(len(members))]
        test_parts.append(members[: int(round(test_fraction * len(members)))])
    test = np.sort(np.concatenate(test_parts)) if test_parts else np.zeros(0, np.int64)
    train = np.setdiff1d(np.arange(n), test)
    return train, test


def make_splits(inputs: np.ndarray, targets: np.ndarray, test_fraction: float, seed: int,
                name: str, num_classes: int | None, classes: Sequence[str] | None = None,
                ) -> Splits:
    """Split (inputs, targets) into a ``Splits(train, test)`` of TensorDatasets."""
    stratify = num_classes is not None
    train, test = split_indices(targets if stratify else None, len(inputs), test_fraction,
                                seed, stratify)
    return Splits(
        TensorDataset(inputs[train], targets[train], num_classes=num_classes, classes=classes,
                      name=f"{name}/train"),
        TensorDataset(inputs[test], targets[test], num_classes=num_classes, classes=classes,
                      name=f"{name}/test"),
    )
