"""The file layer of checkpoints: safetensors bytes, one JSON string of metadata, checksums,
atomic writes, reads that check everything and name the file and the problem, and the checks
of a checkpoint's content as plain data (its structure and types, before anything is loaded).

Format version 2 (written now): the SHA-256 checksum covers every array (name, dtype, shape,
bytes) and every metadata entry (the training state's JSON among them). Version 1 files, whose
checksum covers the arrays only, can still be read for their weights.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CheckpointError", "write_file"]

FORMAT = "chainrule"
VERSION = "2"
LEGACY_VERSION = "1"  # its checksum covers the arrays only, not the metadata
_CONTENT_KEYS = ("epoch", "step", "model_class", "model_keys", "optimizer", "scheduler",
                 "history", "callbacks", "rng", "extra")
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


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


def _decode(value: Any, tensors: dict[str, np.ndarray], used: set[str]) -> Any:
    """Undo ``_encode``; the names of the arrays referred to are added to ``used``.

    Raises:
        ValueError: a marker (``__tensor__``, ``__tuple__``, ``__items__``, ``__float__``) that
            ``_encode`` cannot have written.
    """
    if isinstance(value, list):
        return [_decode(v, tensors, used) for v in value]
    if not isinstance(value, dict):
        return value
    marker = next((key for key in value if key.startswith("__")), None)
    if marker is None:  # _encode writes dicts with such keys as __items__
        return {k: _decode(v, tensors, used) for k, v in value.items()}
    inner = value[marker]
    if len(value) != 1:
        raise ValueError(f"an entry {marker!r} stands beside other keys {sorted(value)}")
    if marker == "__tensor__":
        if not isinstance(inner, str) or inner not in tensors:
            raise ValueError(f"it refers to an array {inner!r} that the file does not hold")
        used.add(inner)
        return tensors[inner]
    if marker == "__tuple__" and isinstance(inner, list):
        return tuple(_decode(v, tensors, used) for v in inner)
    if marker == "__float__" and inner in ("nan", "inf", "-inf"):
        return float(inner)
    if marker == "__items__" and isinstance(inner, list) and all(
            isinstance(pair, list) and len(pair) == 2 for pair in inner):
        result = {}
        for key, item in inner:
            key = _decode(key, tensors, used)
            try:
                result[key] = _decode(item, tensors, used)
            except TypeError:  # an unhashable key
                raise ValueError(f"a dict key {key!r} is not a number, string or tuple") from None
        return result
    raise ValueError(f"{{{marker!r}: {_short(inner)}}} is not a value that chainrule writes")


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


# ---------------------------------------------------------------------- the content's structure
def _expect(ok: bool, where: str, expected: str, value: Any) -> None:
    if not ok:
        raise ValueError(f"{where} should be {expected}, but is {_short(value)} "
                         f"({type(value).__name__})")


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_table(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(key, str) for key in value)


def _check_content(content: Any) -> None:
    """Raise ValueError naming the first entry that ``checkpoint_bytes`` cannot have written."""
    _expect(_is_table(content), "the content", "a JSON object", content)
    missing = [key for key in _CONTENT_KEYS if key not in content]
    unexpected = [key for key in content if key not in _CONTENT_KEYS]
    if missing or unexpected:
        raise ValueError(f"it lacks the entries {missing}" if missing else
                         f"it has entries that chainrule does not write: {unexpected}")
    for key in ("epoch", "step"):
        _expect(_is_count(content[key]), key, "an integer >= 0", content[key])
    _expect(isinstance(content["model_class"], str), "model_class", "a string",
            content["model_class"])
    for name in ("optimizer", "scheduler"):
        if content[name] is not None:
            _check_component(content[name], name)
    if content["optimizer"] is not None:
        _check_optimizer_data(content["optimizer"]["state"])
    history = content["history"]
    _expect(history is None or (isinstance(history, list) and all(map(_is_table, history))),
            "history", "None or a list of per-epoch dicts", history)
    _expect(isinstance(content["callbacks"], list), "callbacks", "a list", content["callbacks"])
    for number, callback in enumerate(content["callbacks"]):
        _check_component(callback, f"callbacks[{number}]")
    _check_rng(content["rng"])
    _expect(content["extra"] is None or isinstance(content["extra"], dict), "extra",
            "None or a dict", content["extra"])


def _check_component(saved: Any, where: str) -> None:
    _expect(_is_table(saved) and sorted(saved) == ["class", "state"], where,
            "a dict with 'class' and 'state'", saved)
    _expect(isinstance(saved["class"], str), f"{where}.class", "a class name", saved["class"])
    _expect(_is_table(saved["state"]), f"{where}.state", "a dict", saved["state"])


def _check_optimizer_data(state: dict) -> None:
    where = "optimizer.state"
    _expect(sorted(state) == ["param_groups", "state"], where,
            "a dict with 'state' and 'param_groups'", state)
    groups, per_parameter = state["param_groups"], state["state"]
    _expect(isinstance(groups, list) and len(groups) > 0, f"{where}.param_groups",
            "a non-empty list of parameter groups", groups)
    numbers_seen: set[int] = set()
    for number, group in enumerate(groups):
        at = f"{where}.param_groups[{number}]"
        _expect(_is_table(group) and isinstance(group.get("params"), list), at,
                "a dict with a 'params' list", group)
        for index in group["params"]:
            _expect(_is_count(index) and index not in numbers_seen, f"{at}.params",
                    "distinct parameter numbers (integers >= 0)", group["params"])
            numbers_seen.add(index)
    _expect(isinstance(per_parameter, dict), f"{where}.state", "a dict parameter number → state",
            per_parameter)
    for index, values in per_parameter.items():
        _expect(index in numbers_seen, f"{where}.state", "the state of listed parameters only",
                f"the state of parameter {index!r}")
        _expect(_is_table(values), f"{where}.state[{index}]", "a dict name → value", values)
        for name, value in values.items():
            items = value if isinstance(value, list) else [value]
            _expect(all(isinstance(v, np.ndarray) or _is_number(v) for v in items),
                    f"{where}.state[{index}][{name!r}]", "an array, a number or a list of them",
                    value)


def _check_rng(state: Any) -> None:
    """Each saved random state is set on a throwaway generator, so that a state that cannot
    be set is refused before anything is loaded."""
    _expect(_is_table(state) and sorted(state) == ["chainrule", "loaders", "numpy", "python"],
            "rng", "a dict with numpy, python, chainrule and loaders", state)
    checks = {
        "numpy": lambda s: np.random.RandomState().set_state(tuple(s)),
        "python": lambda s: random.Random().setstate((s[0], tuple(s[1]), s[2])),
        "chainrule": _bit_generator,
    }
    for name, check in checks.items():
        try:
            if name != "chainrule" and not isinstance(state[name], (list, tuple)):
                raise TypeError(f"a list was expected, not {_short(state[name])}")
            check(state[name])
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as error:
            raise ValueError(f"rng.{name} is not a random generator's state ({error})") from None
    _expect(isinstance(state["loaders"], list), "rng.loaders", "a list", state["loaders"])
    for number, loader in enumerate(state["loaders"]):
        where = f"rng.loaders[{number}]"
        _expect(_is_table(loader) and sorted(loader) == ["epoch", "generators", "seed"], where,
                "a dict with seed, epoch and generators", loader)
        for key in ("seed", "epoch"):
            _expect(loader[key] is None or _is_count(loader[key]), f"{where}.{key}",
                    "None or an integer >= 0", loader[key])
        _expect(isinstance(loader["generators"], list), f"{where}.generators", "a list",
                loader["generators"])
        for generator in loader["generators"]:
            try:
                _bit_generator(generator)
            except (ValueError, TypeError, KeyError, OverflowError) as error:
                raise ValueError(f"{where}.generators holds an invalid state ({error})") from None


def _bit_generator(state: Any) -> np.random.BitGenerator:
    """A new bit generator set to ``state``; its name is checked first, as it comes from the
    file and must not pick just any function of ``np.random``."""
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BIT_GENERATORS:
        raise ValueError(f"{_short(name)} is not one of NumPy's bit generators "
                         f"{', '.join(_BIT_GENERATORS)}")
    generator = getattr(np.random, name)()
    generator.state = state
    return generator


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
