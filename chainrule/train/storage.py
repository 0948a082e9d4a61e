"""The file layer of checkpoints: safetensors bytes, one JSON string of metadata, checksums,
atomic writes and reads whose errors name the file and the problem."""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CheckpointError", "write_file"]

FORMAT = "chainrule"


class CheckpointError(ValueError):
    """A checkpoint or weights file cannot be read or does not fit what it is loaded into."""


# ---------------------------------------------------------------------- JSON + tensor encoding
def _contiguous(array: np.ndarray) -> np.ndarray:
    """A C-contiguous array of the same shape (``np.ascontiguousarray`` turns 0-d into 1-d)."""
    array = np.asarray(array)
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return array if array.flags.c_contiguous else np.array(array, order="C")


def _encode(value: Any, tensors: dict[str, np.ndarray], where: str) -> Any:
    """Turn plain data into JSON; arrays go to ``tensors`` and are referred to by name."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.bool_):
        return bool(value)
    data = getattr(value, "data", None)
    if not isinstance(value, np.ndarray) and isinstance(data, np.ndarray):
        value = data  # a chainrule Tensor
    if isinstance(value, np.ndarray):
        name = f"arrays/{len(tensors)}"
        tensors[name] = _contiguous(value)
        return {"__tensor__": name}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, tensors, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, tensors, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: _encode(v, tensors, f"{where}.{k}") for k, v in value.items()}
        return {"__items__": [[_encode(k, tensors, where), _encode(v, tensors, f"{where}[{k!r}]")]
                              for k, v in value.items()]}
    raise CheckpointError(
        f"cannot store {where} of type {type(value).__name__} in a checkpoint: checkpoints hold "
        "arrays, numbers, strings, None, lists, tuples and dicts only (never Python objects)"
    )


def _decode(value: Any, tensors: dict[str, np.ndarray]) -> Any:
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        return tensors[value["__tensor__"]]
    if "__tuple__" in value:
        return tuple(_decode(v, tensors) for v in value["__tuple__"])
    if "__items__" in value:
        return {_decode(k, tensors): _decode(v, tensors) for k, v in value["__items__"]}
    if "__float__" in value:
        return float(value["__float__"])
    return {k: _decode(v, tensors) for k, v in value.items()}


def _checksum(tensors: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(tensors):
        array = tensors[name]
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(_contiguous(array).tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------- atomic file writing
def _write_payload(stream, payload: bytes) -> None:
    """Write the bytes of a file (a separate function so tests can simulate a crash in it)."""
    stream.write(payload)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
        os.chmod(temporary, 0o666 & ~_umask())
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
    from safetensors.numpy import save as safetensors_save

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
    """(tensors, metadata) of a safetensors file, with errors that name the file."""
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
    header = None
    if header_size <= len(raw) - 8:
        try:
            header = json.loads(raw[8:8 + header_size])
        except (UnicodeDecodeError, ValueError):
            header = None
    if not isinstance(header, dict):
        for magic, kind in _MAGIC.items():
            if raw.startswith(magic):
                raise CheckpointError(f"{path} is not a safetensors file: it looks like {kind}. "
                                      "chainrule reads safetensors files only (no pickle)")
        if header_size > len(raw) - 8:
            raise CheckpointError(f"{path}: the header announces {header_size} bytes but the "
                                  f"file holds {len(raw) - 8} after it; the file is truncated "
                                  "or not a safetensors file")
        raise CheckpointError(f"{path}: the header is not a JSON object; the file is corrupt or "
                              "not a safetensors file")
    metadata = header.get("__metadata__") or {}
    from safetensors.numpy import load as safetensors_load

    try:
        tensors = safetensors_load(raw)
    except Exception as error:  # SafetensorError is not importable under a stable name
        raise CheckpointError(f"{path}: damaged safetensors data ({error}); the file is "
                              "truncated or corrupt") from None
    expected = metadata.get("sha256")
    if expected is not None and metadata.get("format") == FORMAT:
        if _checksum(tensors) != expected:
            raise CheckpointError(f"{path}: checksum mismatch, the arrays were altered or the "
                                  "file is corrupt; use an earlier checkpoint")
    return tensors, metadata


def write_file(path: str | Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` atomically (temporary file, fsync, ``os.replace``)."""
    _write_atomic(Path(path), payload)
