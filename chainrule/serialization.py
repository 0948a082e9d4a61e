"""Weights files: ``chainrule.save`` and ``chainrule.load``, and the file layer they share with
training checkpoints (``chainrule.train.checkpoint``).

A file is safetensors: the arrays, and one table of strings as metadata. chainrule signs what it
writes with a SHA-256 checksum over every array (name, dtype, shape, bytes) and every metadata
entry (format version 2; version 1 files, whose checksum covers the arrays only, can still be
read for their weights), writes atomically (a temporary file, fsync, ``os.replace``), and reads
with checks that name the file and the problem. Nothing here executes code from a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable

import numpy as np

__all__ = ["save", "load", "CheckpointError", "write_file"]

FORMAT = "chainrule"
VERSION = "2"
LEGACY_VERSION = "1"  # its checksum covers the arrays only, not the metadata
_MODEL_PREFIX = "model/"


class CheckpointError(ValueError):
    """A checkpoint or weights file cannot be read or does not fit what it is loaded into."""



def _contiguous(array: np.ndarray) -> np.ndarray:
    """A C-contiguous array of the same shape (``np.ascontiguousarray`` turns 0-d into 1-d)."""
    array = np.asarray(array)
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return array if array.flags.c_contiguous else np.array(array, order="C")


def _refuse_constant(name: str):
    raise ValueError(f"bare {name} is not JSON")


def _parse_json(text: str | bytes) -> Any:
    """``json.loads`` (strict: no NaN) whose every failure is a ValueError with a plain reason."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("its JSON is nested too deeply to be a checkpoint's") from None
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ValueError(f"it is not valid JSON: {error}") from None
    except TypeError:
        raise ValueError("it is not a JSON string") from None


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except RecursionError:
        return "a deeply nested value"
    return text if len(text) <= 60 else text[:57] + "..."


