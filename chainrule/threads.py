"""How many threads BLAS may use: one for small products, ``get_num_threads()`` for big ones.

NumPy's BLAS (OpenBLAS) splits every product above a tiny size over all its threads, and its
threads spin while they wait for each other. The products of a small network are far too short
to share: two threads gain little on a quiet machine and lose 5-20x when another process keeps
one core busy (a browser, a second job), because every product then waits for a thread that is
not running. So chainrule sets NumPy's BLAS to one thread when it is imported and opens more
threads only around a product big enough to gain from them, ``m·k·n >= BIG_WORK`` (2**25, a
(64×288)@(288×2048) convolution: measured on the 2-core machine beside other work at load ~3,
2 threads made such a product 1.5-1.9x faster, below ~2**24 under 1.4x), and only as
many as there are cores that other processes leave free: even a big product runs 1.3-6x slower
on two threads when another process keeps a core busy. The free cores come from ``/proc/stat``
(the machine's busy time) minus this process's own CPU time, read at most every
``PROBE_SECONDS`` and only when a big product asks (elsewhere than Linux: all cores count as
free). Switching the thread count costs about 3 µs, once per big product.

``set_num_threads(n)`` / ``get_num_threads()`` are PyTorch's: the most threads one op may use.
The default is BLAS's own thread count at import (``OPENBLAS_NUM_THREADS`` and
``OMP_NUM_THREADS`` are honoured), divided among the processes of an MPI job on this machine.
NumPy code of your own that runs after ``import chainrule`` also gets one BLAS thread; give it
more with threadpoolctl (``threadpool_limits(limits=n, user_api="blas")``).
"""

from __future__ import annotations

import numbers
import os
import time

import numpy as np
from threadpoolctl import ThreadpoolController

__all__ = ["BIG_WORK", "PROBE_SECONDS", "free_cores", "get_num_threads", "matmul",
           "set_num_threads", "threads_for", "wide"]

#: m·k·n from which a product may run on more than one thread
BIG_WORK = 1 << 25
#: how old the estimate of the free cores may get before it is read again
PROBE_SECONDS = 0.25

#: processes of an MPI job on this machine (MPICH's and Open MPI's mpiexec set one of these)
_LOCAL_SIZE_VARIABLES = ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE")


def _blas_controllers() -> list:
    return [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]


def _default_threads(controllers: list) -> int:
    counts = [lib.num_threads for lib in controllers if lib.num_threads]
    threads = max(counts) if counts else (os.cpu_count() or 1)
    for variable in _LOCAL_SIZE_VARIABLES:
        if os.environ.get(variable, "").isdigit() and int(os.environ[variable]) > 1:
            threads = max(1, threads // int(os.environ[variable]))
            break
    return threads


_controllers = _blas_controllers()
_num_threads = _default_threads(_controllers)


def _set_blas(threads: int) -> None:
    for lib in _controllers:
        lib.set_num_threads(threads)


_set_blas(1)


def set_num_threads(n: int) -> None:
    """Let one op use up to ``n`` threads (products of ``m·k·n >= BIG_WORK``; smaller ones keep
    one thread), as ``torch.set_num_threads``.

    Example:
        >>> import chainrule as cr
        >>> before = cr.get_num_threads()
        >>> cr.set_num_threads(1); cr.get_num_threads()
        1
        >>> cr.set_num_threads(before)
    """
    global _num_threads
    if not isinstance(n, numbers.Integral) or isinstance(n, bool):
        raise RuntimeError(f"set_num_threads expects an int, got {type(n).__name__}: {n!r}")
    if n < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {n}")
    _num_threads = int(n)


def get_num_threads() -> int:
    """The most threads one op may use (see ``set_num_threads``), as ``torch.get_num_threads``.

    Example:
        >>> import chainrule as cr
        >>> cr.get_num_threads() >= 1
        True
    """
    return _num_threads


def _machine_busy_seconds() -> float | None:
    """CPU seconds all processes of the machine have run since boot (Linux), else None."""
    try:
        with open("/proc/stat", "rb") as stat:
            fields = stat.readline().split()[1:9]
    except OSError:
        return None
    values = [int(v) for v in fields]  # user nice system idle iowait irq softirq steal
    return (sum(values) - values[3] - values[4]) / _TICKS


def _own_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _sample() -> tuple:
    return time.monotonic(), _machine_busy_seconds(), _own_seconds()


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_CORES = os.cpu_count() or 1
_last = _sample()
_free = float(_CORES)


def free_cores() -> float:
    """Cores that other processes left idle over the last ``PROBE_SECONDS`` or so (this
    process's own threads count as free): the machine's busy time minus this process's.

    Example:
        >>> from chainrule import threads
        >>> 0 <= threads.free_cores() <= os.cpu_count()
        True
    """
    global _last, _free
    now = time.monotonic()
    if now - _last[0] >= PROBE_SECONDS:
        sample = _sample()
        if sample[1] is not None and _last[1] is not None:
            others = (sample[1] - _last[1]) - (sample[2] - _last[2])
            _free = min(float(_CORES), max(0.0, _CORES - others / (sample[0] - _last[0])))
        _last = sample
    return _free


def threads_for(work: int) -> int:
    """The BLAS threads a product of ``work = m·k·n`` multiply-adds gets: one below
    ``BIG_WORK``, else ``get_num_threads()`` or the free cores, whichever is fewer.

    Example:
        >>> from chainrule import threads
        >>> threads.threads_for(10)
        1
    """
    if work < BIG_WORK or _num_threads == 1:
        return 1
    return max(1, min(_num_threads, int(free_cores() + 0.5)))


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``np.matmul(a, b, out=out)`` on the BLAS threads its size calls for (``threads_for``).

    Example:
        >>> import numpy as np
        >>> from chainrule import threads
        >>> threads.matmul(np.ones((2, 3)), np.ones((3, 4))).shape
        (2, 4)
    """
    if _num_threads == 1:
        return np.matmul(a, b, out=out)
    rows = a.shape[-2] if a.ndim > 1 else 1
    cols = b.shape[-1] if b.ndim > 1 else 1
    count = threads_for(max(a.size * cols, b.size * rows))
    if count == 1:
        return np.matmul(a, b, out=out)
    with wide(count):
        return np.matmul(a, b, out=out)


class wide:  # noqa: N801  (used as a context manager, like no_grad)
    """Run the block on ``threads`` BLAS threads (default: ``get_num_threads()`` or the free
    cores, whichever is fewer), for one big product or factorization; one thread again when
    the outermost such block ends.

    Example:
        >>> import numpy as np
        >>> from chainrule import threads
        >>> with threads.wide():
        ...     q, r = np.linalg.qr(np.eye(3))
    """

    __slots__ = ("threads",)

    def __init__(self, threads: int | None = None):
        self.threads = threads

    def __enter__(self) -> None:
        global _depth
        _depth += 1
        if _depth == 1:
            count = self.threads or threads_for(BIG_WORK)
            if count > 1:
                _set_blas(count)

    def __exit__(self, *exc) -> None:
        global _depth
        _depth -= 1
        if _depth == 0:
            _set_blas(1)


_depth = 0  # how many ``wide`` blocks are open
