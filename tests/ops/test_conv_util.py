"""The convolutions' helpers (chainrule/ops/_conv_util.py): the scratch-buffer pool."""

import numpy as np

from chainrule.ops._conv_util import BufferPool


def test_buffer_pool_reuses_only_free_buffers_and_evicts_when_full():
    pool = BufferPool(max_per_key=2, max_bytes=1000)
    first = pool.take((100,), np.float32, "a")
    address = first.__array_interface__["data"][0]
    view = first[10:]
    del first
    second = pool.take((100,), np.float32, "a")  # the first is still seen through a view
    assert second.__array_interface__["data"][0] != address
    del view
    third = pool.take((100,), np.float32, "a")  # now free again
    assert third.__array_interface__["data"][0] == address
    del second, third
    kept = pool.take((100,), np.float32, "b")  # 1200 bytes asked: the free "a" ones go
    assert pool._bytes <= 1000 and kept.shape == (100,)
    assert sum(len(v) for v in pool._buffers.values()) == 1
