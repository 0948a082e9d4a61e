import numpy as np
import pytest

import chainrule as cr
from chainrule.data import transforms as T


def _images(n=8, c=1, h=8, w=8, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w), dtype=np.float32)


ALL_IMAGE_TRANSFORMS = [
    T.Normalize([0.5, 0.2], [0.25, 0.5]),
    T.RandomHorizontalFlip(0.5, seed=0),
    T.RandomVerticalFlip(0.5, seed=0),
    T.RandomRotation(30, seed=0),
    T.RandomAffine(20, translate=(0.2, 0.1), scale=(0.8, 1.2), shear=10, seed=0),
    T.RandomAffine(20, interpolation="nearest", seed=0),
    T.RandomResizedCrop(6, seed=0),
    T.Resize((5, 11)),
    T.Resize(12, interpolation="nearest"),
    T.RandomCrop(8, padding=2, seed=0),
    T.GaussianNoise(0.1, seed=0),
    T.RandomErasing(p=1.0, seed=0),
    T.Compose([T.RandomHorizontalFlip(seed=0), T.Normalize(0.5, 0.5)]),
]


@pytest.mark.parametrize("transform", ALL_IMAGE_TRANSFORMS, ids=repr)
def test_keeps_float32_and_never_modifies_input(transform):
    x = _images(c=2)
    before = x.copy()
    out = transform(x)
    assert out.dtype == np.float32
    assert not np.shares_memory(out, x)
    np.testing.assert_array_equal(x, before)
    single = transform(x[0])
    assert single.ndim == 3 and single.dtype == np.float32


@pytest.mark.parametrize("transform", ALL_IMAGE_TRANSFORMS[:7], ids=repr)
def test_integer_images_become_float32(transform):
    out = transform(np.ones((2, 2, 8, 8), np.uint8))
    assert out.dtype == np.float32


def test_normalize_per_channel():
    x = _images(n=3, c=3)
    mean, std = [0.1, 0.2, 0.3], [0.5, 1.0, 2.0]
    out = T.Normalize(mean, std)(x)
    for c in range(3):
        np.testing.assert_allclose(out[:, c], (x[:, c] - mean[c]) / std[c], rtol=1e-6)
    with pytest.raises(ValueError, match="3 channels"):
        T.Normalize([0, 0], [1, 1])(x)
    with pytest.raises(ValueError, match="positive"):
        T.Normalize(0, 0)


def test_gaussian_noise_statistics_and_reproducibility():
    x = np.zeros((64, 1, 32, 32), np.float32)
    out = T.GaussianNoise(0.3, mean=0.1, seed=0)(x)
    assert abs(out.mean() - 0.1) < 0.01 and abs(out.std() - 0.3) < 0.01
    np.testing.assert_array_equal(out, T.GaussianNoise(0.3, mean=0.1, seed=0)(x))
    gen = np.random.default_rng(0)
    assert not np.array_equal(T.GaussianNoise(0.3, seed=gen)(x), T.GaussianNoise(0.3, seed=gen)(x))
    signals = T.GaussianNoise(0.1, seed=0)(np.zeros((5, 40), np.float32))  # 1-D signals
    assert signals.shape == (5, 40) and signals.dtype == np.float32


def test_unseeded_transforms_follow_manual_seed():
    x = _images()
    cr.manual_seed(3)
    a = T.RandomRotation(30)(x)
    cr.manual_seed(3)
    np.testing.assert_array_equal(a, T.RandomRotation(30)(x))


def _bounding_box(mask):
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


def test_random_erasing_sets_one_rectangle():
    x = _images(n=50, c=2, h=20, w=20) + 1.0  # never equal to the erase value
    out = T.RandomErasing(p=1.0, scale=(0.05, 0.2), value=-1.0, seed=0)(x)
    for image, result in zip(x, out):
        changed = (result != image).any(axis=0)
        top, bottom, left, right = _bounding_box(changed)
        assert changed[top:bottom, left:right].all()  # a full rectangle
        assert (result[:, top:bottom, left:right] == -1.0).all()
        area = (bottom - top) * (right - left) / 400
        assert 0.03 < area < 0.25
    np.testing.assert_array_equal(T.RandomErasing(p=0.0, seed=0)(x), x)


def test_mixup_blends_images_and_targets_with_one_lambda():
    x = _images(n=6, c=1)
    labels = np.array([0, 1, 2, 3, 4, 0])
    out, targets = T.MixUp(0.4, num_classes=5, seed=1)(x, labels)
    assert out.dtype == np.float32 and targets.dtype == np.float32 and targets.shape == (6, 5)
    np.testing.assert_allclose(targets.sum(1), 1.0, rtol=1e-6)
    lam = targets[1, 1]  # labels 1 and 0 differ: weight of the image's own label
    one_hot = np.eye(5, dtype=np.float32)[labels]
    np.testing.assert_allclose(targets, lam * one_hot + (1 - lam) * np.roll(one_hot, 1, 0),
                               atol=1e-6)
    np.testing.assert_allclose(out, lam * x + (1 - lam) * np.roll(x, 1, 0), atol=1e-6)


def test_mixup_accepts_soft_targets_and_checks_labels():
    x = _images(n=4)
    soft = np.full((4, 3), 1 / 3, np.float32)
    _, targets = T.MixUp(1.0, num_classes=3, seed=0)(x, soft)
    np.testing.assert_allclose(targets, soft, rtol=1e-6)
    with pytest.raises(ValueError, match="num_classes"):
        T.MixUp(1.0, num_classes=3)(x, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="num_classes"):
        T.MixUp(1.0)
    with pytest.raises(ValueError, match="4 images but 3 labels"):
        T.CutMix(1.0, num_classes=3)(x, np.array([0, 1, 2]))


def test_cutmix_pastes_a_box_and_weights_by_area():
    x = _images(n=5, c=2, h=10, w=12, seed=4)
    labels = np.arange(5)
    for seed in range(5):
        out, targets = T.CutMix(1.0, num_classes=5, seed=seed)(x, labels)
        rolled = np.roll(x, 1, axis=0)
        pasted = (out != x).any(axis=(0, 1))
        area = pasted.sum() / pasted.size
        if pasted.any():
            top, bottom, left, right = _bounding_box(pasted)
            assert pasted[top:bottom, left:right].all()
            np.testing.assert_array_equal(out[..., top:bottom, left:right],
                                          rolled[..., top:bottom, left:right])
        np.testing.assert_array_equal(out[..., ~pasted], x[..., ~pasted])
        one_hot = np.eye(5, dtype=np.float32)
        expected = (1 - area) * one_hot + area * np.roll(one_hot, 1, 0)
        np.testing.assert_allclose(targets, expected, atol=1e-6)


def test_compose_routes_pairs():
    x = _images(n=4)
    labels = np.array([0, 1, 0, 1])
    pipeline = T.Compose([T.RandomHorizontalFlip(1.0), T.MixUp(1.0, num_classes=2, seed=0)])
    assert pipeline.batch_pair
    out, targets = pipeline(x, labels)
    expected, _ = T.MixUp(1.0, num_classes=2, seed=0)(x[..., ::-1], labels)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    with pytest.raises(ValueError, match="labels"):
        pipeline(x)
    assert not T.Compose([T.Normalize(0, 1)]).batch_pair


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
