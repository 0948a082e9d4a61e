"""The transforms' base (chainrule/data/transforms/base.py): every transform keeps float32 and
never modifies its input; unseeded transforms follow manual_seed; Normalize; Compose routes
(image, label) pairs."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import transforms as T


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
def test_keeps_float32_and_never_modifies_input(transform, images):
    x = images(c=2)
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


def test_unseeded_transforms_follow_manual_seed(images):
    x = images()
    cr.manual_seed(3)
    a = T.RandomRotation(30)(x)
    cr.manual_seed(3)
    np.testing.assert_array_equal(a, T.RandomRotation(30)(x))


def test_normalize_per_channel(images):
    x = images(n=3, c=3)
    mean, std = [0.1, 0.2, 0.3], [0.5, 1.0, 2.0]
    out = T.Normalize(mean, std)(x)
    for c in range(3):
        np.testing.assert_allclose(out[:, c], (x[:, c] - mean[c]) / std[c], rtol=1e-6)
    with pytest.raises(ValueError, match="3 channels"):
        T.Normalize([0, 0], [1, 1])(x)
    with pytest.raises(ValueError, match="positive"):
        T.Normalize(0, 0)


def test_compose_routes_pairs(images):
    x = images(n=4)
    labels = np.array([0, 1, 0, 1])
    pipeline = T.Compose([T.RandomHorizontalFlip(1.0), T.MixUp(1.0, num_classes=2, seed=0)])
    assert pipeline.batch_pair
    out, targets = pipeline(x, labels)
    expected, _ = T.MixUp(1.0, num_classes=2, seed=0)(x[..., ::-1], labels)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    with pytest.raises(ValueError, match="labels"):
        pipeline(x)
    assert not T.Compose([T.Normalize(0, 1)]).batch_pair