def _checksum(tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> str:
    """SHA-256 of every array (name, dtype, shape, bytes) and of every metadata entry but the
    checksum itself (``metadata=None``: the arrays only, as format version 1 did)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        array = tensors[name]
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(_contiguous(array).tobytes())
    for key in sorted(metadata or {}):
        if key != "sha256":
            digest.update(json.dumps([key, metadata[key]]).encode() + b"\n")
    return digest.hexdigest()


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
    meta.update(format=FORMAT, kind="weights", version=VERSION,
                keys=json.dumps(list(tensors)))
    _write_atomic(Path(path), _serialize(dict(tensors), meta))


def load(path: str | Path) -> dict[str, np.ndarray]:
    """Read the arrays of a weights file (or the model weights of a full checkpoint).

    Any safetensors file is read; a chainrule one's checksum and list of names are checked.

    Returns:
        name → NumPy array, ready for ``model.load_state_dict``.

    Raises:
        CheckpointError: the file is missing, truncated, corrupt, altered or not safetensors.
    """
    tensors, metadata = _read(path)
    if metadata.get("format") != FORMAT:
        return dict(tensors)  # a foreign safetensors file: safetensors sorts its names
    kind = metadata.get("kind")
    if kind == "checkpoint":
        try:
            content = _parse_json(metadata.get("content"))
        except ValueError as error:
            raise CheckpointError(f"{path}: the checkpoint's content is damaged: {error}"
                                  ) from None
        model_keys = content.get("model_keys") if isinstance(content, dict) else None
        return _model_state(path, tensors, model_keys)
    if kind != "weights":
        raise CheckpointError(f"{path}: unknown kind of chainrule file {kind!r} (expected "
                              "'weights' or 'checkpoint'); the file is damaged")
    try:
        keys = _parse_json(metadata.get("keys"))
    except ValueError as error:
        raise CheckpointError(f"{path}: the list of weight names is damaged: {error}") from None
    return {key: tensors[key] for key in _saved_order(path, keys, tensors, "keys")}


def _saved_order(path: Any, keys: Any, names: Iterable[str], entry: str) -> list[str]:
    """``keys`` (the names in the order they were saved; safetensors sorts them), checked."""
    names = set(names)
    if not (isinstance(keys, list) and all(isinstance(key, str) for key in keys)
            and len(set(keys)) == len(keys) and set(keys) == names):
        raise CheckpointError(f"{path}: the saved list of weight names ({entry} = {_short(keys)})"
                              f" does not match the {len(names)} arrays the file holds; the "
                              "file is damaged or was not written by chainrule")
    return keys


def _model_state(path: Any, tensors: dict[str, np.ndarray], keys: Any) -> dict:
    model = {name[len(_MODEL_PREFIX):]: array for name, array in tensors.items()
             if name.startswith(_MODEL_PREFIX)}
    return {key: model[key] for key in _saved_order(path, keys, model, "model_keys")}


# ---------------------------------------------------------------------- full checkpoints
# ---------------------------------------------------------------------- atomic file writing
def _write_payload(stream, payload: bytes) -> None:
    """Write the bytes of a file (a separate function so tests can simulate a crash in it)."""
    stream.write(payload)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The permissions a plain ``open(path, "w")`` would give a new file (0o666 less the umask):
    what chainrule's atomic writes set on their temporary files before renaming them."""
    return 0o666 & ~_umask()


def _write_atomic(path: Path, payload: bytes) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise CheckpointError(f"cannot write {path}: the folder {folder} does not exist")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as error:
        raise CheckpointError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            _write_payload(stream, payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, file_mode())
        os.replace(temporary, path)
    except BaseException:  # also KeyboardInterrupt: never leave a half-written temporary
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError:
        pass


def _serialize(tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    """safetensors bytes of ``tensors`` and ``metadata``, signed with ``_checksum`` (sha256)."""
    from safetensors.numpy import save as safetensors_save

    metadata = {key: value for key, value in metadata.items() if key != "sha256"}
    metadata["sha256"] = _checksum(tensors, metadata)
    return safetensors_save(tensors, metadata=metadata)


# ---------------------------------------------------------------------- reading
_MAGIC = {
    b"PK\x03\x04": "a ZIP archive (PyTorch's torch.save format?)",
    b"\x80": "a Python pickle",
    b"\x93NUMPY": "a NumPy .npy file",
    b"\x89PNG": "a PNG image",
    b"{": "a JSON/text file",
}


def _read(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors, metadata) of a safetensors file whose checksum, for a chainrule file, holds.

    Raises:
        CheckpointError: naming the file and what is wrong with it (missing, a folder, empty,
            truncated, not safetensors, damaged, altered, or of an unknown format version).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path} is a folder, not a checkpoint file") from None
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read ({error.strerror or error})") from None
    if len(raw) < 8:
        raise CheckpointError(f"{path}: the file holds {len(raw)} bytes, too few for a "
                              "safetensors header; it is truncated or empty")
    header_size = int.from_bytes(raw[:8], "little")
    header, problem = None, "it is not a JSON object"
    if header_size <= len(raw) - 8:
        try:
            header = _parse_json(raw[8:8 + header_size])
        except ValueError as error:
            problem = str(error)
    if not isinstance(header, dict):
        for magic, kind in _MAGIC.items():
            if raw.startswith(magic):
                raise CheckpointError(f"{path} is not a safetensors file: it looks like {kind}. "
                                      "chainrule reads safetensors files only (no pickle)")
        if header_size > len(raw) - 8:
            raise CheckpointError(f"{path}: the header announces {header_size} bytes but the "
                                  f"file holds {len(raw) - 8} after it; the file is truncated "
                                  "or not a safetensors file")
        raise CheckpointError(f"{path}: the safetensors header is unreadable ({problem}); the "
                              "file is corrupt or not a safetensors file")
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise CheckpointError(f"{path}: the header's __metadata__ is not a table of strings "
                              f"(it is {_short(metadata)}); the file is corrupt")
    from safetensors.numpy import load as safetensors_load

    try:
        tensors = safetensors_load(raw)
    except Exception as error:  # SafetensorError is not importable under a stable name
        raise CheckpointError(f"{path}: damaged safetensors data ({error}); the file is "
                              "truncated or corrupt") from None
    # a damaged "format" entry must not turn a chainrule file into an unchecked foreign one
    if metadata.get("format") == FORMAT or {"sha256", "kind"} <= set(metadata):
        _verify(path, tensors, metadata)
    return tensors, metadata


def _verify(path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    version = metadata.get("version")
    if version not in (VERSION, LEGACY_VERSION):
        raise CheckpointError(f"{path} has chainrule format version {version!r}; this chainrule "
                              f"reads versions {LEGACY_VERSION} and {VERSION} (a newer chainrule "
                              "wrote it? then upgrade chainrule)")
    expected = metadata.get("sha256")
    if expected is None:
        raise CheckpointError(f"{path}: the chainrule metadata has no checksum (sha256); the "
                              "file is damaged")
    covered = metadata if version == VERSION else None
    if _checksum(tensors, covered) != expected:
        what = "arrays or training state" if covered else "arrays"
        raise CheckpointError(f"{path}: checksum mismatch, the {what} were altered or the file "
                              "is corrupt; use an earlier checkpoint")


def write_file(path: str | Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` atomically (temporary file, fsync, ``os.replace``)."""
    _write_atomic(Path(path), payload)
