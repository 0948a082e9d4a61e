"""Pixel transforms: Gaussian noise, 1-D shifts and random erasing."""

from __future__ import annotations


import numpy as np

from chainrule.data.transforms.base import RandomTransform, _as_images, _float_copy_source, _pair

__all__ = ["GaussianNoise", "RandomShift1d", "RandomErasing"]


class GaussianNoise(RandomTransform):
    """Add independent normal noise: ``x + mean + std * z`` with ``z ~ N(0, 1)``.

    Works on any shape: images ``(N, C, H, W)`` or 1-D signals ``(N, L)`` / ``(N, C, L)``.

    Example:
        >>> out = GaussianNoise(0.1, seed=0)(np.zeros((2, 1, 4, 4), np.float32))
        >>> out.dtype, out.shape
        (dtype('float32'), (2, 1, 4, 4))
    """

    def __init__(self, std: float, mean: float = 0.0,
                 seed: int | np.random.Generator | None = None) -> None:
        super().__init__(seed)
        if std < 0:
            raise ValueError(f"GaussianNoise std must be >= 0, got {std}")
        self.std = float(std)
        self.mean = float(mean)

    def __call__(self, x):
        array = _float_copy_source(x)
        noise = self.rng.standard_normal(array.shape, dtype=np.float32)
        return (array + (noise * self.std + self.mean).astype(array.dtype, copy=False))

    def __repr__(self) -> str:
        return f"GaussianNoise(std={self.std}, mean={self.mean})"


class RandomShift1d(RandomTransform):
    """Shift each 1-D signal by a whole number of steps in ``[-max_shift, max_shift]``.

    For signals ``(N, L)`` or ``(N, C, L)`` (e.g. MNIST-1D); vacated steps read ``fill``.
    A shift ``k > 0`` moves the signal right: ``out[..., t] = x[..., t - k]``.

    Example:
        >>> x = np.arange(1, 6, dtype=np.float32)[None]
        >>> RandomShift1d(2, seed=0)(x).shape
        (1, 5)
    """

    def __init__(self, max_shift: int, fill: float = 0.0,
                 seed: int | np.random.Generator | None = None) -> None:
        super().__init__(seed)
        if isinstance(max_shift, bool) or not isinstance(max_shift, (int, np.integer)) \
                or max_shift < 0:
            raise ValueError(f"RandomShift1d max_shift must be an int >= 0, got {max_shift!r}")
        self.max_shift = int(max_shift)
        self.fill = float(fill)

    def __call__(self, x):
        signals = _float_copy_source(x)
        if signals.ndim not in (2, 3):
            raise ValueError(f"RandomShift1d expects signals (N, L) or (N, C, L), got shape "
                             f"{signals.shape}")
        n, length = signals.shape[0], signals.shape[-1]
        shift = self.rng.integers(-self.max_shift, self.max_shift + 1, size=n)
        source = np.arange(length)[None, :] - shift[:, None]  # (N, L)
        inside = (source >= 0) & (source < length)
        if signals.ndim == 3:
            source, inside = source[:, None, :], inside[:, None, :]
        gathered = np.take_along_axis(signals, np.clip(source, 0, length - 1), axis=-1)
        return np.where(inside, gathered, signals.dtype.type(self.fill))

    def __repr__(self) -> str:
        return f"RandomShift1d(max_shift={self.max_shift})"


class RandomErasing(RandomTransform):
    """With probability ``p``, set a random rectangle of each image to ``value`` (as torchvision).

    The rectangle covers a fraction of the area drawn from ``scale``, with aspect ratio (h/w)
    log-uniform in ``ratio``; an image where 10 draws do not fit is left unchanged.

    Example:
        >>> out = RandomErasing(p=1.0, seed=0)(np.ones((2, 1, 8, 8), np.float32))
        >>> bool((out == 0).any())
        True
    """

    def __init__(self, p: float = 0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value: float = 0.0,
                 seed: int | np.random.Generator | None = None) -> None:
        super().__init__(seed)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomErasing p must be in [0, 1], got {p}")
        self.p = float(p)
        self.scale = _pair(scale, "scale", "RandomErasing", symmetric=False)
        self.ratio = _pair(ratio, "ratio", "RandomErasing", symmetric=False)
        self.value = float(value)

    def boxes(self, n: int, height: int, width: int) -> np.ndarray:
        """(n, 4) ints ``(top, left, height, width)``; height 0 where nothing is erased."""
        rng, tries = self.rng, 10
        area = height * width * rng.uniform(*self.scale, size=(n, tries))
        aspect = np.exp(rng.uniform(np.log(self.ratio[0]), np.log(self.ratio[1]), size=(n, tries)))
        box_h = np.rint(np.sqrt(area * aspect)).astype(np.int64)
        box_w = np.rint(np.sqrt(area / aspect)).astype(np.int64)
        fits = (box_h < height) & (box_w < width)
        first = np.argmax(fits, axis=1)
        rows = np.arange(n)
        erase = fits.any(axis=1) & (rng.random(n) < self.p)
        box_h = np.where(erase, box_h[rows, first], 0)
        box_w = np.where(erase, box_w[rows, first], 0)
        top = rng.integers(0, height - box_h + 1)
        left = rng.integers(0, width - box_w + 1)
        return np.stack([top, left, box_h, box_w], axis=1)

    def __call__(self, x):
        images, single = _as_images(x, "RandomErasing")
        n, _, height, width = images.shape
        top, left, box_h, box_w = self.boxes(n, height, width).T[:, :, None, None, None]
        rows = np.arange(height)[:, None]
        cols = np.arange(width)[None, :]
        inside = (rows >= top) & (rows < top + box_h) & (cols >= left) & (cols < left + box_w)
        out = np.where(inside, images.dtype.type(self.value), images)
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"RandomErasing(p={self.p}, scale={self.scale}, ratio={self.ratio})"
