"""``DistributedDataParallel``: the same model in every process, gradients averaged over them.

Each process computes the gradients of its own batch; after ``backward`` every parameter's
``.grad`` holds the average over the processes, so every optimizer takes the same step and the
copies stay equal. With equal batches of B samples, N processes train exactly as one process
would on the combined batch of N·B samples.

How the averaging rides on backward: every parameter gets a gradient hook. chainrule's engine
hands the leaves their gradients one after the other at the end of backward; a parameter's
``.grad`` is final once the hook of the next one runs, so its bucket (gradients packed in one
flat buffer, ``bucket_cap_mb`` each, in reverse order of the parameters as PyTorch's DDP builds
them) starts its non-blocking sum as soon as all of its parameters are final, while the hand-over
goes on; the last hook waits for every bucket and writes the averages back. The buckets start in
the same order on every rank (MPI requires it).
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np

from chainrule.distributed import comm
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["DistributedDataParallel"]


class _Bucket:
    """Parameters whose gradients are summed together in one flat buffer."""

    def __init__(self, indices: list[int], params: list, dtype) -> None:
        self.indices = indices
        sizes = [params[i].data.size for i in indices]
        self.offsets = dict(zip(indices, np.cumsum([0] + sizes[:-1]).tolist()))
        self.buffer = np.zeros(sum(sizes), dtype=dtype)
        self.final = 0  # how many of its parameters' gradients are packed this round
        self.request = None


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training over the processes of an MPI job.

    At wrap time every rank's model is checked against rank 0's (parameter and buffer names,
    shapes, dtypes, ``requires_grad``: a difference is a ``DistributedError`` naming the rank
    and the entry), then rank 0's parameters and buffers are copied to every rank. After each
    ``backward()`` the gradients are the averages over the ranks (see the module docstring).
    In training mode each forward first copies rank 0's buffers (BatchNorm's running
    statistics) to the others, as PyTorch's ``broadcast_buffers=True`` does.

    Unlike PyTorch's, ``state_dict()`` and ``load_state_dict()`` are those of the wrapped module
    (no ``module.`` prefix; a prefixed dict loads too), so one checkpoint serves a run in one
    process and in many.

    Args:
        module: the ``nn.Module`` to train (built the same way in every process).
        broadcast_buffers: copy rank 0's buffers to the others before each training forward.
        bucket_cap_mb: the size of a gradient bucket in MiB (PyTorch's default 25).

    Raises:
        RuntimeError: ``chainrule.distributed.init()`` was not called.
        DistributedError: the models differ across ranks.

    Example:
        >>> from chainrule import distributed, nn, optim   # doctest: +SKIP
        >>> distributed.init()
        >>> model = distributed.DistributedDataParallel(nn.Linear(4, 2))
        >>> opt = optim.SGD(model.parameters(), lr=0.1)
    """

    def __init__(self, module: Module, broadcast_buffers: bool = True,
                 bucket_cap_mb: float = 25.0) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps an nn.Module, got "
                            f"{type(module).__name__}")
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, (int, float)) \
                or not bucket_cap_mb > 0:
            raise ValueError(f"bucket_cap_mb must be a positive number of MiB, got "
                             f"{bucket_cap_mb!r}")
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.world_size, self.rank = comm.world_size(), comm.rank()
        _check_same_model(module, self.rank, self.world_size)
        with_grad = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._names = [n for n, _ in with_grad]
        self._params = [p for _, p in with_grad]
        _broadcast_tensors([p for _, p in module.named_parameters()]
                           + [b for _, b in module.named_buffers()])
        object.__setattr__(self, "_sync", True)
        self._buckets = _make_buckets(self._params, float(bucket_cap_mb))
        self._bucket_of = {i: b for b in self._buckets for i in b.indices}
        self._fired: list[int] = []
        if self.world_size > 1:
            for index, param in enumerate(self._params):
                param.register_hook(lambda grad, index=index: self._on_gradient(index, grad))

    # ------------------------------------------------------------------ the module's face
    def forward(self, *args, **kwargs):
        if self._fired:
            missing = [self._names[i] for i in range(len(self._params))
                       if i not in set(self._fired)]
            self._fired = []
            for bucket in self._buckets:
                bucket.final = 0
            raise RuntimeError(
                "DistributedDataParallel: the previous backward gave no gradient to "
                f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}, so the "
                "gradients were not averaged; every parameter that requires grad must take "
                "part in the loss (freeze the others with requires_grad_(False) before "
                "wrapping)")
        if self.training and self.broadcast_buffers and self.world_size > 1:
            _broadcast_tensors([b for _, b in self.module.named_buffers()])
        return self.module(*args, **kwargs)

    def state_dict(self, prefix: str = "", keep_vars: bool = False):
        """The wrapped module's ``state_dict`` (no ``module.`` prefix)."""
        return self.module.state_dict(prefix=prefix, keep_vars=keep_vars)

    def load_state_dict(self, state_dict, strict: bool = True):
        """Load into the wrapped module; keys with PyTorch's ``module.`` prefix load too."""
        keys = list(state_dict.keys()) if hasattr(state_dict, "keys") else []
        if keys and all(k.startswith("module.") for k in keys):
            state_dict = {k[len("module."):]: v for k, v in state_dict.items()}
        return self.module.load_state_dict(state_dict, strict=strict)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside this block backward keeps the gradients local (they accumulate in ``.grad``);
        the first backward after it averages the accumulated sum, as PyTorch's ``no_sync``.

        Example:
            >>> with model.no_sync():                    # doctest: +SKIP
            ...     loss_fn(model(x1), y1).backward()    # local
            >>> loss_fn(model(x2), y2).backward()        # averages the sum of both
        """
        previous = self._sync
        object.__setattr__(self, "_sync", False)
        try:
            yield
        finally:
            object.__setattr__(self, "_sync", previous)

    def average_over_processes(self, values: dict[str, Any],
                               weights: dict[str, float]) -> dict[str, Any]:
        """The numbers of ``values`` averaged over the ranks, each entry whose name starts with
        a prefix of ``weights`` weighted by that rank's weight (its sample count); other
        numbers are plain means. ``fit`` calls it on each epoch's record, so the loss and the
        metrics are those of all the processes' samples together."""
        keys = [k for k, v in values.items() if isinstance(v, (int, float, np.floating))
                and not isinstance(v, bool) and k != "epoch"]
        if self.world_size == 1 or not keys:
            return dict(values)
        weight = np.array([next((float(w) for p, w in weights.items() if k.startswith(p)), 1.0)
                           for k in keys])
        numbers = np.array([float(values[k]) for k in keys])
        packed = np.concatenate([np.where(weight > 0, numbers * weight, 0.0), weight])
        comm.all_reduce_(packed)
        sums, totals = packed[:len(keys)], packed[len(keys):]
        result = dict(values)
        for key, total, total_weight in zip(keys, sums, totals):
            result[key] = float(total / total_weight) if total_weight > 0 else float("nan")
        return result

    # ------------------------------------------------------------------ the averaging
    def _on_gradient(self, index: int, grad: Tensor):
        if not self._sync:
            return None
        if grad.requires_grad:
            raise RuntimeError("DistributedDataParallel averages plain gradients; it does not "
                               "support backward(create_graph=True) (gradients of gradients)")
        if self._fired:  # the previous parameter's .grad is final now
            self._pack(self._fired[-1], self._params[self._fired[-1]].grad.data)
        self._fired.append(index)
        if len(self._fired) < len(self._params):
            return None
        # the last parameter of this backward: its .grad will be (its .grad so far) + grad
        param = self._params[index]
        total = grad.data if param.grad is None else param.grad.data + grad.data
        self._pack(index, total)
        for bucket in self._buckets:
            comm._wait(bucket.request)
            bucket.buffer /= self.world_size
            bucket.final, bucket.request = 0, None
        for i in self._fired[:-1]:
            np.copyto(self._params[i].grad.data, self._slot(i))
        self._fired = []
        param.grad = None  # the engine sets .grad to what the hook returns
        return Tensor._make(self._slot(index).copy())

    def _slot(self, index: int) -> np.ndarray:
        bucket = self._bucket_of[index]
        start, param = bucket.offsets[index], self._params[index]
        return bucket.buffer[start:start + param.data.size].reshape(param.data.shape)

    def _pack(self, index: int, gradient: np.ndarray) -> None:
        bucket = self._bucket_of[index]
        self._slot(index)[...] = gradient
        bucket.final += 1
        for candidate in self._buckets:  # start the buckets that are full, in order
            if candidate.request is not None:
                continue
            if candidate.final < len(candidate.indices):
                break
            candidate.request = comm._start_all_reduce(candidate.buffer)


