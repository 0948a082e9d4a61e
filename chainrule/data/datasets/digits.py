"""The 8x8 handwritten digits bundled with scikit-learn (offline, 1,797 images)."""

from __future__ import annotations

import functools

import numpy as np

from chainrule.data.dataset import Splits
from chainrule.data.datasets._split import check_fraction, make_splits

__all__ = ["digits"]


@functools.lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:  # pragma: no cover - scikit-learn is a test dependency
        raise ImportError("digits() reads scikit-learn's bundled copy: pip install scikit-learn"
                          ) from error
    bunch = load_digits()
    images = (bunch.images.astype(np.float32) / 16.0)[:, None]  # (N, 1, 8, 8) in [0, 1]
    labels = bunch.target.astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def digits(flatten: bool = False, test_fraction: float = 0.2, seed: int = 0) -> Splits:
    """The UCI/scikit-learn 8x8 handwritten digits, split into train and test.

    1,797 grayscale images of the digits 0-9, pixel values 0..16 scaled to [0, 1]. The split
    is stratified (each class gives ``round(test_fraction * count)`` test images) and fixed by
    ``seed``; it needs no network.

    Args:
        flatten: return 64-vectors instead of 1x8x8 images.
        test_fraction: share of each class held out for the test split.
        seed: seeds the split.

    Shape:
        inputs float32 ``(N, 1, 8, 8)`` (or ``(N, 64)`` with ``flatten``), labels int64 ``(N,)``;
        ``num_classes = 10``. With the defaults: 1,438 train and 359 test samples.

    Example:
        >>> train, test = digits()
        >>> train.input_shape, train.num_classes, len(train) + len(test)
        ((1, 8, 8), 10, 1797)
    """
    check_fraction(test_fraction, "digits")
    images, labels = _load()
    inputs = images.reshape(len(images), -1) if flatten else images
    classes = [str(k) for k in range(10)]
    return make_splits(inputs, labels, test_fraction, seed, "digits", 10, classes)
