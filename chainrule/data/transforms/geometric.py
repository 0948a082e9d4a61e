"""Geometric transforms: flips, affine warps and rotations, resizing and crops."""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np

from chainrule.data.transforms import warp as _warp
from chainrule.data.transforms.base import (
    RandomTransform, _as_images, _float_copy_source, _pair, _size,
)

__all__ = ["RandomHorizontalFlip", "RandomVerticalFlip", "RandomAffine", "RandomRotation",
           "Resize", "RandomResizedCrop", "RandomCrop"]

_MODES = ("bilinear", "nearest")


class _RandomFlip(RandomTransform):
    axis = -1

    def __init__(self, p: float = 0.5, seed: int | np.random.Generator | None = None) -> None:
        super().__init__(seed)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__} p must be in [0, 1], got {p}")
        self.p = float(p)

    def __call__(self, x):
        array = _float_copy_source(x)
        if array.ndim < 2:
            raise ValueError(f"{type(self).__name__} expects (N, ...) batches, got {array.shape}")
        single = array.ndim == 3  # one (C, H, W) image; (N, L) is a batch of 1-D signals
        if array.ndim == 2 and self.axis == -2:
            raise ValueError(f"{type(self).__name__} needs images (N, C, H, W), got {array.shape}")
        batch = array[None] if single else array
        chosen = self.rng.random(batch.shape[0]) < self.p
        chosen = chosen.reshape((-1,) + (1,) * (batch.ndim - 1))
        out = np.where(chosen, np.flip(batch, axis=self.axis), batch)
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class RandomHorizontalFlip(_RandomFlip):
    """Mirror each image left-right (last axis) with probability ``p``.

    Works on images ``(N, C, H, W)``, one image ``(C, H, W)`` and 1-D signals ``(N, L)``.

    Example:
        >>> x = np.arange(3, dtype=np.float32).reshape(1, 1, 1, 3)
        >>> RandomHorizontalFlip(p=1.0)(x).ravel()
        array([2., 1., 0.], dtype=float32)
    """


class RandomVerticalFlip(_RandomFlip):
    """Mirror each image top-bottom (axis -2) with probability ``p``.

    Example:
        >>> x = np.arange(2, dtype=np.float32).reshape(1, 1, 2, 1)
        >>> RandomVerticalFlip(p=1.0)(x).ravel()
        array([1., 0.], dtype=float32)
    """

    axis = -2


class RandomAffine(RandomTransform):
    """Random rotation, translation, scale and shear of each image, resampled in one pass.

    Args:
        degrees: angle range, ``d`` for ``[-d, d]`` or ``(min, max)``; counter-clockwise > 0.
        translate: ``(a, b)``: shift by up to ``a * W`` columns and ``b * H`` rows, rounded to
            whole pixels (as torchvision).
        scale: ``(min, max)`` zoom factor (> 1 enlarges).
        shear: x-shear range (``s`` or ``(min, max)``, degrees), or four numbers for x and y
            ranges: ``x' = x + tan(sx) * y``, ``y' = y + tan(sy) * x`` before rotation.
        interpolation: ``"bilinear"`` or ``"nearest"``; points from outside read ``fill``.

    Example:
        >>> x = np.random.default_rng(0).random((2, 1, 5, 5), dtype=np.float32)
        >>> np.array_equal(RandomAffine(0)(x), x)
        True
    """

    def __init__(self, degrees, translate=None, scale=None, shear=None,
                 interpolation: str = "bilinear", fill: float = 0.0,
                 seed: int | np.random.Generator | None = None) -> None:
        super().__init__(seed)
        name = type(self).__name__
        self.degrees = _pair(degrees, "degrees", name, symmetric=True)
        self.translate = None if translate is None else tuple(float(t) for t in translate)
        if self.translate is not None and (
            len(self.translate) != 2 or not all(0 <= t <= 1 for t in self.translate)
        ):
            raise ValueError(
                f"{name} translate must be (a, b) with 0 <= a, b <= 1, got {translate!r}"
            )
        self.scale = None if scale is None else _pair(scale, "scale", name, symmetric=False)
        if self.scale is not None and self.scale[0] <= 0:
            raise ValueError(f"{name} scale must be positive, got {scale!r}")
        self.shear = None
        if shear is not None:
            values = [shear] if isinstance(shear, Real) else list(shear)
            if len(values) == 4:
                self.shear = (_pair(values[:2], "shear", name, False),
                              _pair(values[2:], "shear", name, False))
            elif len(values) in (1, 2):
                value = values[0] if len(values) == 1 else values
                self.shear = (_pair(value, "shear", name, symmetric=True), (0.0, 0.0))
            else:
                raise ValueError(f"{name} shear must be a number, 2 or 4 numbers, got {shear!r}")
        if interpolation not in _MODES:
            raise ValueError(f"{name} interpolation must be one of {_MODES}, got {interpolation!r}")
        self.interpolation = interpolation
        self.fill = float(fill)

    def _parameters(self, n: int, height: int, width: int):
        rng = self.rng
        angle = rng.uniform(*self.degrees, size=n)
        translate = np.zeros((n, 2))
        if self.translate is not None:
            limit = np.array([self.translate[0] * width, self.translate[1] * height])
            translate = np.round(rng.uniform(-limit, limit, size=(n, 2)))
        scale = np.ones(n) if self.scale is None else rng.uniform(*self.scale, size=n)
        shear = np.zeros((n, 2))
        if self.shear is not None:
            shear[:, 0] = rng.uniform(*self.shear[0], size=n)
            shear[:, 1] = rng.uniform(*self.shear[1], size=n)
        return angle, translate, scale, shear

    def __call__(self, x):
        images, single = _as_images(x, type(self).__name__)
        n, _, height, width = images.shape
        theta = _warp.affine_inverse(*self._parameters(n, height, width), height, width)
        out = _warp.sample_affine(images, theta.astype(images.dtype), self.interpolation, self.fill)
        return out[0] if single else out

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(degrees={self.degrees}, translate={self.translate}, "
                f"scale={self.scale}, shear={self.shear})")


