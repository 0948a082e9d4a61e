"""Batch mixing (chainrule/data/transforms/mix.py): MixUp blends images and targets with one
lambda, CutMix pastes a box and weights the targets by its area."""

import numpy as np
import pytest

from chainrule.data import transforms as T


def test_mixup_blends_images_and_targets_with_one_lambda(images):
    x = images(n=6, c=1)
    labels = np.array([0, 1, 2, 3, 4, 0])
    out, targets = T.MixUp(0.4, num_classes=5, seed=1)(x, labels)
    assert out.dtype == np.float32 and targets.dtype == np.float32 and targets.shape == (6, 5)
    np.testing.assert_allclose(targets.sum(1), 1.0, rtol=1e-6)
    lam = targets[1, 1]  # labels 1 and 0 differ: weight of the image's own label
    one_hot = np.eye(5, dtype=np.float32)[labels]
    np.testing.assert_allclose(targets, lam * one_hot + (1 - lam) * np.roll(one_hot, 1, 0),
                               atol=1e-6)
    np.testing.assert_allclose(out, lam * x + (1 - lam) * np.roll(x, 1, 0), atol=1e-6)


def test_mixup_accepts_soft_targets_and_checks_labels(images):
    x = images(n=4)
    soft = np.full((4, 3), 1 / 3, np.float32)
    _, targets = T.MixUp(1.0, num_classes=3, seed=0)(x, soft)
    np.testing.assert_allclose(targets, soft, rtol=1e-6)
    with pytest.raises(ValueError, match="num_classes"):
        T.MixUp(1.0, num_classes=3)(x, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="num_classes"):
        T.MixUp(1.0)
    with pytest.raises(ValueError, match="4 images but 3 labels"):
        T.CutMix(1.0, num_classes=3)(x, np.array([0, 1, 2]))


def test_cutmix_pastes_a_box_and_weights_by_area(images, bounding_box):
    x = images(n=5, c=2, h=10, w=12, seed=4)
    labels = np.arange(5)
    for seed in range(5):
        out, targets = T.CutMix(1.0, num_classes=5, seed=seed)(x, labels)
        rolled = np.roll(x, 1, axis=0)
        pasted = (out != x).any(axis=(0, 1))
        area = pasted.sum() / pasted.size
        if pasted.any():
            top, bottom, left, right = bounding_box(pasted)
            assert pasted[top:bottom, left:right].all()
            np.testing.assert_array_equal(out[..., top:bottom, left:right],
                                          rolled[..., top:bottom, left:right])
        np.testing.assert_array_equal(out[..., ~pasted], x[..., ~pasted])
        one_hot = np.eye(5, dtype=np.float32)
        expected = (1 - area) * one_hot + area * np.roll(one_hot, 1, 0)
        np.testing.assert_allclose(targets, expected, atol=1e-6)
