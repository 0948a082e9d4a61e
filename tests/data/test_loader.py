import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataLoader, Dataset, Subset, TensorDataset, default_collate
from chainrule.data import transforms as T


def _dataset(n=23):
    rng = np.random.default_rng(1)
    return TensorDataset(rng.random((n, 1, 4, 4), dtype=np.float32), np.arange(n))


def _labels(loader):
    return np.concatenate([y.data for _, y in loader])


class ListDataset(Dataset):
    """A dataset that is not array-backed: the loader must read it sample by sample."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full((2,), i, dtype=np.float32), i


@pytest.mark.parametrize("batch_size", [1, 4, 7, 23, 50])
@pytest.mark.parametrize("drop_last", [False, True])
def test_len_and_coverage(batch_size, drop_last):
    ds = _dataset()
    loader = DataLoader(ds, batch_size=batch_size, shuffle=True, drop_last=drop_last, seed=0)
    expected_batches = len(ds) // batch_size if drop_last else math.ceil(len(ds) / batch_size)
    batches = list(loader)
    assert len(loader) == len(batches) == expected_batches
    labels = np.concatenate([y.data for _, y in batches] + [np.zeros(0, np.int64)])
    assert len(np.unique(labels)) == len(labels)  # no sample twice
    if drop_last:
        assert len(labels) == expected_batches * batch_size
    else:
        np.testing.assert_array_equal(np.sort(labels), np.arange(len(ds)))
    full = batches if drop_last else batches[:-1]
    assert all(len(y) == batch_size for _, y in full)


def test_batches_are_chainrule_tensors_matching_the_data():
    ds = _dataset()
    x, y = next(iter(DataLoader(ds, batch_size=5, shuffle=True, seed=2)))
    assert isinstance(x, cr.Tensor) and isinstance(y, cr.Tensor)
    assert x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x.data, ds.arrays[0][y.data])


def test_no_shuffle_keeps_order():
    labels = _labels(DataLoader(_dataset(), batch_size=4))
    np.testing.assert_array_equal(labels, np.arange(23))


def test_shuffle_reproducible_per_seed_and_different_each_epoch():
    ds = _dataset()
    a = DataLoader(ds, batch_size=4, shuffle=True, seed=7)
    b = DataLoader(ds, batch_size=4, shuffle=True, seed=7)
    epoch0, epoch1 = _labels(a), _labels(a)
    np.testing.assert_array_equal(epoch0, _labels(b))
    np.testing.assert_array_equal(epoch1, _labels(b))
    assert not np.array_equal(epoch0, epoch1)
    assert not np.array_equal(epoch0, _labels(DataLoader(ds, batch_size=4, shuffle=True, seed=8)))
    a.set_epoch(1)
    np.testing.assert_array_equal(_labels(a), epoch1)


def test_default_seed_follows_manual_seed():
    ds = _dataset()
    cr.manual_seed(11)
    first = _labels(DataLoader(ds, batch_size=4, shuffle=True))
    cr.manual_seed(11)
    np.testing.assert_array_equal(first, _labels(DataLoader(ds, batch_size=4, shuffle=True)))


def test_array_backed_datasets_never_call_getitem(monkeypatch):
    ds = _dataset()

    def forbidden(self, index):
        raise AssertionError("per-sample __getitem__ called on an array-backed dataset")

    monkeypatch.setattr(TensorDataset, "__getitem__", forbidden)
    sub = Subset(Subset(ds, np.arange(20)[::-1]), [0, 5, 6, 19])
    labels = _labels(DataLoader(sub, batch_size=3))
    np.testing.assert_array_equal(labels, (np.arange(20)[::-1])[[0, 5, 6, 19]])
    assert len(_labels(DataLoader(ds, batch_size=8, shuffle=True, seed=0))) == len(ds)


def test_generic_dataset_is_collated():
    loader = DataLoader(ListDataset(10), batch_size=4, shuffle=True, seed=0)
    seen = []
    for x, y in loader:
        assert isinstance(x, cr.Tensor) and x.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_array_equal(x.data[:, 0], y.data.astype(np.float32))
        seen.extend(y.data.tolist())
    assert sorted(seen) == list(range(10))


def test_full_batch_with_zero_or_none():
    ds = _dataset()
    for size in (0, None):
        loader = DataLoader(ds, batch_size=size)
        assert len(loader) == 1 and loader.batch_size == 0
        (x, y), = list(loader)
        np.testing.assert_array_equal(x.data, ds.arrays[0])


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (2.5, TypeError), ("8", TypeError),
                                        (True, TypeError)])
def test_bad_batch_size(bad, error):
    with pytest.raises(error, match="batch_size"):
        DataLoader(_dataset(), batch_size=bad)


def test_bad_arguments():
    with pytest.raises(TypeError, match="map-style"):
        DataLoader([1, 2, 3][0])
    with pytest.raises(TypeError, match="transform"):
        DataLoader(_dataset(), transform=3)
    with pytest.raises(TypeError, match="seed"):
        DataLoader(_dataset(), seed=1.5)


def test_transform_applies_to_inputs_only_and_keeps_data_intact():
    ds = _dataset()
    before = ds.arrays[0].copy()
    loader = DataLoader(ds, batch_size=5, transform=T.RandomHorizontalFlip(p=1.0, seed=0))
    x, y = next(iter(loader))
    np.testing.assert_array_equal(x.data, before[:5, ..., ::-1])
    np.testing.assert_array_equal(y.data, np.arange(5))
    np.testing.assert_array_equal(ds.arrays[0], before)


def test_batch_pair_transform_gets_labels():
    ds = _dataset()
    loader = DataLoader(ds, batch_size=6, transform=T.MixUp(1.0, num_classes=23, seed=0))
    x, y = next(iter(loader))
    assert y.shape == (6, 23) and y.dtype == np.float32
    np.testing.assert_allclose(y.data.sum(axis=1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="pairs"):
        next(iter(DataLoader(TensorDataset(ds.arrays[0]), batch_size=2,
                             transform=T.MixUp(1.0, num_classes=2))))


def test_single_array_dataset_yields_a_tensor():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    batch = next(iter(DataLoader(TensorDataset(x), batch_size=4)))
    assert isinstance(batch, cr.Tensor)
    np.testing.assert_array_equal(batch.data, x[:4])


def test_custom_collate_fn():
    calls = []

    def collate(samples):
        calls.append(len(samples))
        return default_collate(samples)[0] * 2

    batch = next(iter(DataLoader(_dataset(), batch_size=3, collate_fn=collate)))
    assert calls == [3] and isinstance(batch, cr.Tensor)
    np.testing.assert_array_equal(batch.data, _dataset().arrays[0][:3] * 2)


def test_default_collate_types():
    xs, ys = default_collate([(np.zeros(2, np.float32), 1), (np.ones(2, np.float32), 0)])
    assert xs.shape == (2, 2) and ys.dtype == np.int64
    assert default_collate([0.5, 1.5]).dtype == np.float32
    with pytest.raises(ValueError, match="shapes"):
        default_collate([np.zeros(2), np.zeros(3)])