def _make_buckets(params: list, cap_mb: float) -> list[_Bucket]:
    """Buckets of at most ``cap_mb`` MiB (a larger parameter gets one of its own), one dtype
    each, in reverse order of the parameters (backward reaches the last layers first)."""
    buckets, current, size, dtype = [], [], 0, None
    for index in reversed(range(len(params))):
        array = params[index].data
        if current and (array.dtype != dtype or size + array.nbytes > cap_mb * 2**20):
            buckets.append(_Bucket(current, params, dtype))
            current, size = [], 0
        current.append(index)
        size, dtype = size + array.nbytes, array.dtype
    if current:
        buckets.append(_Bucket(current, params, dtype))
    return buckets


def _broadcast_tensors(tensors: list) -> None:
    """Copy rank 0's values of ``tensors`` to every rank: one broadcast per dtype."""
    by_dtype: dict = {}
    for tensor in tensors:
        if tensor is not None:
            by_dtype.setdefault(tensor.data.dtype, []).append(tensor)
    for dtype, group in by_dtype.items():
        flat = np.concatenate([t.data.reshape(-1) for t in group]).astype(dtype, copy=False)
        comm.broadcast_(flat)
        start = 0
        for tensor in group:
            size = tensor.data.size
            tensor.data[...] = flat[start:start + size].reshape(tensor.data.shape)
            tensor._version += 1
            start += size


