import random
import sys

import numpy as np
import pytest
from sklearn.datasets import load_digits

from chainrule.data import DataLoader, Splits, TensorDataset, datasets

mnist1d_module = sys.modules["chainrule.data.datasets.mnist1d"]  # the function shadows the name


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


def test_mnist1d_matches_package_and_keeps_global_random_state(tmp_path, monkeypatch):
    from mnist1d.data import get_dataset_args, make_dataset

    monkeypatch.setenv("CHAINRULE_CACHE", str(tmp_path))
    monkeypatch.setattr(mnist1d_module, "_memory", {})
    np.random.seed(123)
    random.seed(123)
    numpy_before, python_before = np.random.get_state(), random.getstate()
    train, test = datasets.mnist1d()
    numpy_after = np.random.get_state()
    assert all(np.array_equal(a, b) for a, b in zip(numpy_before[1:2], numpy_after[1:2]))
    assert numpy_before[2] == numpy_after[2] and random.getstate() == python_before
    assert (len(train), len(test)) == (4000, 1000) and train.input_shape == (40,)
    assert train.arrays[0].dtype == np.float32 and train.arrays[1].dtype == np.int64

    reference = make_dataset(get_dataset_args())  # reseeds the globals itself
    np.testing.assert_allclose(train.arrays[0], reference["x"], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(test.arrays[1], reference["y_test"])

    cache_files = list(tmp_path.glob("mnist1d*.npz"))
    assert len(cache_files) == 1
    monkeypatch.setattr(mnist1d_module, "_memory", {})
    monkeypatch.setattr(mnist1d_module, "_generate", lambda seed: pytest.fail("regenerated"))
    cached, _ = datasets.mnist1d(flatten=False)  # read back from the .npz
    assert cached.input_shape == (1, 40)
    np.testing.assert_array_equal(cached.arrays[0][:, 0], train.arrays[0])


def test_mnist1d_rebuilds_a_damaged_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_CACHE", str(tmp_path))
    monkeypatch.setattr(mnist1d_module, "_memory", {})
    fake = (np.zeros((8, 40), np.float32), np.zeros(8, np.int64),
            np.zeros((2, 40), np.float32), np.zeros(2, np.int64))
    monkeypatch.setattr(mnist1d_module, "_generate", lambda seed: fake)
    mnist1d_module._cache_file(None).write_bytes(b"not an npz file")
    train, test = datasets.mnist1d()
    assert len(train) == 8 and len(test) == 2
    with np.load(mnist1d_module._cache_file(None), allow_pickle=False) as stored:
        assert stored["x"].shape == (8, 40)


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


def test_datasets_feed_a_loader():
    train, _ = datasets.digits()
    x, y = next(iter(DataLoader(train, batch_size=32, shuffle=True, seed=0)))
    assert tuple(x.shape) == (32, 1, 8, 8) and tuple(y.shape) == (32,)
