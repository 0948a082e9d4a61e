"""The transform base: shared argument checks, ``RandomTransform``, ``Compose``, ``Normalize``."""

from __future__ import annotations

from numbers import Real
from typing import Any, Callable, Sequence

import numpy as np

from chainrule.data.dataset import as_generator, to_numpy

__all__ = ["RandomTransform", "Compose", "Normalize"]


_MODES = ("bilinear", "nearest")


def _float_copy_source(x: Any) -> np.ndarray:
    array = to_numpy(x)
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
    return array


def _as_images(x: Any, owner: str) -> tuple[np.ndarray, bool]:
    """``(batch (N, C, H, W), was_single_image)`` from ``(N, C, H, W)`` or ``(C, H, W)``."""
    array = _float_copy_source(x)
    if array.ndim == 3:
        return array[None], True
    if array.ndim != 4:
        raise ValueError(
            f"{owner} expects images of shape (N, C, H, W) or one image (C, H, W), got shape "
            f"{array.shape}; add a channel axis to grayscale images (x[:, None])"
        )
    return array, False


def _pair(value: Any, name: str, owner: str, symmetric: bool) -> tuple[float, float]:
    """A number ``d`` as ``(-d, d)`` (or ``(d, d)``), or a ``(low, high)`` pair, as floats."""
    if isinstance(value, Real) and not isinstance(value, bool):
        if symmetric:
            if value < 0:
                raise ValueError(f"{owner} {name} must be >= 0 when a single number, got {value}")
            return -float(value), float(value)
        return float(value), float(value)
    values = tuple(value)
    if len(values) != 2 or values[0] > values[1]:
        raise ValueError(f"{owner} {name} must be a number or a (min, max) pair, got {value!r}")
    return float(values[0]), float(values[1])


def _size(value: Any, owner: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value), int(value))
    values = tuple(int(v) for v in value)
    if len(values) != 2 or min(values) < 1:
        raise ValueError(f"{owner} size must be a positive int or (height, width), got {value!r}")
    return values


class RandomTransform:
    """Base of random transforms: holds the ``seed`` and gives ``self.rng`` (a Generator)."""

    def __init__(self, seed: int | np.random.Generator | None = None) -> None:
        self._own_rng = None if seed is None else as_generator(seed)

    @property
    def rng(self) -> np.random.Generator:
        """This transform's generator, or chainrule's global one when no seed was given."""
        return self._own_rng if self._own_rng is not None else as_generator(None)


class Compose:
    """Apply transforms one after another.

    Called as ``compose(x)``, or as ``compose(x, y)`` when it holds a batch-pair transform
    (MixUp, CutMix): plain transforms then see only ``x``, pair transforms see both.

    Example:
        >>> t = Compose([RandomHorizontalFlip(0.5, seed=0), Normalize(0.5, 0.25)])
        >>> t(np.ones((2, 1, 4, 4), np.float32)).max()
        np.float32(2.0)
    """

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose expects callables, got {type(t).__name__}: {t!r}")

    @property
    def batch_pair(self) -> bool:
        """True when some transform needs ``(images, labels)``."""
        return any(getattr(t, "batch_pair", False) for t in self.transforms)

    def __call__(self, x, y=None):
        if y is None and self.batch_pair:
            raise ValueError("this Compose holds MixUp/CutMix: call it as compose(images, labels)")
        for t in self.transforms:
            if getattr(t, "batch_pair", False):
                x, y = t(x, y)
            else:
                x = t(x)
        return x if y is None else (x, y)

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"


class Normalize:
    """``(x - mean[c]) / std[c]`` for each channel ``c``.

    Args:
        mean, std: one number for all channels or one per channel.

    Example:
        >>> Normalize([0.5], [0.5])(np.ones((1, 1, 2, 2), np.float32))[0, 0, 0, 0]
        np.float32(1.0)
    """

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]) -> None:
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float32))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float32))
        if self.mean.ndim != 1 or self.std.ndim != 1 or np.any(self.std <= 0):
            raise ValueError(f"Normalize needs 1-D mean and positive std, got {mean!r}, {std!r}")

    def __call__(self, x):
        images, single = _as_images(x, "Normalize")
        channels = images.shape[1]
        for name, values in (("mean", self.mean), ("std", self.std)):
            if values.size not in (1, channels):
                raise ValueError(
                    f"Normalize {name} has {values.size} values but the images have "
                    f"{channels} channels; give one value or one per channel"
                )
        mean = self.mean.astype(images.dtype).reshape(-1, 1, 1)
        std = self.std.astype(images.dtype).reshape(-1, 1, 1)
        out = (images - mean) / std
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"