def _describe(module: Module) -> list[tuple]:
    entries = [("parameter", n, tuple(p.shape), str(p.dtype), bool(p.requires_grad))
               for n, p in module.named_parameters()]
    entries += [("buffer", n, tuple(b.shape), str(b.dtype), False)
                for n, b in module.named_buffers() if b is not None]
    return entries


def _check_same_model(module: Module, rank: int, size: int) -> None:
    """Raise DistributedError on every rank when a rank's model differs from rank 0's."""
    described = comm.all_gather_object(_describe(module))
    reference = described[0]
    for other, entries in enumerate(described[1:], start=1):
        if entries == reference:
            continue
        difference = _first_difference(reference, entries)
        raise comm.DistributedError(
            f"DistributedDataParallel: the model on rank {other} differs from rank 0's: "
            f"{difference}. Build the same model (same code, same settings) in every process")


def _first_difference(reference: list, entries: list) -> str:
    fields = ("kind", "name", "shape", "dtype", "requires_grad")
    for ours, theirs in zip(reference, entries):
        if ours != theirs:
            what = [f"{f} {b!r} (rank 0: {a!r})" for f, a, b in zip(fields, ours, theirs)
                    if a != b]
            return f"{ours[0]} {ours[1]!r} has " + ", ".join(what)
    longer, label = (reference, "rank 0") if len(reference) > len(entries) else (entries, "it")
    extra = longer[min(len(reference), len(entries))]
    return (f"{len(entries)} parameters and buffers against rank 0's {len(reference)} "
            f"({label} has {extra[0]} {extra[1]!r} more)")
