"""The processes of a data-parallel job and what they say to each other, on MPI (mpi4py).

``mpiexec -n N python3 train.py`` starts N copies of a program; each learns its place from
the environment mpiexec sets (MPICH: ``PMI_RANK``/``PMI_SIZE``, Open MPI:
``OMPI_COMM_WORLD_RANK``/``OMPI_COMM_WORLD_SIZE``). ``init()`` joins them (it imports mpi4py;
nothing else in chainrule does at import time), ``rank()`` and ``world_size()`` say who is who.

Every collective here is started non-blocking and waited for by polling with short sleeps,
because MPICH's blocking calls spin on a core while they wait: on a machine with as many cores
as processes, a spinning process takes the core its partner needs to finish the step. The wait
also lets Ctrl-C through.

Failure: after ``init()`` in a job of more than one process, an exception that reaches the top
of a process prints its traceback and one line naming the rank, and the process exits with a
non-zero status, upon which mpiexec stops every other process of the job (no process is left
waiting for a partner that will never come). A process that dies (a signal, the out-of-memory
killer) is noticed by mpiexec too, which stops the others.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["init", "is_initialized", "launched", "rank", "world_size", "barrier", "broadcast_",
           "all_reduce_", "all_gather_object", "abort", "DistributedError"]

#: environment variables that tell the rank and size, per MPI launcher
_RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")
_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
#: the environment variable naming the folder where each process writes its rank and process
#: id (set by ``chainrule train --nproc``, which names the rank of a process that died)
RANKS_VARIABLE = "CHAINRULE_RANKS"
# seconds a rank other than 0 waits, when every rank failed alike, for rank 0 to stop the job
# with its message (so the line is printed once)
_QUIET_WAIT = 5.0

_state: dict[str, Any] = {"comm": None, "MPI": None, "excepthook": None}


class DistributedError(RuntimeError):
    """An error that every process of the job detects alike (models that differ across ranks,
    a job started wrongly). ``every_rank`` is True: rank 0 reports it for all of them."""

    every_rank = True


def launched() -> bool:
    """True when this process was started by ``mpiexec`` with more than one process (read from
    the environment; imports nothing).

    Example:
        >>> import os
        >>> launched() == any(int(os.environ.get(v, "1")) > 1 for v in _SIZE_VARIABLES)
        True
    """
    return _environment_size() > 1


def _environment_size() -> int:
    for variable in _SIZE_VARIABLES:
        value = os.environ.get(variable)
        if value and value.isdigit():
            return int(value)
    return 1


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError(f"chainrule.distributed needs mpi4py and an MPI library ({error}); "
                          "install them with: python3 -m pip install 'chainrule[distributed]' "
                          "(mpi4py and the mpich wheel, which brings mpiexec)") from None
    return MPI


def init() -> None:
    """Join the job's processes (idempotent). Under ``mpiexec -n N`` every process calls it;
    run without mpiexec, the process is a job of one.

    It also installs the failure handling described in the module docstring. (The processes
    on one machine share its cores for BLAS: ``chainrule.threads`` divides the thread count by
    the number of local processes mpiexec announces.)

    Raises:
        ImportError: mpi4py is not installed (the message says how to install it).

    Example:
        >>> init(); rank(), world_size()   # doctest: +SKIP
        (0, 1)
    """
    if _state["comm"] is not None:
        return
    MPI = _mpi()
    comm = MPI.COMM_WORLD.Dup()  # our own communicator: the user's messages never mix with ours
    _state.update(comm=comm, MPI=MPI)
    _record_rank(comm.Get_rank())
    if comm.Get_size() > 1:
        _state["excepthook"] = sys.excepthook
        sys.excepthook = _stop_the_job


def _record_rank(number: int) -> None:
    folder = os.environ.get(RANKS_VARIABLE)
    if folder and Path(folder).is_dir():
        (Path(folder) / f"rank-{number}").write_text(f"{os.getpid()} {socket.gethostname()}\n")


def is_initialized() -> bool:
    """Whether ``init()`` has run in this process."""
    return _state["comm"] is not None


def _comm():
    comm = _state["comm"]
    if comm is None:
        raise RuntimeError("chainrule.distributed is not initialized: call "
                           "chainrule.distributed.init() first (in every process, e.g. at the "
                           "start of the script that mpiexec runs)")
    return comm


def rank() -> int:
    """This process's number in the job, 0 to ``world_size() - 1`` (rank 0 writes the
    outputs)."""
    return _comm().Get_rank()


def world_size() -> int:
    """How many processes the job has."""
    return _comm().Get_size()


# ---------------------------------------------------------------------- waiting
def _wait(request) -> None:
    """Wait for a non-blocking MPI request without holding a core: a few yields first (the
    partner is usually close), then sleeps that double up to half a millisecond."""
    pause = 0.0
    tries = 0
    while not request.Test():
        tries += 1
        if tries < 50:
            os.sched_yield()
        else:
            pause = min(pause * 2 or 2e-5, 5e-4)
            time.sleep(pause)


def _start_all_reduce(array: np.ndarray):
    """Start an in-place sum of ``array`` over all ranks; returns the request."""
    return _comm().Iallreduce(_state["MPI"].IN_PLACE, array)


def all_reduce_(array: np.ndarray) -> np.ndarray:
    """Replace ``array`` (contiguous) in place by its sum over all ranks, and return it.

    Example:
        >>> all_reduce_(np.ones(3)) / world_size()   # doctest: +SKIP
        array([1., 1., 1.])
    """
    _check_buffer("all_reduce_", array)
    if world_size() > 1:
        _wait(_start_all_reduce(array))
    return array


def broadcast_(array: np.ndarray, root: int = 0) -> np.ndarray:
    """Replace ``array`` (contiguous) in place by rank ``root``'s copy, and return it."""
    _check_buffer("broadcast_", array)
    if world_size() > 1:
        _wait(_comm().Ibcast(array, root=root))
    return array