class RandomRotation(RandomAffine):
    """Rotate each image about its centre by an angle from ``degrees`` (counter-clockwise > 0).

    ``RandomRotation((90, 90))`` on a square image equals ``np.rot90(x, 1, axes=(-2, -1))``.

    Example:
        >>> x = np.arange(4, dtype=np.float32).reshape(1, 1, 2, 2)
        >>> RandomRotation((90, 90))(x)[0, 0]
        array([[1., 3.],
               [0., 2.]], dtype=float32)
    """

    def __init__(self, degrees, interpolation: str = "bilinear", fill: float = 0.0,
                 seed: int | np.random.Generator | None = None) -> None:
        super().__init__(degrees, interpolation=interpolation, fill=fill, seed=seed)


def _output_size(size: Any, height: int, width: int) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        if size < 1:
            raise ValueError(f"Resize size must be a positive int or (height, width), got {size}")
        if height <= width:  # an int matches the smaller edge, keeping the aspect ratio
            return int(size), max(1, int(size * width / height))
        return max(1, int(size * height / width)), int(size)
    return _size(size, "Resize")


class Resize:
    """Resize images to ``size`` with bilinear or nearest interpolation (up or down).

    Args:
        size: ``(height, width)``, or an int that the smaller edge is matched to (aspect kept).
        interpolation: ``"bilinear"`` (half-pixel centres, edges clamped, no antialiasing:
            PyTorch's ``interpolate(align_corners=False)``) or ``"nearest"`` (source pixel
            ``floor(i * in / out)``).

    Example:
        >>> x = np.arange(4, dtype=np.float32).reshape(1, 1, 2, 2)
        >>> Resize(4, interpolation="nearest")(x)[0, 0, 0]
        array([0., 0., 1., 1.], dtype=float32)
    """

    def __init__(self, size: int | tuple[int, int], interpolation: str = "bilinear") -> None:
        if interpolation not in _MODES:
            raise ValueError(f"Resize interpolation must be one of {_MODES}, got {interpolation!r}")
        _output_size(size, 1, 1)  # validate early
        self.size = size
        self.interpolation = interpolation

    def __call__(self, x):
        images, single = _as_images(x, "Resize")
        height, width = images.shape[2:]
        out_size = _output_size(self.size, height, width)
        rows = _warp.interp_matrices([0], [height], height, out_size[0], self.interpolation)[0]
        cols = _warp.interp_matrices([0], [width], width, out_size[1], self.interpolation)[0]
        out = (rows.astype(images.dtype) @ images) @ cols.T.astype(images.dtype)
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"Resize(size={self.size}, interpolation={self.interpolation!r})"


