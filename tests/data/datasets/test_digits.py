"""The digits set (chainrule/data/datasets/digits.py): scikit-learn's 8x8 digits, scaled,
split by class, deterministic, flattened on request, ready for a DataLoader."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from chainrule.data import DataLoader, TensorDataset, datasets


def test_digits_shapes_values_and_stratified_split():
    train, test = datasets.digits()
    ref = load_digits()
    assert isinstance(train, TensorDataset) and train.num_classes == 10
    assert train.input_shape == (1, 8, 8)
    assert train.arrays[0].dtype == np.float32 and train.arrays[1].dtype == np.int64
    assert len(train) + len(test) == len(ref.target)
    expected_test = {c: round(0.2 * np.sum(ref.target == c)) for c in range(10)}
    assert {c: int(np.sum(test.arrays[1] == c)) for c in range(10)} == expected_test
    # every image appears exactly once across the split, scaled by 1/16
    together = np.concatenate([train.arrays[0], test.arrays[0]]).reshape(-1, 64)
    expected = (ref.data / 16.0).astype(np.float32)
    order = np.lexsort(together.T)
    np.testing.assert_array_equal(together[order], expected[np.lexsort(expected.T)])
    assert together.min() == 0.0 and together.max() == 1.0


def test_digits_is_deterministic_and_flattens():
    a, _ = datasets.digits(seed=0)
    b, _ = datasets.digits(seed=0, flatten=True)
    c, _ = datasets.digits(seed=1)
    np.testing.assert_array_equal(a.arrays[0].reshape(len(a), -1), b.arrays[0])
    assert b.input_shape == (64,)
    assert not np.array_equal(a.arrays[1], c.arrays[1])
    with pytest.raises(ValueError, match="test_fraction"):
        datasets.digits(test_fraction=1.5)


def test_datasets_feed_a_loader():
    train, _ = datasets.digits()
    x, y = next(iter(DataLoader(train, batch_size=32, shuffle=True, seed=0)))
    assert tuple(x.shape) == (32, 1, 8, 8) and tuple(y.shape) == (32,)
