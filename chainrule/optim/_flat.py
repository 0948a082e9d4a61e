"""The flat parameter vector that second-order optimizers work on.

All parameters of the (single) group are laid end to end in order, as PyTorch's LBFGS does; a
parameter whose ``.grad`` is None, or that is frozen (``requires_grad=False``), contributes zeros
to the flat gradient and is never written to.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from chainrule.autograd.engine import grad as autograd_grad
from chainrule.optim.optimizer import Optimizer, ParamsT
from chainrule.tensor import Tensor


def numel(params: list[Tensor]) -> int:
    """Total number of elements of ``params``."""
    return sum(p.data.size for p in params)


def flat_dtype(params: list[Tensor]) -> np.dtype:
    """The dtype of the flat vector: the parameters' common floating dtype."""
    return np.result_type(*[p.dtype for p in params])


def gather_flat_grad(params: list[Tensor]) -> np.ndarray:
    """The gradients of ``params`` as one new 1-D array (zeros where there is none)."""
    dtype = flat_dtype(params)
    pieces = [p.grad.data.reshape(-1) if p.grad is not None and p.requires_grad
              else np.zeros(p.data.size, dtype=dtype) for p in params]
    return np.concatenate(pieces).astype(dtype, copy=False)


def add_to_params(params: list[Tensor], step: float, direction: np.ndarray) -> None:
    """θ ← θ + step·direction, in place, for every parameter that is not frozen."""
    offset = 0
    for p in params:
        size = p.data.size
        if p.requires_grad:
            p.data += step * direction[offset:offset + size].reshape(p.shape)
            p._version += 1
        offset += size


def clone_params(params: list[Tensor]) -> list[np.ndarray]:
    """Copies of the parameters' arrays (to return to after a trial step)."""
    return [p.data.copy() for p in params]


def set_params(params: list[Tensor], arrays: list[np.ndarray]) -> None:
    """Copy ``arrays`` back into the parameters, in place."""
    for p, array in zip(params, arrays):
        if p.requires_grad:
            np.copyto(p.data, array)
            p._version += 1


def directional_evaluate(closure: Callable, params: list[Tensor], x: list[np.ndarray], t: float,
                         d: np.ndarray) -> tuple[float, np.ndarray]:
    """Loss and flat gradient at x + t·d (for a line search); the parameters are put back to x
    afterwards."""
    add_to_params(params, t, d)
    loss = float(closure())
    flat_grad = gather_flat_grad(params)
    set_params(params, x)
    return loss, flat_grad


def evaluate_at(closure: Callable, params: list[Tensor], step: np.ndarray) -> float:
    """The loss at θ + step (a trial step); the parameters are put back exactly afterwards.

    Their version counters are put back too: the values are bit for bit the ones the graph of
    the current step saved, so that graph (still needed for more Hessian-vector products after
    a rejected trial) stays valid.
    """
    saved = clone_params(params)
    versions = [p._version for p in params]
    add_to_params(params, 1.0, step)
    try:
        return float(closure())
    finally:
        set_params(params, saved)
        for p, version in zip(params, versions):
            p._version = version


def split(vector: np.ndarray, tensors: list[Tensor]) -> list[Tensor]:
    """The flat ``vector`` cut into one tensor per entry of ``tensors``, of its shape and dtype."""
    pieces, offset = [], 0
    for t in tensors:
        size = t.data.size
        pieces.append(Tensor._make(np.ascontiguousarray(
            vector[offset:offset + size], dtype=t.data.dtype).reshape(t.shape)))
        offset += size
    return pieces


def join(parts, tensors: list[Tensor], dtype=None) -> np.ndarray:
    """One flat vector from per-tensor ``parts`` (Tensors; None gives zeros), in ``dtype``
    (default: the tensors' common dtype)."""
    dtype = flat_dtype(tensors) if dtype is None else dtype
    return np.concatenate([np.zeros(t.data.size, dtype=dtype) if part is None
                           else part.data.reshape(-1).astype(dtype, copy=False)
                           for part, t in zip(parts, tensors)])


def hessian_vector_product(grads: list[Tensor], params: list[Tensor],
                           vector: np.ndarray) -> np.ndarray:
    """H·v for flat ``vector`` by double backward through ``grads`` (gradients that carry their
    graph, from ``backward_options(create_graph=True)``); zeros where a gradient is constant."""
    linked = [(g, piece) for g, piece in zip(grads, split(vector, params))
              if g is not None and g.requires_grad]
    if not linked:
        return np.zeros(numel(params), dtype=flat_dtype(params))
    parts = autograd_grad([g for g, _ in linked], params, [piece for _, piece in linked],
                          retain_graph=True, allow_unused=True)
    return join(parts, params)


class FlatOptimizer(Optimizer):
    """Base of the closure-based optimizers on the flat parameter vector.

    They take a single parameter group and keep their state under the first parameter (so the
    state dict has one entry, index 0, as PyTorch's LBFGS).
    """

    def __init__(self, params: ParamsT, defaults: dict):
        super().__init__(params, defaults)
        name = type(self).__name__
        if len(self.param_groups) != 1:
            raise ValueError(f"{name} doesn't support per-parameter options (parameter groups); "
                             f"pass one list of tensors")
        self._params: list[Tensor] = self.param_groups[0]["params"]

    def add_param_group(self, param_group: dict) -> None:
        if self.param_groups:
            raise ValueError(f"{type(self).__name__} works on one flat parameter vector and takes "
                             "a single parameter group; pass one list of tensors")
        super().add_param_group(param_group)

    def _numel(self) -> int:
        return numel(self._params)

    def _require_closure(self, closure: Callable | None) -> Callable:
        if closure is None or not callable(closure):
            raise TypeError(
                f"{type(self).__name__}.step needs a closure that re-evaluates the model: "
                "def closure(): optimizer.zero_grad(); loss = loss_fn(model(x), y); "
                "loss.backward(); return loss — then call optimizer.step(closure)"
            )
        return closure

    def _state_dtype(self, param: Tensor) -> np.dtype:
        return flat_dtype(self._params)

    def _check_state(self, param: Tensor, index: int, values: dict) -> None:
        size = self._numel()
        for name, value in values.items():
            arrays = value if isinstance(value, list) else [value]
            for array in arrays:
                if isinstance(array, np.ndarray) and any(dim != size for dim in array.shape):
                    raise ValueError(
                        f"state {name!r} has an array of shape {array.shape}, but this optimizer's "
                        f"parameters have {size} elements in all; the state dict belongs to "
                        "another model"
                    )
