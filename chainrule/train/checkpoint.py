"""Saving and loading weights and full training checkpoints, without pickle.

Files are safetensors: arrays as tensors, everything else as ONE JSON string in the header's
``__metadata__`` (whose values must be strings). Nothing in a file can name a Python callable,
so loading one never runs code.

- ``save(model_or_state_dict, path)`` / ``load(path)``: model weights only (keys as in
  ``state_dict()``, so PyTorch's ``safetensors.torch.load_file`` reads them too).
- ``save_checkpoint`` / ``load_checkpoint``: weights, optimizer and scheduler state, epoch,
  step, history, callbacks' state, every random generator (NumPy's global one, Python's,
  chainrule's, each DataLoader's shuffling position and its transforms' generators) and an
  ``extra`` dict (e.g. the command line's configuration).

Every write is atomic: the bytes go to a temporary file in the same folder, are flushed and
fsync'ed, and ``os.replace`` puts the file in place, so a crash or Ctrl-C during a save leaves
the previous file intact and no temporary behind. A SHA-256 checksum covers the arrays and the
metadata. Every read checks the file, the checksum, the content's structure and types and,
when loading into objects, that everything fits them, before anything is changed; any problem
is a ``CheckpointError`` naming the file and the problem.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from chainrule.serialization import (
    _MODEL_PREFIX, FORMAT, VERSION, CheckpointError, _model_state, _parse_json, _read,
    _serialize, _short, _state_of, _write_atomic, write_file,
)
from chainrule._version import __version__
from chainrule.train.history import History
from chainrule.train.rng import _loader_generators, rng_state, set_rng_state
from chainrule.train.storage import _check_content, _decode, _encode, _expect, _is_number

__all__ = [
    "CheckpointError", "save_checkpoint", "load_checkpoint", "read_checkpoint",
    "checkpoint_bytes", "write_file", "rng_state", "set_rng_state",
]

FORMAT_VERSION = VERSION


def save_checkpoint(path: str | Path, model: Any, optimizer: Any = None, scheduler: Any = None,
                    epoch: int = 0, step: int = 0, history: Any = None,
                    extra: dict | None = None, loaders: Iterable[Any] = (),
                    callbacks: Iterable[Any] = ()) -> None:
    """Save everything needed to resume training exactly, atomically, to one safetensors file.

    Args:
        path: the file to write (its folder must exist).
        model: the ``nn.Module``.
        optimizer, scheduler: saved with their ``state_dict()`` (plain data) and class name.
        epoch: epochs completed. step: optimizer steps taken.
        history: a ``History`` (or list of per-epoch dicts).
        extra: any JSON-like dict (numbers, strings, lists, dicts, arrays), e.g. a config.
        loaders: DataLoaders whose shuffling position and transform generators to save.
        callbacks: callbacks with ``state_dict()`` (e.g. EarlyStopping's patience counter).

    Example:
        >>> import chainrule as cr, tempfile, os
        >>> from chainrule import nn
        >>> model = nn.Sequential(nn.Linear(2, 1))
        >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
        >>> save_checkpoint(path, model, epoch=3)
        >>> load_checkpoint(path, model)["epoch"]
        3
    """
    _write_atomic(Path(path), checkpoint_bytes(model, optimizer, scheduler, epoch, step, history,
                                               extra, loaders, callbacks))


def checkpoint_bytes(model: Any, optimizer: Any = None, scheduler: Any = None, epoch: int = 0,
                     step: int = 0, history: Any = None, extra: dict | None = None,
                     loaders: Iterable[Any] = (), callbacks: Iterable[Any] = ()) -> bytes:
    """The bytes ``save_checkpoint`` writes (a snapshot to write later, e.g. after Ctrl-C)."""
    tensors: dict[str, np.ndarray] = {}
    for key, array in _state_of(model).items():
        tensors[_MODEL_PREFIX + key] = array
    rows = history.state_dict() if hasattr(history, "state_dict") else history
    content = {
        "epoch": int(epoch),
        "step": int(step),
        "model_class": type(model).__name__,
        "model_keys": [key[len(_MODEL_PREFIX):] for key in tensors],
        "optimizer": None if optimizer is None else {
            "class": type(optimizer).__name__, "state": optimizer.state_dict()},
        "scheduler": None if scheduler is None else {
            "class": type(scheduler).__name__, "state": scheduler.state_dict()},
        "history": rows,
        "callbacks": [{"class": type(c).__name__, "state": c.state_dict()}
                      for c in callbacks if hasattr(c, "state_dict")],
        "rng": rng_state(loaders),
        "extra": extra,
    }
    encoded = _encode(content, tensors, "checkpoint")

    metadata = {
        "format": FORMAT, "kind": "checkpoint", "version": FORMAT_VERSION,
        "chainrule_version": __version__, "content": json.dumps(encoded, allow_nan=False),
    }
    return _serialize(tensors, metadata)


def read_checkpoint(path: str | Path) -> dict:
    """The content of a full checkpoint as plain data, checked, without applying it to anything.

    Returns:
        a dict with ``model`` (state_dict), ``optimizer``, ``scheduler`` (``{"class",
        "state"}`` or None), ``epoch``, ``step``, ``history`` (rows), ``callbacks``, ``rng`` and
        ``extra``.

    Raises:
        CheckpointError: the file is not a readable chainrule checkpoint of this format, its
            checksum fails, or its content is not what ``save_checkpoint`` writes (missing
            entries, wrong types, a random state that cannot be set, ...).
    """
    tensors, metadata = _read(path)
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not a chainrule checkpoint (its "
                              "header has no chainrule metadata); for plain weights use "
                              "chainrule.load and model.load_state_dict")
    if metadata.get("kind") != "checkpoint":
        raise CheckpointError(f"{path} holds model weights only (kind={metadata.get('kind')!r}), "
                              "not a full training checkpoint; load it with chainrule.load, or "
                              "resume from a checkpoint.safetensors file")
    if metadata.get("version") != FORMAT_VERSION:  # _read lets version 1 through, for weights
        raise CheckpointError(
            f"{path} was written by an older chainrule (checkpoint format version "
            f"{metadata.get('version')!r}), whose checksum does not cover the training state "
            "(optimizer, scheduler, epoch, random generators), so that state cannot be trusted. "
            "Its weights are still verified: load them with "
            "model.load_state_dict(chainrule.load(path)) and re-save a checkpoint with this "
            "chainrule (save_checkpoint)")
    used: set[str] = set()
    try:
        content = _decode(_parse_json(metadata.get("content")), tensors, used)
    except (ValueError, RecursionError) as error:
        reason = "it is nested too deeply" if isinstance(error, RecursionError) else error
        raise CheckpointError(f"{path}: the checkpoint's content is damaged: {reason}") from None
    try:
        _check_content(content)
        stray = sorted(name for name in tensors if not name.startswith(_MODEL_PREFIX)
                       and name not in used)
        _expect(not stray, "the arrays", "all referred to by the content", stray)
    except ValueError as error:
        raise CheckpointError(f"{path}: the checkpoint's content is malformed: {error}. It was "
                              "not written by chainrule's save_checkpoint, or was edited; use "
                              "another checkpoint") from None
    content["model"] = _model_state(path, tensors, content["model_keys"])
    content["path"] = str(path)
    return content


# ---------------------------------------------------------------------- fitting the objects
def check_state_dict(path: str | Path, model: Any, state: dict[str, np.ndarray]) -> None:
    """Raise ``CheckpointError`` naming every missing, unexpected, mis-shaped or mis-typed key."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    common = [k for k in own if k in state]
    mismatched = [f"{k} (checkpoint {tuple(state[k].shape)}, model {tuple(own[k].shape)})"
                  for k in common if tuple(state[k].shape) != tuple(own[k].shape)]
    retyped = [f"{k} (checkpoint {state[k].dtype}, model {own[k].dtype})"
               for k in common if np.asarray(state[k]).dtype != own[k].dtype]
    problems = []
    if mismatched:
        problems.append("shape mismatch for " + ", ".join(mismatched))
    if retyped:
        problems.append("dtype mismatch for " + ", ".join(retyped) + " (convert the model "
                        "first, e.g. model.double(), to load it exactly)")
    if missing:
        problems.append("missing keys " + ", ".join(missing))
    if unexpected:
        problems.append("unexpected keys " + ", ".join(unexpected))
    if problems:
        raise CheckpointError(f"{path} does not fit this {type(model).__name__}: "
                              + "; ".join(problems) + ". Build the model with the same "
                              "architecture as when the checkpoint was saved")


def _fits(saved: Any, own: Any) -> bool:
    """Whether ``saved`` can stand where ``own`` stands now: numbers for numbers (not bools),
    sequences of the same length, ...; anything may replace None."""
    if own is None:
        return True
    if _is_number(own):
        return _is_number(saved)
    if isinstance(own, (list, tuple)):
        return (isinstance(saved, (list, tuple)) and len(saved) == len(own)
                and all(_fits(s, o) for s, o in zip(saved, own)))
    if isinstance(own, dict):
        return isinstance(saved, dict)
    return type(saved) is type(own)


def _check_kind(path: Any, name: str, saved: dict | None, target: Any) -> None:
    kind = type(target).__name__
    if saved is None:
        raise CheckpointError(f"{path} holds no {name} state, but a {name} was given; pass "
                              f"{name}=None to load without it")
    if saved["class"] != kind:
        raise CheckpointError(f"{path} holds the state of a {saved['class']} {name}, not of "
                              f"a {kind}; use the same {name} to resume")


def _check_option(path: Any, where: str, key: str, saved: Any, own: Any, kind: str) -> None:
    if not _fits(saved, own):
        raise CheckpointError(f"{path}: {where} {key!r} is {_short(saved)} "
                              f"({type(saved).__name__}), which cannot replace this {kind}'s "
                              f"{_short(own)}; the file was edited or belongs to another {kind}")


def _dry_run(path: Any, name: str, target: Any, state: dict) -> None:
    """Load ``state`` into a copy of ``target`` so that its own checks run and the target stays
    as it is (optimizers' and schedulers' ``load_state_dict`` replace attributes rather than
    change them, so a shallow copy, with its own parameter groups, is enough)."""
    probe = copy.copy(target)
    if hasattr(target, "param_groups"):
        probe.param_groups = [dict(group) for group in target.param_groups]
    try:
        probe.load_state_dict(state)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
        raise CheckpointError(f"{path}: the {name} state does not fit this "
                              f"{type(target).__name__}: {error}") from None


def _check_optimizer(path: Any, saved: dict | None, optimizer: Any) -> None:
    _check_kind(path, "optimizer", saved, optimizer)
    kind = type(optimizer).__name__
    groups, own_groups = saved["state"]["param_groups"], optimizer.param_groups
    if len(groups) != len(own_groups):
        raise CheckpointError(f"{path} holds {len(groups)} parameter groups of {kind} state, but "
                              f"this {kind} has {len(own_groups)}; build it with the same "
                              "parameter groups as when the checkpoint was saved")
    for number, (group, own) in enumerate(zip(groups, own_groups)):
        if len(group["params"]) != len(own["params"]):
            raise CheckpointError(f"{path}: parameter group {number} holds the state of "
                                  f"{len(group['params'])} parameters, but this {kind}'s group "
                                  f"{number} has {len(own['params'])}")
        options = set(group) - {"params", "initial_lr"}  # schedulers add initial_lr
        own_options = set(own) - {"params", "initial_lr"}
        if options != own_options:
            raise CheckpointError(
                f"{path}: parameter group {number} has the options {sorted(options)}, but a "
                f"{kind} has {sorted(own_options)} (missing {sorted(own_options - options)}, "
                f"unexpected {sorted(options - own_options)}); the file was edited or written "
                "by another version")
        for key in sorted(options | ({"initial_lr"} & set(group))):
            own_value = own.get(key, 0.0)  # an initial_lr this group lacks: any number
            _check_option(path, f"parameter group {number}'s option", key, group[key],
                          own_value, kind)
    _dry_run(path, "optimizer", optimizer, saved["state"])


def _check_scheduler(path: Any, saved: dict | None, scheduler: Any, optimizer: Any) -> None:
    if scheduler is None:
        if saved is not None and optimizer is not None:
            raise CheckpointError(
                f"{path} holds the state of a {saved['class']} scheduler, but no scheduler was "
                "given: resuming without it would silently keep the learning rate fixed. Pass "
                f"a {saved['class']} built as when the checkpoint was saved, or, to drop the "
                "schedule on purpose, load the optimizer alone: "
                "optimizer.load_state_dict(read_checkpoint(path)['optimizer']['state'])")
        return
    if optimizer is None:
        raise CheckpointError(f"{path}: a scheduler is restored together with the optimizer "
                              "whose learning rates it sets; pass that optimizer too")
    if getattr(scheduler, "optimizer", optimizer) is not optimizer:
        raise CheckpointError(f"{path}: the scheduler given was built over another optimizer "
                              "than the one given; pass the optimizer it schedules")
    _check_kind(path, "scheduler", saved, scheduler)
    kind = type(scheduler).__name__
    state, own = saved["state"], scheduler.state_dict()
    if set(state) != set(own):
        raise CheckpointError(f"{path}: the {kind} state has the entries {sorted(state)}, but a "
                              f"{kind} has {sorted(own)} (missing {sorted(set(own) - set(state))}"
                              f", unexpected {sorted(set(state) - set(own))})")
    for key in sorted(own):
        _check_option(path, "the scheduler state", key, state[key], own[key], kind)
    _dry_run(path, "scheduler", scheduler, state)


def _check_loaders(path: Any, saved: list, loaders: list) -> None:
    if loaders and len(saved) != len(loaders):
        raise CheckpointError(f"{path} holds the state of {len(saved)} data loader(s) but "
                              f"{len(loaders)} were given to restore")
    for number, (loader, state) in enumerate(zip(loaders, saved)):
        kinds = [type(g.bit_generator).__name__ for g in _loader_generators(loader)]
        if kinds != [g["bit_generator"] for g in state["generators"]]:
            raise CheckpointError(
                f"{path} holds {len(state['generators'])} transform generator(s) for data "
                f"loader {number}, which now has {len(kinds)} ({', '.join(kinds) or 'none'}); "
                "build the loader with the same transforms as when the checkpoint was saved")


# ---------------------------------------------------------------------- loading
def load_checkpoint(path: str | Path, model: Any = None, optimizer: Any = None,
                    scheduler: Any = None, loaders: Iterable[Any] = (),
                    callbacks: Iterable[Any] = (), restore_rng: bool = True) -> dict:
    """Load a checkpoint written by ``save_checkpoint`` into the given objects, in place.

    The model's weights, the optimizer's and scheduler's state, the callbacks' state and (with
    ``restore_rng``) every random generator are restored, so that training continues exactly as
    if it had not stopped. Everything is checked before anything changes, and a load that fails
    part-way puts everything back: after a ``CheckpointError`` the objects are as they were.

    What must be given, as in PyTorch: objects left out (``None``) are not touched, so
    ``load_checkpoint(path, model)`` loads the weights alone. A scheduler needs its optimizer.
    A given object whose state the file lacks is an error, and so is a file with a scheduler's
    state loaded with an optimizer but no scheduler (resuming would silently train at a fixed
    rate; to do that on purpose, load the optimizer's state from ``read_checkpoint``). Weights
    must match the model in names, shapes and dtypes (no silent casts).

    Returns:
        the checkpoint's content (see ``read_checkpoint``), with ``history`` as a ``History``.

    Raises:
        CheckpointError: the file is missing, truncated, corrupt, altered or not a checkpoint,
            its content is malformed, or it does not fit the objects (the message says which
            names, shapes, classes or options differ).
    """

    content = read_checkpoint(path)
    loaders = list(loaders)
    callbacks = [c for c in callbacks if hasattr(c, "load_state_dict")]
    if model is not None:
        check_state_dict(path, model, content["model"])
    if optimizer is not None:
        _check_optimizer(path, content["optimizer"], optimizer)
    _check_scheduler(path, content["scheduler"], scheduler, optimizer)
    if restore_rng:
        _check_loaders(path, content["rng"]["loaders"], loaders)
    _apply(path, content, model, optimizer, scheduler, callbacks, loaders, restore_rng)
    content["history"] = History(content["history"] or [])
    return content


def _apply(path: Any, content: dict, model: Any, optimizer: Any, scheduler: Any,
           callbacks: list, loaders: list, restore_rng: bool) -> None:
    """Load the checked content; if a part still fails (a callback's own load_state_dict),
    undo the parts done and raise."""
    undo: list = []
    part = "the model"
    try:
        if model is not None:
            weights = model.state_dict()
            undo.append(lambda: model.load_state_dict(weights))
            model.load_state_dict(content["model"])
        for name, target in (("optimizer", optimizer), ("scheduler", scheduler)):
            if target is not None:
                part = f"the {name}"
                undo.append(_attributes_restorer(target))
                target.load_state_dict(content[name]["state"])
        saved = {(c["class"], i): c["state"] for i, c in enumerate(content["callbacks"])}
        for position, callback in enumerate(callbacks):
            part = f"the {type(callback).__name__} callback (position {position})"
            if (type(callback).__name__, position) in saved:
                undo.append(_attributes_restorer(callback))
                callback.load_state_dict(saved[(type(callback).__name__, position)])
        if restore_rng:
            part = "the random generators"
            before = rng_state(loaders)
            undo.append(lambda: set_rng_state(before, loaders))
            set_rng_state(content["rng"], loaders)
    except BaseException as error:  # also Ctrl-C: never leave a half-loaded state behind
        for step in reversed(undo):
            step()
        if not isinstance(error, Exception):
            raise
        raise CheckpointError(f"{path}: the state of {part} could not be loaded "
                              f"({type(error).__name__}: {error}); everything loaded before it "
                              "was put back as it was") from error


def _attributes_restorer(target: Any):
    """A function that puts back ``target``'s attributes as they are now (``load_state_dict``
    of optimizers, schedulers and callbacks replaces attributes rather than changing them)."""
    attributes = dict(vars(target))

    def restore() -> None:
        vars(target).clear()
        vars(target).update(attributes)

    return restore
