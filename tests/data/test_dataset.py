import numpy as np
import pytest

import chainrule as cr
from chainrule.data import ConcatDataset, Dataset, Subset, TensorDataset, random_split


def _arrays(n=10):
    rng = np.random.default_rng(0)
    return rng.random((n, 3), dtype=np.float32), np.arange(n, dtype=np.int64)


def test_tensor_dataset_items_and_metadata():
    x, y = _arrays()
    ds = TensorDataset(x, y, num_classes=10, classes=list("abcdefghij"))
    assert len(ds) == len(x)
    for i in (0, 4, -1):
        xi, yi = ds[i]
        np.testing.assert_array_equal(xi, x[i])
        assert yi == y[i]
    assert ds.input_shape == x.shape[1:]
    assert ds.num_classes == 10 and ds.classes[2] == "c"
    assert np.shares_memory(ds.arrays[0], x)  # no copy


def test_tensor_dataset_accepts_tensors_and_shares_memory():
    x, y = _arrays()
    ds = TensorDataset(cr.from_numpy(x), cr.from_numpy(y))
    assert np.shares_memory(ds.arrays[0], x)
    assert isinstance(ds.tensors[0], cr.Tensor)
    np.testing.assert_array_equal(ds[3][0], x[3])


def test_tensor_dataset_length_mismatch_names_lengths():
    with pytest.raises(ValueError, match=r"\[10, 7\]"):
        TensorDataset(np.zeros((10, 2)), np.zeros(7))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


def test_index_errors():
    ds = TensorDataset(*_arrays(5))
    with pytest.raises(IndexError, match="5 samples"):
        ds[5]
    with pytest.raises(TypeError, match="int"):
        ds[1.5]


def test_subset_and_nested_subset():
    x, y = _arrays()
    sub = Subset(TensorDataset(x, y), [7, 2, -1])
    assert len(sub) == 3
    assert [int(sub[i][1]) for i in range(3)] == [7, 2, 9]
    nested = Subset(sub, [2, 0])
    assert [int(nested[i][1]) for i in range(2)] == [9, 7]
    with pytest.raises(IndexError):
        Subset(TensorDataset(x, y), [10])


def test_concat_dataset():
    a = TensorDataset(np.arange(3))
    b = TensorDataset(np.arange(10, 15))
    both = ConcatDataset([a, b])
    assert len(both) == 8
    expected = list(range(3)) + list(range(10, 15))
    assert [int(both[i][0]) for i in range(8)] == expected
    assert int((a + b)[-1][0]) == 14


def test_random_split_partitions_and_is_reproducible():
    ds = TensorDataset(np.arange(23))
    parts = random_split(ds, [0.7, 0.2, 0.1], generator=3)
    sizes = [len(p) for p in parts]
    assert sum(sizes) == 23
    expected = [int(np.floor(23 * f)) for f in (0.7, 0.2, 0.1)]
    for k in range(23 - sum(expected)):
        expected[k] += 1
    assert sizes == expected
    seen = np.concatenate([p.indices for p in parts])
    np.testing.assert_array_equal(np.sort(seen), np.arange(23))
    again = random_split(ds, [0.7, 0.2, 0.1], generator=np.random.default_rng(3))
    for p, q in zip(parts, again):
        np.testing.assert_array_equal(p.indices, q.indices)
    other = random_split(ds, [0.7, 0.2, 0.1], generator=4)
    assert not np.array_equal(parts[0].indices, other[0].indices)


def test_random_split_uses_manual_seed_by_default():
    ds = TensorDataset(np.arange(50))
    cr.manual_seed(5)
    first = random_split(ds, [25, 25])[0].indices
    cr.manual_seed(5)
    np.testing.assert_array_equal(first, random_split(ds, [25, 25])[0].indices)


@pytest.mark.parametrize("lengths", [[5, 4], [0.5, 0.6], [-1, 11], ["a", "b"]])
def test_random_split_rejects_bad_lengths(lengths):
    with pytest.raises((ValueError, TypeError)):
        random_split(TensorDataset(np.arange(10)), lengths, generator=0)


def test_base_dataset_requires_methods():
    with pytest.raises(NotImplementedError):
        len(Dataset())
