"""Synthetic sets (chainrule/data/datasets/synthetic.py): spirals, moons, circles, xor, sine;
shapes, seeds, closed forms at zero noise, errors, the global random state left alone."""

import numpy as np
import pytest

from chainrule.data import Splits, datasets


@pytest.mark.parametrize("make", [datasets.spirals, datasets.moons, datasets.circles, datasets.xor])
def test_synthetic_classification_sets(make):
    splits = make(n_samples=200, seed=3)
    assert isinstance(splits, Splits)
    train, test = splits
    assert len(train) + len(test) == 200 and len(test) == pytest.approx(40, abs=2)
    x, y = train.arrays
    assert x.dtype == np.float32 and x.shape[1] == 2 and y.dtype == np.int64
    assert set(np.unique(y)) == set(range(train.num_classes))
    again, _ = make(n_samples=200, seed=3)
    np.testing.assert_array_equal(again.arrays[0], x)
    other, _ = make(n_samples=200, seed=4)
    assert not np.array_equal(other.arrays[0], x)


def test_synthetic_closed_forms():
    train, test = datasets.moons(n_samples=100, noise=0.0)
    x = np.concatenate([train.arrays[0], test.arrays[0]])
    y = np.concatenate([train.arrays[1], test.arrays[1]])
    upper = x[y == 0]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-6)
    lower = x[y == 1]
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0, atol=1e-6)
    train, _ = datasets.circles(n_samples=100, noise=0.0, factor=0.3)
    radius = np.hypot(*train.arrays[0].T)
    np.testing.assert_allclose(radius, np.where(train.arrays[1] == 0, 1.0, 0.3), atol=1e-6)
    train, _ = datasets.spirals(n_samples=90, n_classes=3, noise=0.0)
    assert np.hypot(*train.arrays[0].T).max() <= 1.0 + 1e-6
    train, _ = datasets.sine(n_samples=64, noise=0.0)
    x, y = train.arrays
    assert x.shape == y.shape == (len(train), 1) and y.dtype == np.float32
    np.testing.assert_allclose(y, np.sin(x), atol=1e-6)
    assert train.num_classes is None


def test_synthetic_errors_and_global_state():
    before = np.random.get_state()[1].copy()
    datasets.spirals(n_samples=50)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    with pytest.raises(ValueError, match="n_samples"):
        datasets.moons(n_samples=1)
    with pytest.raises(ValueError, match="noise"):
        datasets.xor(noise=-1)
