"""Small seeded 2-D toy problems for classification, and a 1-D regression set.

Every function draws ``n_samples`` points from its own ``numpy.random.default_rng(seed)`` (the
global random state is untouched) and returns ``Splits(train, test)``: inputs float32
``(N, 2)`` and labels int64 ``(N,)`` (stratified split), or float32 ``(N, 1)`` inputs and
targets for ``sine``.
"""

from __future__ import annotations

import numpy as np

from chainrule.data.dataset import Splits
from chainrule.data.datasets._split import check_fraction, make_splits

__all__ = ["spirals", "moons", "circles", "xor", "sine"]


def _check(n_samples: int, noise: float, test_fraction: float, owner: str) -> None:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 2:
        raise ValueError(f"{owner} n_samples must be an int >= 2, got {n_samples!r}")
    if noise < 0:
        raise ValueError(f"{owner} noise must be >= 0, got {noise}")
    check_fraction(test_fraction, owner)


def _per_class(n_samples: int, n_classes: int) -> np.ndarray:
    """How many samples each class gets: as equal as possible, the first classes one more."""
    extra = np.arange(n_classes) < n_samples % n_classes
    return np.full(n_classes, n_samples // n_classes) + extra


def _finish(points, labels, noise, rng, test_fraction, seed, name, num_classes) -> Splits:
    points = points + noise * rng.standard_normal(points.shape)
    return make_splits(points.astype(np.float32), labels.astype(np.int64), test_fraction, seed,
                       name, num_classes)


def spirals(n_samples: int = 600, n_classes: int = 3, noise: float = 0.2,
            test_fraction: float = 0.2, seed: int = 0) -> Splits:
    """Interleaved spiral arms, one per class (the CS231n toy problem).

    Arm ``k`` has radius ``r = linspace(0, 1)`` and angle ``4k + 4r`` (radians) plus
    ``noise`` times normal noise on the angle: point ``(r sin t, r cos t)``.

    Example:
        >>> train, test = spirals(n_samples=300, n_classes=3)
        >>> train.arrays[0].shape[1], train.num_classes
        (2, 3)
    """
    _check(n_samples, noise, test_fraction, "spirals")
    if n_classes < 2:
        raise ValueError(f"spirals n_classes must be >= 2, got {n_classes}")
    rng = np.random.default_rng(seed)
    counts = _per_class(n_samples, n_classes)
    labels = np.repeat(np.arange(n_classes), counts)
    radius = np.concatenate([np.linspace(0.0, 1.0, c) for c in counts])
    angle = labels * 4.0 + radius * 4.0 + noise * rng.standard_normal(n_samples)
    points = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)
    return make_splits(points.astype(np.float32), labels.astype(np.int64), test_fraction, seed,
                       "spirals", n_classes)


def moons(n_samples: int = 1000, noise: float = 0.1, test_fraction: float = 0.2,
          seed: int = 0) -> Splits:
    """Two interleaving half circles (as scikit-learn's ``make_moons``) plus normal noise.

    Class 0: ``(cos t, sin t)``; class 1: ``(1 - cos t, 0.5 - sin t)``, ``t`` in ``[0, pi]``.

    Example:
        >>> train, test = moons(n_samples=100)
        >>> len(train), len(test)
        (80, 20)
    """
    _check(n_samples, noise, test_fraction, "moons")
    rng = np.random.default_rng(seed)
    counts = _per_class(n_samples, 2)
    outer = np.linspace(0.0, np.pi, counts[0])
    inner = np.linspace(0.0, np.pi, counts[1])
    points = np.concatenate([np.stack([np.cos(outer), np.sin(outer)], 1),
                             np.stack([1.0 - np.cos(inner), 0.5 - np.sin(inner)], 1)])
    labels = np.repeat([0, 1], counts)
    return _finish(points, labels, noise, rng, test_fraction, seed, "moons", 2)


def circles(n_samples: int = 1000, noise: float = 0.05, factor: float = 0.5,
            test_fraction: float = 0.2, seed: int = 0) -> Splits:
    """A circle of radius 1 (class 0) around one of radius ``factor`` (class 1), plus noise.

    Example:
        >>> train, _ = circles(n_samples=100, noise=0.0)
        >>> bool(np.allclose(np.linalg.norm(train.arrays[0][train.arrays[1] == 0], axis=1), 1))
        True
    """
    _check(n_samples, noise, test_fraction, "circles")
    if not 0 < factor < 1:
        raise ValueError(f"circles factor must be in (0, 1), got {factor}")
    rng = np.random.default_rng(seed)
    counts = _per_class(n_samples, 2)
    labels = np.repeat([0, 1], counts)
    angle = np.concatenate([np.linspace(0, 2 * np.pi, c, endpoint=False) for c in counts])
    radius = np.where(labels == 0, 1.0, factor)
    points = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return _finish(points, labels, noise, rng, test_fraction, seed, "circles", 2)


def xor(n_samples: int = 1000, noise: float = 0.1, test_fraction: float = 0.2,
        seed: int = 0) -> Splits:
    """Points uniform in ``[-1, 1]²``, label 1 when exactly one coordinate is positive.

    The label is fixed before ``noise`` times normal noise is added to the points.

    Example:
        >>> train, _ = xor(n_samples=200, noise=0.0)
        >>> x, y = train.arrays
        >>> bool(np.all(y == ((x[:, 0] > 0) ^ (x[:, 1] > 0))))
        True
    """
    _check(n_samples, noise, test_fraction, "xor")
    rng = np.random.default_rng(seed)
    points = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
    labels = (points[:, 0] > 0) ^ (points[:, 1] > 0)
    return _finish(points, labels, noise, rng, test_fraction, seed, "xor", 2)


def sine(n_samples: int = 1000, noise: float = 0.1, x_range: tuple[float, float] = (-np.pi, np.pi),
         test_fraction: float = 0.2, seed: int = 0) -> Splits:
    """Regression: ``y = sin(x) + noise * z`` with ``x`` uniform in ``x_range``, ``z ~ N(0, 1)``.

    Shape:
        inputs float32 ``(N, 1)``, targets float32 ``(N, 1)``; ``num_classes`` is ``None``.

    Example:
        >>> train, _ = sine(n_samples=50, noise=0.0)
        >>> x, y = train.arrays
        >>> bool(np.allclose(y, np.sin(x), atol=1e-6))
        True
    """
    _check(n_samples, noise, test_fraction, "sine")
    low, high = float(x_range[0]), float(x_range[1])
    if not low < high:
        raise ValueError(f"sine x_range must be (low, high) with low < high, got {x_range!r}")
    rng = np.random.default_rng(seed)
    inputs = rng.uniform(low, high, size=(n_samples, 1))
    targets = np.sin(inputs) + noise * rng.standard_normal((n_samples, 1))
    return make_splits(inputs.astype(np.float32), targets.astype(np.float32), test_fraction,
                       seed, "sine", None)
