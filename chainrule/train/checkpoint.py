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
the previous file intact and no temporary behind. Every read checks the header, the format and
a SHA-256 checksum of the arrays, and raises ``CheckpointError`` naming the file and the
problem.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from chainrule.train.rng import rng_state, set_rng_state
from chainrule.train.storage import (
    FORMAT, CheckpointError, _checksum, _contiguous, _decode, _encode, _read, _serialize,
    _write_atomic, write_file,
)

__all__ = [
    "CheckpointError", "save", "load", "save_checkpoint", "load_checkpoint", "read_checkpoint",
    "checkpoint_bytes", "write_file", "rng_state", "set_rng_state",
]

FORMAT_VERSION = "1"
_MODEL_PREFIX = "model/"


# ---------------------------------------------------------------------- weights
def _state_of(obj: Any) -> "OrderedDict[str, np.ndarray]":
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise TypeError(f"save expects a Module or a state_dict (dict of arrays), got "
                        f"{type(obj).__name__}")
    state = OrderedDict()
    for key, value in obj.items():
        data = getattr(value, "data", value)
        if not isinstance(data, np.ndarray):
            data = np.asarray(data)
        if data.dtype == object:
            raise TypeError(f"state_dict entry {key!r} is not numeric ({type(value).__name__})")
        state[str(key)] = _contiguous(data)
    return state


def save(model_or_state_dict: Any, path: str | Path,
         metadata: dict[str, str] | None = None) -> None:
    """Save a model's weights (or a state_dict) to a safetensors file, atomically.

    Args:
        model_or_state_dict: an ``nn.Module`` or a dict name → array/Tensor.
        path: the file to write (its folder must exist), e.g. ``"model.safetensors"``.
        metadata: extra strings stored in the header.

    Example:
        >>> import chainrule as cr, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
        >>> cr.save({"w": cr.ones(2)}, path); cr.load(path)["w"]
        array([1., 1.], dtype=float32)
    """
    tensors = _state_of(model_or_state_dict)
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    meta.update(format=FORMAT, kind="weights", version=FORMAT_VERSION,
                sha256=_checksum(tensors), keys=json.dumps(list(tensors)))
    _write_atomic(Path(path), _serialize(dict(tensors), meta))


def load(path: str | Path) -> dict[str, np.ndarray]:
    """Read the arrays of a weights file (or the model weights of a full checkpoint).

    Returns:
        name → NumPy array, ready for ``model.load_state_dict``.

    Raises:
        CheckpointError: the file is missing, truncated, corrupt or not safetensors.
    """
    tensors, metadata = _read(path)
    if metadata.get("format") == FORMAT and metadata.get("kind") == "checkpoint":
        return read_checkpoint(path)["model"]
    return _in_saved_order(tensors, metadata.get("keys"))


def _in_saved_order(tensors: dict[str, np.ndarray], keys_json: str | None) -> dict:
    """safetensors sorts its tensors; give them back in the order they were saved."""
    try:
        keys = json.loads(keys_json) if keys_json else []
    except ValueError:
        keys = []
    if sorted(keys) != sorted(tensors):
        return dict(tensors)
    return {key: tensors[key] for key in keys}


# ---------------------------------------------------------------------- full checkpoints
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
    from chainrule import __version__

    metadata = {
        "format": FORMAT, "kind": "checkpoint", "version": FORMAT_VERSION,
        "chainrule_version": __version__, "sha256": _checksum(tensors),
        "content": json.dumps(encoded, allow_nan=False),
    }
    return _serialize(tensors, metadata)


def read_checkpoint(path: str | Path) -> dict:
    """The content of a full checkpoint as plain data, without applying it to anything.

    Returns:
        a dict with ``model`` (state_dict), ``optimizer``, ``scheduler`` (``{"class",
        "state"}`` or None), ``epoch``, ``step``, ``history`` (rows), ``callbacks``, ``rng`` and
        ``extra``.
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
    if metadata.get("version") != FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format version {metadata.get('version')!r}"
                              f"; this chainrule reads version {FORMAT_VERSION}")
    try:
        content = _decode(json.loads(metadata["content"]), tensors)
    except (KeyError, ValueError, TypeError) as error:
        raise CheckpointError(f"{path}: the checkpoint's JSON content is damaged ({error})"
                              ) from None
    model_state = {k[len(_MODEL_PREFIX):]: v for k, v in tensors.items()
                   if k.startswith(_MODEL_PREFIX)}
    order = content.get("model_keys") or []
    if sorted(order) == sorted(model_state):
        model_state = {key: model_state[key] for key in order}
    content["model"] = model_state
    content["path"] = str(path)
    return content


def check_state_dict(path: str | Path, model: Any, state: dict[str, np.ndarray]) -> None:
    """Raise ``CheckpointError`` naming every missing, unexpected or mis-shaped key."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [f"{k} (checkpoint {tuple(state[k].shape)}, model {tuple(own[k].shape)})"
                  for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    problems = []
    if mismatched:
        problems.append("shape mismatch for " + ", ".join(mismatched))
    if missing:
        problems.append("missing keys " + ", ".join(missing))
    if unexpected:
        problems.append("unexpected keys " + ", ".join(unexpected))
    if problems:
        raise CheckpointError(f"{path} does not fit this {type(model).__name__}: "
                              + "; ".join(problems) + ". Build the model with the same "
                              "architecture as when the checkpoint was saved")


def load_checkpoint(path: str | Path, model: Any = None, optimizer: Any = None,
                    scheduler: Any = None, loaders: Iterable[Any] = (),
                    callbacks: Iterable[Any] = (), restore_rng: bool = True) -> dict:
    """Load a checkpoint written by ``save_checkpoint`` into the given objects, in place.

    The model's weights, the optimizer's and scheduler's state, the callbacks' state and (with
    ``restore_rng``) every random generator are restored, so that training continues exactly as
    if it had not stopped.

    Returns:
        the checkpoint's content (see ``read_checkpoint``), with ``history`` as a ``History``.

    Raises:
        CheckpointError: the file is truncated, corrupt or not a checkpoint, or its shapes or
            optimizer do not match (the message names the keys that differ).
    """
    from chainrule.train.history import History

    content = read_checkpoint(path)
    if model is not None:
        check_state_dict(path, model, content["model"])
        model.load_state_dict(content["model"])
    for name, target in (("optimizer", optimizer), ("scheduler", scheduler)):
        if target is None:
            continue
        saved = content.get(name)
        if saved is None:
            raise CheckpointError(f"{path} holds no {name} state, but a {name} was given")
        if saved["class"] != type(target).__name__:
            raise CheckpointError(f"{path} holds the state of a {saved['class']} {name}, not of "
                                  f"a {type(target).__name__}; use the same {name} to resume")
        try:
            target.load_state_dict(saved["state"])
        except (ValueError, KeyError, TypeError) as error:
            raise CheckpointError(f"{path}: the {name} state does not fit: {error}") from None
    saved_callbacks = {(c["class"], i): c["state"] for i, c in enumerate(content["callbacks"])}
    with_state = [c for c in callbacks if hasattr(c, "load_state_dict")]
    for position, callback in enumerate(with_state):
        key = (type(callback).__name__, position)
        if key in saved_callbacks:
            callback.load_state_dict(saved_callbacks[key])
    if restore_rng:
        set_rng_state(content["rng"], loaders)
    content["history"] = History(content["history"] or [])
    return content
