"""Evaluation: ``evaluate`` (loss and metrics under ``no_grad`` in eval mode) and ``predict``."""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from chainrule.autograd.grad_mode import no_grad
from chainrule.creation import from_numpy
from chainrule.nn import functional as F
from chainrule.tensor import Tensor
from chainrule.train.metrics import get_metric, metric_name

__all__ = ["evaluate", "predict"]


def _loss_function(loss_fn: Callable | str) -> Callable:
    if callable(loss_fn):
        return loss_fn
    names = {"cross_entropy": "cross_entropy", "mse": "mse_loss", "l1": "l1_loss",
             "bce_with_logits": "binary_cross_entropy_with_logits", "nll": "nll_loss"}
    if loss_fn not in names:
        raise ValueError(f"unknown loss {loss_fn!r}; pass a function/module or one of "
                         f"{sorted(names)}")
    return getattr(F, names[loss_fn])


def _split_batch(batch: Any) -> tuple[Any, Any]:
    if type(batch) is tuple and len(batch) == 2:
        return batch
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    raise ValueError(f"fit expects batches (inputs, targets); got a {type(batch).__name__}. Use "
                     "a dataset whose samples are (input, target) pairs")


def _data(value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):  # (an ndarray's own .data is a memoryview)
        return value
    data = getattr(value, "data", None)
    return data if isinstance(data, np.ndarray) else np.asarray(value)


def _scores(collected: list[np.ndarray]) -> np.ndarray:
    return collected[0] if len(collected) == 1 else np.concatenate(collected)


def _metric_values(metric_fns: list[tuple[str, Callable]], outputs: list, targets: list,
                   prefix: str) -> dict[str, float]:
    if not metric_fns or not outputs:
        return {}
    all_outputs, all_targets = _scores(outputs), _scores(targets)
    return {prefix + name: float(fn(all_outputs, all_targets)) for name, fn in metric_fns}


def evaluate(model: Any, loader: Iterable, loss_fn: Callable | str | None = None,
             metrics: Sequence[str | Callable] = ("accuracy",),
             return_outputs: bool = False) -> dict[str, Any]:
    """Loss and metrics of ``model`` over every batch of ``loader``, in eval mode, under
    ``no_grad``.

    The loss is the sample-weighted mean of the per-batch (mean-reduced) losses; metrics are
    computed once on all outputs together. The model's train/eval mode is restored afterwards.

    Args:
        model: the network. loader: batches ``(inputs, targets)``.
        loss_fn: e.g. ``nn.CrossEntropyLoss()``, ``F.cross_entropy`` or ``"cross_entropy"``.
        metrics: names (see ``chainrule.train.metrics``) or functions.
        return_outputs: also return ``outputs`` and ``targets`` (NumPy arrays of all batches).

    Returns:
        ``{"loss": float, "<metric>": float, ...}`` (+ ``outputs``, ``targets``).

    Example:
        >>> import chainrule as cr, numpy as np
        >>> from chainrule import nn
        >>> from chainrule.data import DataLoader, TensorDataset
        >>> data = TensorDataset(np.eye(4, dtype=np.float32), np.arange(4))
        >>> result = evaluate(nn.Linear(4, 4), DataLoader(data, batch_size=2), "cross_entropy")
        >>> sorted(result)
        ['accuracy', 'loss']
    """
    loss_fn = None if loss_fn is None else _loss_function(loss_fn)
    metric_fns = [(metric_name(m), get_metric(m)) for m in metrics]
    return _evaluate(model, loader, loss_fn, metric_fns, return_outputs)


def _evaluate(model: Any, loader: Iterable, loss_fn: Callable | None, metric_fns: list,
              return_outputs: bool = False, return_count: bool = False) -> dict[str, Any]:
    was_training = getattr(model, "training", False)
    outputs, targets = [], []
    total, count = 0.0, 0
    model.eval()
    try:
        with no_grad():
            for batch in loader:
                inputs, target = _split_batch(batch)
                output = model(inputs)
                size = len(_data(target))
                if loss_fn is not None:
                    total += float(loss_fn(output, target).item()) * size
                count += size
                outputs.append(_data(output))
                targets.append(_data(target))
    finally:
        model.train(was_training)
    result: dict[str, Any] = {}
    if loss_fn is not None:
        result["loss"] = total / count if count else math.nan
    result.update(_metric_values(metric_fns, outputs, targets, ""))
    if return_outputs:
        result["outputs"] = _scores(outputs) if outputs else np.zeros((0,), np.float32)
        result["targets"] = _scores(targets) if targets else np.zeros((0,), np.int64)
    if return_count:
        result["count"] = count
    return result


def predict(model: Any, inputs: Any, batch_size: int = 256) -> np.ndarray:
    """The model's outputs for ``inputs`` (an array/Tensor ``(N, ...)`` or a loader of batches),
    in eval mode, under ``no_grad``, as one NumPy array.

    Example:
        >>> import chainrule as cr, numpy as np
        >>> from chainrule import nn
        >>> predict(nn.Linear(3, 2), np.zeros((5, 3), np.float32)).shape
        (5, 2)
    """
    was_training = getattr(model, "training", False)
    model.eval()
    pieces = []
    try:
        with no_grad():
            if isinstance(inputs, (np.ndarray, Tensor)):
                array = _data(inputs)
                if array.dtype.kind != "f" or array.dtype == np.float16:
                    array = array.astype(np.float32)
                step = max(1, int(batch_size))
                for start in range(0, len(array), step):
                    chunk = np.ascontiguousarray(array[start:start + step])
                    pieces.append(_data(model(from_numpy(chunk))))
            else:
                for batch in inputs:
                    x = batch[0] if isinstance(batch, (tuple, list)) else batch
                    pieces.append(_data(model(x)))
    finally:
        model.train(was_training)
    return _scores(pieces) if pieces else np.zeros((0,), np.float32)
