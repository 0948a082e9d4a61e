"""Pixel transforms (chainrule/data/transforms/pixel.py): GaussianNoise, RandomErasing,
RandomShift1d."""

import numpy as np
import pytest

from chainrule.data import transforms as T


def test_gaussian_noise_statistics_and_reproducibility():
    x = np.zeros((64, 1, 32, 32), np.float32)
    out = T.GaussianNoise(0.3, mean=0.1, seed=0)(x)
    assert abs(out.mean() - 0.1) < 0.01 and abs(out.std() - 0.3) < 0.01
    np.testing.assert_array_equal(out, T.GaussianNoise(0.3, mean=0.1, seed=0)(x))
    gen = np.random.default_rng(0)
    assert not np.array_equal(T.GaussianNoise(0.3, seed=gen)(x), T.GaussianNoise(0.3, seed=gen)(x))
    signals = T.GaussianNoise(0.1, seed=0)(np.zeros((5, 40), np.float32))  # 1-D signals
    assert signals.shape == (5, 40) and signals.dtype == np.float32


def test_random_erasing_sets_one_rectangle(images, bounding_box):
    x = images(n=50, c=2, h=20, w=20) + 1.0  # never equal to the erase value
    out = T.RandomErasing(p=1.0, scale=(0.05, 0.2), value=-1.0, seed=0)(x)
    for image, result in zip(x, out):
        changed = (result != image).any(axis=0)
        top, bottom, left, right = bounding_box(changed)
        assert changed[top:bottom, left:right].all()  # a full rectangle
        assert (result[:, top:bottom, left:right] == -1.0).all()
        area = (bottom - top) * (right - left) / 400
        assert 0.03 < area < 0.25
    np.testing.assert_array_equal(T.RandomErasing(p=0.0, seed=0)(x), x)


def test_random_shift_1d_is_a_zero_filled_shift():
    x = np.random.default_rng(0).random((20, 2, 15), dtype=np.float32) + 1.0
    out = T.RandomShift1d(4, seed=0)(x)
    shifts = []
    for signal, result in zip(x, out):
        matches = []
        for k in range(-4, 5):
            expected = np.zeros_like(signal)
            if k >= 0:
                expected[:, k:] = signal[:, :15 - k]
            else:
                expected[:, :k] = signal[:, -k:]
            if np.array_equal(result, expected):
                matches.append(k)
        assert len(matches) == 1
        shifts.append(matches[0])
    assert len(set(shifts)) > 3
    flat = T.RandomShift1d(3, seed=1)(x[:, 0])
    assert flat.shape == (20, 15) and flat.dtype == np.float32
    np.testing.assert_array_equal(T.RandomShift1d(0)(x), x)
    with pytest.raises(ValueError, match=r"\(N, L\)"):
        T.RandomShift1d(2)(np.zeros((2, 1, 4, 4), np.float32))
