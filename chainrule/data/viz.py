"""``show_augmentations``: look at what a transform does before training with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from chainrule.data.dataset import to_numpy

__all__ = ["show_augmentations"]


def _samples(source: Any, n: int, seed: int):
    """(inputs, labels or None, class names or None) of ``n`` samples drawn by ``seed``."""
    if len(source) == 0:
        raise ValueError("show_augmentations got an empty dataset")
    chosen = np.sort(np.random.default_rng(seed).choice(len(source), size=min(n, len(source)),
                                                        replace=False))
    if hasattr(source, "shape"):  # an array or Tensor of inputs
        return to_numpy(source)[chosen], None, None
    classes = getattr(source, "classes", None)
    arrays = getattr(source, "arrays", None)
    if arrays is not None:  # TensorDataset
        return arrays[0][chosen], (arrays[1][chosen] if len(arrays) > 1 else None), classes
    samples = [source[int(i)] for i in chosen]  # any map-style dataset
    if not isinstance(samples[0], (tuple, list)):
        return np.stack([to_numpy(s) for s in samples]), None, None
    inputs = np.stack([to_numpy(s[0]) for s in samples])
    labels = np.stack([to_numpy(s[1]) for s in samples]) if len(samples[0]) > 1 else None
    return inputs, labels, classes


def _label_text(label: np.ndarray, classes) -> str:
    label = np.asarray(label)
    if label.ndim == 1 and label.size > 1:  # soft target: the two largest weights
        top = np.argsort(label)[::-1][:2]
        return " ".join(f"{_label_text(np.int64(k), classes)}:{label[k]:.2f}" for k in top
                        if label[k] > 0.005)
    if np.issubdtype(label.dtype, np.integer) and classes is not None:
        return str(classes[int(label)])
    return f"{label.item():.3g}" if label.size == 1 else ""


def _draw(axis, sample: np.ndarray, low: float, high: float) -> None:
    sample = np.asarray(sample, dtype=np.float32)
    if sample.ndim == 3 and sample.shape[0] in (1, 3):
        if sample.shape[0] == 1:
            axis.imshow(sample[0], cmap="gray", vmin=low, vmax=high, interpolation="nearest")
        else:
            scaled = np.clip((sample - low) / max(high - low, 1e-12), 0, 1)
            axis.imshow(scaled.transpose(1, 2, 0), interpolation="nearest")
    elif sample.ndim == 2 and sample.shape[0] > 1:
        axis.imshow(sample, cmap="gray", vmin=low, vmax=high, interpolation="nearest")
    else:  # a 1-D signal (L,) or (1, L)
        axis.plot(sample.reshape(-1), color="black", linewidth=1)
        axis.set_ylim(low - 0.05 * (high - low), high + 0.05 * (high - low))
    axis.set_xticks([])
    axis.set_yticks([])


def show_augmentations(dataset_or_array: Any, transform: Callable, path: str | Path,
                       n: int = 8, seed: int = 0, copies: int = 3) -> Path:
    """Save a PNG grid: ``n`` originals in the top row, ``copies`` augmented versions below.

    Args:
        dataset_or_array: a (Tensor)Dataset whose inputs are images ``(C, H, W)`` or signals,
            or an array of inputs ``(N, ...)``.
        transform: a batch transform; a ``batch_pair`` one (MixUp, CutMix) also gets the labels
            and the grid shows the two largest soft-target weights.
        path: where to write the PNG (folders are created).
        n: how many samples (drawn with ``seed``). copies: augmented rows.

    Returns:
        The path written.

    Example:
        >>> from chainrule.data import datasets, transforms
        >>> train, _ = datasets.digits()
        >>> rotate = transforms.RandomRotation(30, seed=0)
        >>> show_augmentations(train, rotate, "aug.png")  # doctest: +SKIP
    """
    from matplotlib.figure import Figure  # drawn straight to the file: no backend, no display

    inputs, labels, classes = _samples(dataset_or_array, n, seed)
    pair = getattr(transform, "batch_pair", False)
    if pair and labels is None:
        raise ValueError(f"{type(transform).__name__} needs labels: pass a dataset of "
                         "(input, label) pairs, not bare inputs")
    rows = [(inputs, labels, "original")]
    for copy in range(copies):
        if pair:
            augmented, targets = transform(inputs, labels)
        else:
            augmented, targets = transform(inputs), labels
        rows.append((to_numpy(augmented), targets, f"augmented {copy + 1}"))

    count = len(inputs)
    figure = Figure(figsize=(1.35 * count + 1.2, 1.55 * len(rows)), dpi=100)
    grid = figure.subplots(len(rows), count, squeeze=False)
    for row, (batch, targets, title) in enumerate(rows):
        low, high = float(np.min(batch)), float(np.max(batch))
        for col in range(count):
            axis = grid[row, col]
            _draw(axis, batch[col], low, high if high > low else low + 1.0)
            if targets is not None:
                axis.set_title(_label_text(targets[col], classes), fontsize=8)
            if col == 0:
                axis.set_ylabel(title, fontsize=9)
    figure.suptitle(repr(transform), fontsize=8, wrap=True)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path
