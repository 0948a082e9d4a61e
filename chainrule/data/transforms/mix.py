"""Batch mixing: MixUp and CutMix, which return soft targets."""

from __future__ import annotations


import numpy as np

from chainrule.data.dataset import to_numpy
from chainrule.data.transforms.base import RandomTransform, _as_images

__all__ = ["MixUp", "CutMix"]


def _soft_targets(labels, num_classes: int, owner: str) -> np.ndarray:
    labels = to_numpy(labels)
    if labels.ndim == 2 and np.issubdtype(labels.dtype, np.floating):
        if labels.shape[1] != num_classes:
            raise ValueError(f"{owner} got soft targets with {labels.shape[1]} classes, "
                             f"expected num_classes={num_classes}")
        return labels.astype(np.float32)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{owner} expects integer labels (N,) or soft targets (N, "
                         f"{num_classes}), got shape {labels.shape} dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"{owner} labels must lie in [0, {num_classes}), got values from "
                         f"{labels.min()} to {labels.max()}; check num_classes")
    return np.eye(num_classes, dtype=np.float32)[labels]


class _BatchMix(RandomTransform):
    batch_pair = True

    def __init__(self, alpha: float = 1.0, num_classes: int | None = None,
                 seed: int | np.random.Generator | None = None) -> None:
        super().__init__(seed)
        if alpha <= 0:
            raise ValueError(f"{type(self).__name__} alpha must be > 0, got {alpha}")
        if num_classes is None or int(num_classes) < 1:
            raise ValueError(f"{type(self).__name__} needs num_classes >= 1 to build soft "
                             f"targets, got {num_classes!r}")
        self.alpha = float(alpha)
        self.num_classes = int(num_classes)

    def _prepare(self, images, labels):
        batch, single = _as_images(images, type(self).__name__)
        if single:
            raise ValueError(f"{type(self).__name__} mixes a batch (N, C, H, W), got one image")
        targets = _soft_targets(labels, self.num_classes, type(self).__name__)
        if len(targets) != len(batch):
            raise ValueError(f"{type(self).__name__} got {len(batch)} images but "
                             f"{len(targets)} labels")
        return batch, targets, float(self.rng.beta(self.alpha, self.alpha))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alpha={self.alpha}, num_classes={self.num_classes})"


class MixUp(_BatchMix):
    """Blend each image with the next one in the batch: ``lam * x + (1 - lam) * roll(x, 1)``.

    ``lam ~ Beta(alpha, alpha)`` once per batch (as torchvision); targets are mixed the same way.

    Returns:
        ``(images float32 (N, C, H, W), targets float32 (N, num_classes))``, each target row a
        probability vector, for a cross-entropy that takes probabilities.

    Example:
        >>> x, y = MixUp(1.0, num_classes=3, seed=0)(np.zeros((4, 1, 2, 2), np.float32),
        ...                                          np.array([0, 1, 2, 0]))
        >>> y.shape, bool(np.allclose(y.sum(1), 1))
        ((4, 3), True)
    """

    def __call__(self, images, labels):
        batch, targets, lam = self._prepare(images, labels)
        mixed = batch * lam + np.roll(batch, 1, axis=0) * (1.0 - lam)
        soft = targets * lam + np.roll(targets, 1, axis=0) * (1.0 - lam)
        return mixed, soft


class CutMix(_BatchMix):
    """Paste a box of the next image in the batch into each image; mix targets by area.

    ``lam ~ Beta(alpha, alpha)``; the box has area about ``(1 - lam) * H * W`` around a random
    centre, clipped at the border, and targets use the clipped area (as torchvision).

    Returns:
        ``(images float32 (N, C, H, W), targets float32 (N, num_classes))``.

    Example:
        >>> x, y = CutMix(1.0, num_classes=2, seed=0)(np.ones((2, 1, 4, 4), np.float32),
        ...                                           np.array([0, 1]))
        >>> x.shape, y.dtype
        ((2, 1, 4, 4), dtype('float32'))
    """

    def box(self, lam: float, height: int, width: int) -> tuple[int, int, int, int]:
        """``(top, bottom, left, right)`` of the pasted box for mixing weight ``lam``."""
        centre_x = int(self.rng.integers(width))
        centre_y = int(self.rng.integers(height))
        ratio = 0.5 * np.sqrt(1.0 - lam)
        half_w, half_h = int(ratio * width), int(ratio * height)
        return (max(centre_y - half_h, 0), min(centre_y + half_h, height),
                max(centre_x - half_w, 0), min(centre_x + half_w, width))

    def __call__(self, images, labels):
        batch, targets, lam = self._prepare(images, labels)
        height, width = batch.shape[2:]
        top, bottom, left, right = self.box(lam, height, width)
        mixed = batch.copy()
        box = (slice(None), slice(None), slice(top, bottom), slice(left, right))
        mixed[box] = np.roll(batch, 1, axis=0)[box]
        lam = 1.0 - (bottom - top) * (right - left) / (height * width)
        soft = targets * lam + np.roll(targets, 1, axis=0) * (1.0 - lam)
        return mixed, soft