def _check_buffer(name: str, array: Any) -> None:
    if not isinstance(array, np.ndarray) or not array.flags.c_contiguous \
            or not array.flags.writeable:
        raise TypeError(f"{name} needs a writable C-contiguous NumPy array, got "
                        f"{type(array).__name__}"
                        + ("" if not isinstance(array, np.ndarray) else " that is not one"))


def barrier() -> None:
    """Wait until every process of the job has reached this call."""
    if world_size() > 1:
        _wait(_comm().Ibarrier())


def all_gather_object(value: Any) -> list:
    """Every rank's ``value`` (picklable; small things such as model descriptions), in rank
    order, on every rank."""
    if world_size() == 1:
        return [value]
    barrier()  # wait without spinning; the gather itself is then quick
    return _comm().allgather(value)


# ---------------------------------------------------------------------- failure
def abort(message: str, status: int = 1, every_rank: bool = False) -> None:
    """Print ``message`` (one line, on stderr) and end this process with exit status ``status``,
    upon which mpiexec stops the job's other processes.

    ``every_rank=True`` says that every rank meets the same failure (a wrong command line): rank
    0 prints it and stops the job; the others wait a few seconds for that, so the line appears
    once (a rank whose rank 0 does not stop the job prints the line itself, naming its rank).
    Otherwise the line is printed as given: name the rank in it.
    """
    comm = _state["comm"]
    size = 1 if comm is None else comm.Get_size()
    if size == 1:
        print(message, file=sys.stderr, flush=True)
        raise SystemExit(status)
    number = comm.Get_rank()
    if every_rank and number != 0:
        time.sleep(_QUIET_WAIT)  # rank 0's exit normally ends this process meanwhile
        message = f"{message} (rank {number} of {size})"
    print(message, file=sys.stderr, flush=True)
    _exit(status)


def _exit(status: int) -> None:
    """End this process at once with ``status``. mpiexec (MPICH's and Open MPI's) then stops the
    job's other processes; ``MPI_Abort`` would too, with a second message of its own."""
    sys.stdout.flush()
    os._exit(status)


def _stop_the_job(kind, error, trace) -> None:
    """sys.excepthook after init(): the traceback, one line naming the rank, then the exit."""
    comm = _state["comm"]
    every_rank = getattr(error, "every_rank", False)
    if not every_rank or comm.Get_rank() == 0:
        (_state["excepthook"] or sys.__excepthook__)(kind, error, trace)
    if isinstance(error, KeyboardInterrupt):
        _exit(130)
    text = str(error).splitlines()[0] if str(error) else ""
    abort(f"chainrule.distributed: rank {comm.Get_rank()} of {comm.Get_size()} failed with "
          f"{kind.__name__}{': ' + text if text else ''}; stopping the other processes",
          1, every_rank)
