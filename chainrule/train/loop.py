"""The training loop: ``fit`` and ``evaluate``.

``fit`` runs, for each epoch: ``model.train()``; for each batch ``zero_grad → forward → loss →
backward → (callbacks' on_after_backward) → (gradient clipping) → optimizer.step()``; then
``evaluate`` on the validation loader under ``no_grad`` in ``eval()`` mode; then the scheduler
step; then the callbacks' ``on_epoch_end``. Closure-based optimizers (LBFGS, BFGS, Newton,
NewtonCG) get the closure built for them: zero_grad, forward, loss, backward, return the loss.

Schedulers step once per epoch, after validation; ``ReduceLROnPlateau`` steps with the
validation loss (the training loss without a validation loader); ``OneCycleLR`` (and any
scheduler with ``step_per_batch = True``) steps after every batch.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from chainrule.nn.utils import clip_grad_norm_, l1_penalty
from chainrule.optim import lr_scheduler
from chainrule.optim._flat import FlatOptimizer
from chainrule.tensor import Tensor
from chainrule.train.callbacks import Callback
from chainrule.train.checkpoint import load_checkpoint
from chainrule.train.evaluation import (
    _evaluate, _loss_function, _metric_values, _split_batch, evaluate, predict,
)
from chainrule.train.history import History
from chainrule.train.metrics import get_metric, metric_name

__all__ = ["fit", "evaluate", "predict", "FitState", "needs_closure"]



class FitState:
    """What ``fit`` shares with its callbacks (every hook receives it).

    Attributes:
        model, loss_fn, optimizer, scheduler, train_loader, val_loader, callbacks: as given.
        epochs: the last epoch to train (counted from 1). epoch: the current epoch (from 1).
        initial_epoch: epochs already done when ``fit`` started (after a resume).
        batch: index of the current batch in the epoch. step: optimizer steps so far.
        loss: the last batch's loss (a float, set before ``on_batch_end``).
        loss_tensor: the last batch's loss Tensor (set before ``on_after_backward``).
        batch_size: samples in the last batch.
        logs: the last finished epoch's record (set before ``on_epoch_end``).
        history: the ``History`` being filled.
        stop_training: set it to True in a callback to stop after the current batch/epoch.
        stop_reason: a sentence saying why training stopped early (or None).
        interrupted: True after Ctrl-C (KeyboardInterrupt) during training.
        checkpoint_path: where a ``Checkpoint`` callback last wrote (or None).
    """

    def __init__(self, **fields: Any) -> None:
        self.epoch = 0
        self.initial_epoch = 0
        self.batch = 0
        self.step = 0
        self.loss = math.nan
        self.loss_tensor = None
        self.batch_size = 0
        self.logs: dict[str, Any] = {}
        self.stop_training = False
        self.stop_reason: str | None = None
        self.interrupted = False
        self.failed = False
        self.checkpoint_path: str | None = None
        self.__dict__.update(fields)

    @property
    def lr(self) -> float:
        """The first parameter group's current learning rate."""
        return float(self.optimizer.param_groups[0]["lr"])


def needs_closure(optimizer: Any) -> bool:
    """True for optimizers whose ``step`` takes a closure that re-evaluates the loss.

    An optimizer says so with a class attribute ``requires_closure``; otherwise chainrule's
    flat-vector optimizers (LBFGS, BFGS, Newton, NewtonCG) are recognised by their base class.
    """
    flag = getattr(optimizer, "requires_closure", None)
    if flag is not None:
        return bool(flag)
    return isinstance(optimizer, FlatOptimizer)


def _steps_per_batch(scheduler: Any) -> bool:
    """OneCycleLR counts batches (as does a scheduler that says ``step_per_batch = True``);
    the other schedules count epochs."""
    flag = getattr(scheduler, "step_per_batch", None)
    if flag is not None:
        return bool(flag)
    return isinstance(scheduler, lr_scheduler.OneCycleLR)


def _is_plateau(scheduler: Any) -> bool:
    return isinstance(scheduler, lr_scheduler.ReduceLROnPlateau)