class RandomResizedCrop(RandomTransform):
    """Crop a random region of each image and resize it to ``size`` (as torchvision).

    The region covers a fraction of the area drawn from ``scale`` with aspect ratio (w/h) drawn
    log-uniformly from ``ratio``; after 10 failed draws it falls back to a central crop.

    Example:
        >>> x = np.ones((4, 3, 32, 32), np.float32)
        >>> RandomResizedCrop(24, seed=0)(x).shape
        (4, 3, 24, 24)
    """

    def __init__(self, size: int | tuple[int, int], scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
                 interpolation: str = "bilinear",
                 seed: int | np.random.Generator | None = None) -> None:
        super().__init__(seed)
        self.size = _size(size, "RandomResizedCrop")
        self.scale = _pair(scale, "scale", "RandomResizedCrop", symmetric=False)
        self.ratio = _pair(ratio, "ratio", "RandomResizedCrop", symmetric=False)
        if not 0 < self.scale[0] <= self.scale[1] <= 1 or self.ratio[0] <= 0:
            raise ValueError(f"RandomResizedCrop needs 0 < scale <= 1 and ratio > 0, got "
                             f"scale={scale!r}, ratio={ratio!r}")
        if interpolation not in _MODES:
            raise ValueError(f"interpolation must be one of {_MODES}, got {interpolation!r}")
        self.interpolation = interpolation

    def crop_boxes(self, n: int, height: int, width: int) -> np.ndarray:
        """(n, 4) int array of ``(top, left, height, width)`` crop windows."""
        rng, tries = self.rng, 10
        area = height * width * rng.uniform(*self.scale, size=(n, tries))
        aspect = np.exp(rng.uniform(np.log(self.ratio[0]), np.log(self.ratio[1]), size=(n, tries)))
        crop_w = np.rint(np.sqrt(area * aspect)).astype(np.int64)
        crop_h = np.rint(np.sqrt(area / aspect)).astype(np.int64)
        fits = (crop_w > 0) & (crop_w <= width) & (crop_h > 0) & (crop_h <= height)
        first = np.argmax(fits, axis=1)
        rows = np.arange(n)
        crop_h, crop_w = crop_h[rows, first], crop_w[rows, first]
        # central-crop fallback for images where no draw fitted
        in_ratio = width / height
        fallback_w = width if in_ratio <= self.ratio[1] else int(round(height * self.ratio[1]))
        fallback_h = height if in_ratio >= self.ratio[0] else int(round(width / self.ratio[0]))
        fitted = fits.any(axis=1)
        crop_h = np.where(fitted, crop_h, min(fallback_h, height))
        crop_w = np.where(fitted, crop_w, min(fallback_w, width))
        top = np.where(fitted, rng.integers(0, height - crop_h + 1), (height - crop_h) // 2)
        left = np.where(fitted, rng.integers(0, width - crop_w + 1), (width - crop_w) // 2)
        return np.stack([top, left, crop_h, crop_w], axis=1)

    def __call__(self, x):
        images, single = _as_images(x, "RandomResizedCrop")
        boxes = self.crop_boxes(images.shape[0], *images.shape[2:])
        out = _warp.resample_windows(images, *boxes.T, self.size, self.interpolation)
        out = out.astype(images.dtype, copy=False)
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"RandomResizedCrop(size={self.size}, scale={self.scale}, ratio={self.ratio})"


class RandomCrop(RandomTransform):
    """Pad each image by ``padding`` (filled with ``fill``), then cut a random ``size`` window.

    Args:
        size: ``(height, width)`` or an int for a square.
        padding: an int for all sides, ``(left/right, top/bottom)`` or ``(left, top, right,
            bottom)``, as torchvision; ``None`` for no padding.

    Example:
        >>> x = np.ones((2, 1, 28, 28), np.float32)
        >>> RandomCrop(28, padding=4, seed=0)(x).shape
        (2, 1, 28, 28)
    """

    def __init__(self, size: int | tuple[int, int], padding=None, fill: float = 0.0,
                 seed: int | np.random.Generator | None = None) -> None:
        super().__init__(seed)
        self.size = _size(size, "RandomCrop")
        if padding is None:
            padding = 0
        pads = [padding] if isinstance(padding, (int, np.integer)) else list(padding)
        if len(pads) == 1:
            pads = pads * 4
        elif len(pads) == 2:
            pads = [pads[0], pads[1], pads[0], pads[1]]
        if len(pads) != 4 or min(pads) < 0:
            raise ValueError(f"RandomCrop padding must be an int, 2 or 4 non-negative ints, "
                             f"got {padding!r}")
        self.padding = tuple(int(p) for p in pads)  # left, top, right, bottom
        self.fill = float(fill)

    def __call__(self, x):
        images, single = _as_images(x, "RandomCrop")
        left, top, right, bottom = self.padding
        padded = np.pad(images, ((0, 0), (0, 0), (top, bottom), (left, right)),
                        constant_values=self.fill)
        height, width = self.size
        n, _, padded_h, padded_w = padded.shape
        if height > padded_h or width > padded_w:
            raise ValueError(f"RandomCrop size {self.size} is larger than the padded image "
                             f"({padded_h}, {padded_w}); add padding or crop smaller")
        rows = self.rng.integers(0, padded_h - height + 1, size=n)
        cols = self.rng.integers(0, padded_w - width + 1, size=n)
        windows = np.lib.stride_tricks.sliding_window_view(padded, (height, width), axis=(2, 3))
        out = windows[np.arange(n), :, rows, cols]  # (N, C, height, width), a copy
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"
