"""A checkpoint's content as plain data: encoding the training state (arrays referred to by
name) into JSON and back, and the checks of its structure and types before anything is loaded.
The file layer (safetensors, checksums, atomic writes) is ``chainrule.serialization``.
"""

from __future__ import annotations

import math
import numbers
import random
from typing import Any

import numpy as np

from chainrule.serialization import CheckpointError, _contiguous, _short

_CONTENT_KEYS = ("epoch", "step", "model_class", "model_keys", "optimizer", "scheduler",
                 "history", "callbacks", "rng", "extra")
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


# ---------------------------------------------------------------------- JSON + tensor encoding
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


