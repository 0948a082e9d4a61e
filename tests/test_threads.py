"""chainrule.threads: BLAS on one thread for small products, get_num_threads() for big ones."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import types

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController

import chainrule as cr
from chainrule import nn, threads


def _blas_threads() -> int:
    """The thread count of the BLAS NumPy loaded (not of one that torch, say, loads later)."""
    numpy_blas = {lib.filepath for lib in threads._controllers}
    return max(lib.num_threads for lib in ThreadpoolController().lib_controllers
               if lib.filepath in numpy_blas)


@pytest.fixture
def two_threads(monkeypatch):
    """get_num_threads() 2, on a machine that other processes leave idle."""
    before = cr.get_num_threads()
    cr.set_num_threads(2)
    monkeypatch.setattr(threads, "free_cores", lambda: 2.0)
    yield
    cr.set_num_threads(before)


@pytest.fixture
def recorded(monkeypatch):
    """Every np.matmul that chainrule.threads makes, with the BLAS thread count it ran on."""
    calls = []

    def matmul(a, b, out=None):
        calls.append((a.shape, b.shape, _blas_threads()))
        return np.matmul(a, b, out=out)

    monkeypatch.setattr(threads, "np", types.SimpleNamespace(matmul=matmul))
    return calls


def test_set_and_get_num_threads_as_pytorch():
    before = cr.get_num_threads()
    try:
        cr.set_num_threads(3)
        assert cr.get_num_threads() == 3
    finally:
        cr.set_num_threads(before)
    for bad in (0, -1):
        with pytest.raises(RuntimeError, match="positive"):
            cr.set_num_threads(bad)
    for bad in (1.5, True, "2"):
        with pytest.raises(RuntimeError, match="expects an int"):
            cr.set_num_threads(bad)
    assert cr.get_num_threads() == before


def test_blas_runs_on_one_thread_between_ops():
    assert _blas_threads() == 1


def _fresh(code: str, **environment) -> str:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MPI_LOCALNRANKS")}
    env.update(environment)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=True).stdout.strip()


def test_the_default_is_blas_own_count_and_honours_the_environment():
    blas_default = _fresh("import numpy, threadpoolctl; print(max(lib.num_threads for lib in "
                          "threadpoolctl.ThreadpoolController().lib_controllers "
                          "if lib.user_api == 'blas'))")
    assert _fresh("import chainrule; print(chainrule.get_num_threads())") == blas_default
    assert _fresh("import chainrule; print(chainrule.get_num_threads())",
                  OPENBLAS_NUM_THREADS="1") == "1"


def test_processes_of_an_mpi_job_share_the_threads():
    class Lib:
        num_threads = 8

    assert threads._default_threads([Lib()]) == 8
    os.environ["MPI_LOCALNRANKS"] = "4"
    try:
        assert threads._default_threads([Lib()]) == 2
    finally:
        del os.environ["MPI_LOCALNRANKS"]


def test_threads_for_the_size(two_threads):
    assert threads.threads_for(threads.BIG_WORK - 1) == 1
    assert threads.threads_for(threads.BIG_WORK) == 2


def test_matmul_widens_only_for_big_products(two_threads, recorded):
    small = np.ones((100, 40), np.float32), np.ones((40, 100), np.float32)
    side = int(round(threads.BIG_WORK ** (1 / 3))) + 1
    big = np.ones((side, side), np.float32), np.ones((side, side), np.float32)
    np.testing.assert_array_equal(threads.matmul(*small), np.matmul(*small))
    np.testing.assert_array_equal(threads.matmul(*big), np.matmul(*big))
    assert [c[2] for c in recorded] == [1, 2]
    assert _blas_threads() == 1  # back to one thread afterwards


def test_matmul_is_numpy_matmul_for_every_shape():
    rng = np.random.default_rng(0)
    for a_shape, b_shape in [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((5, 2, 3), (3, 4)),
                             ((2, 3), (5, 3, 4)), ((5, 2, 3), (5, 3, 4))]:
        a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
        np.testing.assert_array_equal(threads.matmul(a, b), np.matmul(a, b))
    out = np.empty((2, 4))
    assert threads.matmul(np.ones((2, 3)), np.ones((3, 4)), out=out) is out


def test_one_thread_never_widens(recorded):
    before = cr.get_num_threads()
    cr.set_num_threads(1)
    try:
        side = int(round(threads.BIG_WORK ** (1 / 3))) + 1
        threads.matmul(np.ones((side, side), np.float32), np.ones((side, side), np.float32))
    finally:
        cr.set_num_threads(before)
    assert [c[2] for c in recorded] == [1]


def test_wide_blocks_nest(two_threads):
    with threads.wide():
        with threads.wide():
            assert _blas_threads() == 2
        assert _blas_threads() == 2
    assert _blas_threads() == 1


def test_the_ops_take_their_threads_from_the_policy(two_threads, recorded):
    small = nn.Linear(40, 100)
    small(cr.randn(100, 40, requires_grad=True)).sum().backward()
    assert recorded and all(c[2] == 1 for c in recorded)
    recorded.clear()
    conv = nn.Conv2d(32, 64, 3, padding=1)  # (64, 288) @ (288, 64·14·14): over BIG_WORK
    conv(cr.randn(64, 32, 14, 14)).sum().backward()
    assert max(c[2] for c in recorded) == 2
    assert _blas_threads() == 1


def test_a_busy_machine_keeps_even_big_products_on_one_thread(two_threads, recorded,
                                                             monkeypatch):
    side = int(round(threads.BIG_WORK ** (1 / 3))) + 1
    big = np.ones((side, side), np.float32), np.ones((side, side), np.float32)
    for free, expected in ((0.9, 1), (1.3, 1), (1.6, 2)):
        monkeypatch.setattr(threads, "free_cores", lambda free=free: free)
        assert threads.threads_for(threads.BIG_WORK) == expected
        threads.matmul(*big)
    assert [c[2] for c in recorded] == [1, 1, 2]


def test_free_cores_counts_other_processes_not_this_one(monkeypatch):
    cores = threads._CORES
    # one second in which the machine ran 1.5 CPU seconds, 0.5 of them this process's own
    monkeypatch.setattr(threads, "_last", (100.0, 50.0, 3.0))
    monkeypatch.setattr(threads, "_sample", lambda: (101.0, 51.5, 3.5))
    monkeypatch.setattr(threads.time, "monotonic", lambda: 101.0)
    assert threads.free_cores() == pytest.approx(max(0.0, cores - 1.0))
    # read again only after PROBE_SECONDS: the estimate is kept
    monkeypatch.setattr(threads, "_sample", lambda: (101.1, 53.0, 3.5))
    monkeypatch.setattr(threads.time, "monotonic", lambda: 101.1)
    assert threads.free_cores() == pytest.approx(max(0.0, cores - 1.0))


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="reads /proc/stat (Linux)")
def test_free_cores_sees_a_busy_process():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        threads.free_cores()  # starts a window
        time.sleep(threads.PROBE_SECONDS + 0.3)
        assert threads.free_cores() <= threads._CORES - 0.5
    finally:
        busy.terminate()
        busy.wait()
