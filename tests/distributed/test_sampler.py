"""DistributedSampler: distinct shards that cover the data, in step across ranks, reshuffled per
epoch, and the DataLoader's ``sampler=`` (no MPI needed: the ranks are given)."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.data import DataLoader, TensorDataset
from chainrule.distributed import DistributedSampler


def _shards(n, replicas, **options):
    return [DistributedSampler(range(n), num_replicas=replicas, rank=r, **options)
            for r in range(replicas)]


@pytest.mark.parametrize("n, replicas", [(10, 2), (11, 3), (2, 4), (0, 2)])
def test_padded_shards_are_equal_in_length_and_cover_every_sample(n, replicas):
    shards = _shards(n, replicas, seed=5)
    lists = [list(s) for s in shards]
    assert len({len(x) for x in lists}) == 1
    assert [len(s) for s in shards] == [len(x) for x in lists]
    together = np.concatenate(lists) if lists[0] else np.array([], int)
    assert set(together.tolist()) == set(range(n))
    assert len(together) == -(-n // replicas) * replicas  # padded up to a multiple


def test_drop_last_drops_the_tail_and_pad_false_leaves_shards_uneven():
    dropped = [list(s) for s in _shards(11, 3, shuffle=False, drop_last=True)]
    assert dropped == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    uneven = [list(s) for s in _shards(11, 3, shuffle=False, pad=False)]
    assert sorted(sum(uneven, [])) == list(range(11))
    assert [len(x) for x in uneven] == [4, 4, 3]
    assert [len(s) for s in _shards(11, 3, pad=False)] == [4, 4, 3]


def test_the_shards_of_an_epoch_interleave_the_single_process_order():
    n, batch = 23, 3
    order = DataLoader(range(n), 1, shuffle=True, seed=9).epoch_order(4)
    shards = _shards(n, 2, seed=9)
    for s in shards:
        s.set_epoch(4)
    padded = np.resize(order, 24)
    for rank, shard in enumerate(shards):
        np.testing.assert_array_equal(list(shard), padded[rank::2])
    # batch k of the two ranks together is batch k of one process with batches twice as large
    first = [list(s)[:batch] for s in shards]
    assert sorted(first[0] + first[1]) == sorted(padded[:2 * batch].tolist())


def test_each_epoch_is_reshuffled_from_the_seed():
    sampler = DistributedSampler(range(50), num_replicas=2, rank=0, seed=1)
    epochs = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        epochs.append(list(sampler))
    assert epochs[0] != epochs[1] != epochs[2]
    again = DistributedSampler(range(50), num_replicas=2, rank=0, seed=1)
    again.set_epoch(1)
    assert list(again) == epochs[1]
    other = DistributedSampler(range(50), num_replicas=2, rank=0, seed=2)
    assert list(other) != epochs[0]


def test_the_loader_takes_its_order_from_the_sampler_and_tells_it_the_epoch():
    data = TensorDataset(np.arange(10, dtype=np.float32)[:, None], np.arange(10))
    sampler = DistributedSampler(data, num_replicas=2, rank=1, seed=3)
    loader = DataLoader(data, 2, sampler=sampler)
    assert len(loader) == 3
    for epoch in range(2):
        seen = np.concatenate([y.data for _, y in loader])
        sampler_copy = DistributedSampler(data, num_replicas=2, rank=1, seed=3)
        sampler_copy.set_epoch(epoch)
        np.testing.assert_array_equal(seen, list(sampler_copy))
        assert sampler.epoch == epoch
    loader.set_epoch(0)  # what a resumed run does: the loader's epoch drives the sampler's
    np.testing.assert_array_equal(np.concatenate([y.data for _, y in loader]),
                                  DistributedSampler(data, num_replicas=2, rank=1, seed=3)
                                  .epoch_indices(0))


@pytest.mark.parametrize("options, error, message", [
    ({"num_replicas": 0, "rank": 0}, ValueError, "num_replicas must be a whole number >= 1"),
    ({"num_replicas": 2, "rank": 2}, ValueError, "rank 2 is outside 0..1"),
    ({"num_replicas": 2, "rank": -1}, ValueError, "rank must be a whole number >= 0"),
    ({"num_replicas": 2, "rank": 0, "seed": 1.5}, ValueError, "seed must be a whole number"),
    ({"num_replicas": 2, "rank": 0, "drop_last": True, "pad": False}, ValueError,
     "choose one"),
])
def test_bad_sampler_arguments_are_named(options, error, message):
    with pytest.raises(error, match=message):
        DistributedSampler(range(4), **options)


def test_bad_loader_sampler_combinations_are_refused():
    data = range(4)
    with pytest.raises(TypeError, match="DistributedSampler needs a dataset with a length"):
        DistributedSampler(iter(data), num_replicas=1, rank=0)
    sampler = DistributedSampler(TensorDataset(np.zeros((4, 1))), num_replicas=1, rank=0)
    with pytest.raises(ValueError, match="pass shuffle=False with a sampler"):
        DataLoader(TensorDataset(np.zeros((4, 1))), 2, shuffle=True, sampler=sampler)
    with pytest.raises(TypeError, match="sampler must have __len__ and __iter__"):
        DataLoader(TensorDataset(np.zeros((4, 1))), 2, sampler=5)


def test_without_init_the_default_rank_asks_for_init():
    with pytest.raises(RuntimeError, match=r"call chainrule.distributed.init\(\) first"):
        DistributedSampler(range(4))
