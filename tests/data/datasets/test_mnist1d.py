"""MNIST-1D (chainrule/data/datasets/mnist1d.py): the mnist1d package's data, the global random
state kept, a damaged cache rebuilt."""

import random
import sys

import numpy as np
import pytest

from chainrule.data import datasets

mnist1d_module = sys.modules["chainrule.data.datasets.mnist1d"]  # the function shadows the name


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