def _overrides(callback: Callback, hook: str) -> bool:
    """Whether ``callback`` does something at ``hook`` (so the loop skips no-op calls)."""
    own = getattr(callback, "__dict__", {})
    if hook in own:  # set on the instance: a function, or None to switch the hook off
        return own[hook] is not None
    return getattr(type(callback), hook, None) is not getattr(Callback, hook, None)


def _across_processes(model: Any) -> Callable | None:
    """A data-parallel model's averaging of the epoch's record over the processes
    (``chainrule.distributed.DistributedDataParallel``), or None."""
    return getattr(model, "average_over_processes", None)


def _l1_term(model: Any) -> Tensor:
    return l1_penalty(model, only_weights=True)


def _clipper(model: Any, max_norm: float) -> Callable[[], Any]:
    params = [p for p in model.parameters() if p.requires_grad]
    return lambda: clip_grad_norm_(params, max_norm)


# ---------------------------------------------------------------------- training
def fit(model: Any, loss_fn: Callable | str, optimizer: Any, train_loader: Iterable,
        val_loader: Iterable | None = None, epochs: int = 10, scheduler: Any = None,
        callbacks: Iterable[Callback] = (), metrics: Sequence[str | Callable] = ("accuracy",),
        clip_grad_norm: float | None = None, l1: float = 0.0, scheduler_interval: str = "auto",
        resume: str | None = None) -> History:
    """Train ``model`` for ``epochs`` epochs and return the per-epoch ``History``.

    Per batch: ``optimizer.zero_grad()``, ``loss = loss_fn(model(x), y) + l1·Σ|w|``,
    ``loss.backward()``, the callbacks' ``on_after_backward``, optional clipping of the
    gradients' joint norm to ``clip_grad_norm``, ``optimizer.step()``. Closure-based optimizers
    (``LBFGS``, ``BFGS``, ``Newton``, ``NewtonCG``) receive that sequence as their closure.
    After each epoch the model is evaluated on ``val_loader`` (eval mode, ``no_grad``).

    Train metrics are computed on the outputs seen during the epoch (in train mode, as the
    weights changed), the validation metrics after it. The recorded loss is ``loss_fn``'s (the
    L1 term is left out so train and validation losses compare). With a
    ``chainrule.distributed.DistributedDataParallel`` model (under ``mpiexec``) each process
    trains on its shard and the epoch's record is averaged over the processes, weighted by
    their sample counts, so every process sees the same numbers (and the scheduler and the
    callbacks decide alike); closure-based optimizers are refused there.

    Args:
        model: the ``nn.Module`` to train.
        loss_fn: a loss module/function taking ``(outputs, targets)``, or a name:
            ``"cross_entropy"``, ``"mse"``, ``"l1"``, ``"bce_with_logits"``, ``"nll"``.
        optimizer: any ``chainrule.optim`` optimizer over the model's parameters.
        train_loader: batches ``(inputs, targets)``, e.g. a ``DataLoader`` (or a list).
        val_loader: optional batches to evaluate after each epoch.
        epochs: the epoch to train up to (counted from 1; a resumed run continues to it).
        scheduler: a learning-rate scheduler; see ``scheduler_interval``.
        callbacks: ``Callback`` objects (progress bar, early stopping, checkpoints, ...).
        metrics: names from ``chainrule.train.metrics`` (``"accuracy"``, ``"top5_accuracy"``,
            ``"mae"``, ...) or functions ``(outputs, targets) -> float``.
        clip_grad_norm: clip the gradients' joint L2 norm to this (first-order optimizers).
        l1: weight of the L1 penalty ``Σ|w|`` over the weights added to the loss.
        scheduler_interval: ``"epoch"``, ``"batch"`` or ``"auto"`` (per batch for
            ``OneCycleLR``, per epoch otherwise; ``ReduceLROnPlateau`` gets the
            validation loss, or the training loss without ``val_loader``).
        resume: a checkpoint from ``save_checkpoint``/``Checkpoint`` to continue from: the
            model, optimizer, scheduler, callbacks, history, loader position and every random
            generator are restored, so the result equals an uninterrupted run bit for bit.

    Returns:
        the ``History`` (one row per epoch: ``epoch``, ``train_loss``, ``train_<metric>``,
        ``val_loss``, ``val_<metric>``, ``lr``, ``time``).

    Raises:
        KeyboardInterrupt: after Ctrl-C, once the callbacks' ``on_interrupt`` ran (a
            ``Checkpoint`` callback saves the last finished epoch there).

    Example:
        >>> import chainrule as cr, numpy as np
        >>> from chainrule import nn, optim
        >>> from chainrule.data import DataLoader, TensorDataset
        >>> x = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
        >>> data = TensorDataset(x, (x[:, 0] > 0).astype(np.int64))
        >>> model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> opt = optim.Adam(model.parameters(), lr=0.05)
        >>> history = fit(model, "cross_entropy", opt, DataLoader(data, 16, shuffle=True), epochs=5)
        >>> history["train_accuracy"][-1] > 0.8
        True
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative int, got {epochs!r}")
    if scheduler_interval not in ("auto", "epoch", "batch"):
        raise ValueError(f"scheduler_interval must be 'auto', 'epoch' or 'batch', got "
                         f"{scheduler_interval!r}")
    if clip_grad_norm is not None and not clip_grad_norm > 0:
        raise ValueError(f"clip_grad_norm must be a positive number or None, got {clip_grad_norm}")
    closure_based = needs_closure(optimizer)
    if closure_based and _across_processes(model) is not None:
        raise ValueError(f"{type(optimizer).__name__} searches along a line with the loss its "
                         "closure returns, which differs from process to process, so the "
                         "copies of the model would drift apart; train it in one process")
    if closure_based and clip_grad_norm is not None:
        raise ValueError(f"clip_grad_norm works with first-order optimizers; "
                         f"{type(optimizer).__name__} chooses its own step length (line search / "
                         "Hessian), so leave clip_grad_norm=None")
    loss_fn = _loss_function(loss_fn)
    metric_fns = [(metric_name(m), get_metric(m)) for m in metrics]
    callbacks = sorted(callbacks, key=lambda c: getattr(c, "order", 0))
    if scheduler_interval == "auto" and scheduler is not None:
        scheduler_interval = "batch" if _steps_per_batch(scheduler) else "epoch"
    state = FitState(model=model, loss_fn=loss_fn, optimizer=optimizer, scheduler=scheduler,
                     train_loader=train_loader, val_loader=val_loader, callbacks=callbacks,
                     epochs=int(epochs), metrics=[name for name, _ in metric_fns],
                     history=History(), scheduler_interval=scheduler_interval)
    if resume is not None:
        content = load_checkpoint(resume, model, optimizer, scheduler, loaders=[train_loader],
                                  callbacks=callbacks)
        state.initial_epoch = int(content["epoch"])
        state.step = int(content["step"])
        state.history = content["history"]
        state.resumed_from = str(resume)
    step_fn = _closure_step if closure_based else _plain_step
    state.clip = _clipper(model, clip_grad_norm) if clip_grad_norm is not None else None
    state.l1 = float(l1)
    hooks = {name: [c for c in callbacks if _overrides(c, name)]
             for name in ("on_train_begin", "on_epoch_begin", "on_batch_end",
                          "on_after_backward", "on_epoch_end", "on_train_end", "on_interrupt")}
    finished = False
    try:
        for callback in hooks["on_train_begin"]:
            callback.on_train_begin(state)
        for epoch in range(state.initial_epoch + 1, state.epochs + 1):
            if state.stop_training:
                break
            state.epoch = epoch
            _run_epoch(state, step_fn, metric_fns, hooks)
            if state.stop_training and state.logs.get("epoch") != epoch:
                break  # stopped inside the epoch (e.g. TerminateOnNaN): no record for it
        finished = True
    except KeyboardInterrupt:
        state.interrupted = True
        for callback in hooks["on_interrupt"]:
            callback.on_interrupt(state)
        raise
    finally:
        state.failed = not finished and not state.interrupted
        for callback in hooks["on_train_end"]:
            callback.on_train_end(state)
    history = state.history
    history.stop_reason = state.stop_reason
    return history


def _run_epoch(state: FitState, step_fn: Callable, metric_fns: list, hooks: dict) -> None:
    started = time.perf_counter()
    for callback in hooks["on_epoch_begin"]:
        callback.on_epoch_begin(state)
    model, scheduler = state.model, state.scheduler
    per_batch_scheduler = scheduler is not None and state.scheduler_interval == "batch"
    batch_end = hooks["on_batch_end"]
    loader = state.train_loader
    lr = state.lr  # the rate this epoch starts with (per-batch schedules change it)
    after_backward = hooks["on_after_backward"]
    # the epoch's outputs are kept (the arrays, not the graph) and scored once at its end,
    # which costs less than scoring every batch
    outputs: list[np.ndarray] | None = [] if metric_fns else None
    losses: list[np.ndarray] = []
    targets: list[Any] = []
    model.train()
    for index, batch in enumerate(loader):
        inputs, target = _split_batch(batch)
        state.batch = index
        output, loss = step_fn(state, inputs, target, after_backward)
        if output is None:  # a callback stopped training before the update
            return
        state.step += 1
        if per_batch_scheduler:
            scheduler.step()
        losses.append(loss.data)
        targets.append(target)
        if outputs is not None:
            outputs.append(output.data)
        if batch_end:
            state.loss, state.batch_size = float(loss.data), _length(target)
            for callback in batch_end:
                callback.on_batch_end(state)
            if state.stop_training:
                return
    target_arrays = [t.data if isinstance(t, Tensor) else np.asarray(t) for t in targets]
    sizes = [len(t) for t in target_arrays]
    count = sum(sizes)
    total = sum(float(value) * size for value, size in zip(losses, sizes))
    record: dict[str, Any] = {"epoch": state.epoch, "train_loss": total / count if count
                              else math.nan}
    record.update(_metric_values(metric_fns, outputs or [], target_arrays, "train_"))
    average = _across_processes(model)
    val_count = 0
    if state.val_loader is not None:
        result = _evaluate(model, state.val_loader, state.loss_fn, metric_fns,
                           return_count=True)
        val_count = result.pop("count")
        record.update({"val_" + name: value for name, value in result.items()})
    if average is not None:  # every process's samples count, and every process agrees
        record = average(record, {"train_": count, "val_": val_count})
    record["lr"] = lr
    if scheduler is not None and state.scheduler_interval == "epoch":
        if _is_plateau(scheduler):
            scheduler.step(record.get("val_loss", record["train_loss"]))
        else:
            scheduler.step()
    record["time"] = time.perf_counter() - started
    state.logs = record
    state.history.append(record)
    for callback in hooks["on_epoch_end"]:
        callback.on_epoch_end(state)


def _length(target: Any) -> int:
    return len(target.data) if isinstance(target, Tensor) else len(target)


def _plain_step(state: FitState, inputs: Any, target: Any, after_backward: list):
    optimizer = state.optimizer
    optimizer.zero_grad()
    output = state.model(inputs)
    loss = state.loss_fn(output, target)
    objective = loss + state.l1 * _l1_term(state.model) if state.l1 else loss
    objective.backward()
    if after_backward:
        state.loss_tensor = loss
        for callback in after_backward:
            callback.on_after_backward(state)
        if state.stop_training:
            return None, loss
    if state.clip is not None:
        state.clip()
    optimizer.step()
    return output, loss


def _closure_step(state: FitState, inputs: Any, target: Any, after_backward: list):
    first: list = []
    # GaussNewton needs the output too (where the network ends and the loss begins)
    with_output = bool(getattr(state.optimizer, "closure_returns_output", False))

    def closure():
        state.optimizer.zero_grad()
        output = state.model(inputs)
        loss = state.loss_fn(output, target)
        objective = loss + state.l1 * _l1_term(state.model) if state.l1 else loss
        objective.backward()
        if not first:
            first.append((output, loss))
        state.loss_tensor = loss
        for callback in after_backward:
            callback.on_after_backward(state)
        return (objective, output) if with_output else objective

    state.optimizer.step(closure)
    if not first:
        raise RuntimeError(f"{type(state.optimizer).__name__}.step did not call the closure")
    if state.stop_training:
        return None, first[0][1]
    return first[0]
