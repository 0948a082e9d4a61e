"""The one place that creates arrays and random numbers.

Every array chainrule makes comes from here, so that another array module (CuPy, say) could be
swapped in later without touching the ops. Random numbers come from one generator that
``chainrule.manual_seed`` resets.
"""

from __future__ import annotations

import numpy as np

xp = np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
float16 = np.dtype(np.float16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)

default_float = float32

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed chainrule's random generator so every random call is reproducible.

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(0); a = cr.rand(2)
        >>> _ = cr.manual_seed(0); bool((a == cr.rand(2)).all())
        True
    """
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed expects an int, got {type(seed).__name__}: {seed!r}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def generator() -> np.random.Generator:
    """The generator every random op draws from (reset by ``manual_seed``)."""
    return _generator


def get_rng_state() -> dict:
    """The state of chainrule's generator as plain JSON-compatible data."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by ``get_rng_state``."""
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    global _generator
    _generator = np.random.Generator(bit_generator)


def resolve_dtype(dtype) -> np.dtype | None:
    """Turn a dtype-like (NumPy dtype, type, string or ``chainrule.float32``) into a NumPy dtype."""
    if dtype is None:
        return None
    if dtype is float:
        return default_float
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"unknown dtype {dtype!r}; use chainrule.float32, chainrule.float64, chainrule.int64, "
            "chainrule.bool or a NumPy dtype"
        ) from None


def as_array(data, dtype=None) -> np.ndarray:
    """Convert data to an ndarray with chainrule's dtype rules.

    Floating data becomes float32 unless ``dtype`` says otherwise; integers become int64; bools
    stay bool.
    """
    dtype = resolve_dtype(dtype)
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    array = np.asarray(data)
    kind = array.dtype.kind
    if kind == "f":
        if array.dtype != default_float:
            array = array.astype(default_float)
    elif kind in "iu":
        if array.dtype != int64:
            array = array.astype(int64)
    elif kind == "b":
        pass
    elif kind == "c":
        raise TypeError("complex data is not supported by chainrule tensors")
    else:
        raise TypeError(
            f"cannot make a tensor from data of dtype {array.dtype} ({type(data).__name__}); "
            "give numbers, nested lists of numbers or a numeric ndarray"
        )
    return array


def zeros(shape, dtype=None) -> np.ndarray:
    """An array of zeros (float32 unless ``dtype`` is given)."""
    return np.zeros(shape, dtype=resolve_dtype(dtype) or default_float)


def ones(shape, dtype=None) -> np.ndarray:
    """An array of ones (float32 unless ``dtype`` is given)."""
    return np.ones(shape, dtype=resolve_dtype(dtype) or default_float)


def full(shape, fill_value, dtype=None) -> np.ndarray:
    """An array filled with ``fill_value``, its dtype by chainrule's rules unless given."""
    if dtype is None:
        dtype = as_array(fill_value).dtype
    return np.full(shape, fill_value, dtype=resolve_dtype(dtype))


def empty(shape, dtype=None) -> np.ndarray:
    """An uninitialized array (float32 unless ``dtype`` is given)."""
    return np.empty(shape, dtype=resolve_dtype(dtype) or default_float)


def arange(start, end=None, step=1, dtype=None) -> np.ndarray:
    """Evenly stepped values in [start, end), with chainrule's dtype rules."""
    if end is None:
        start, end = 0, start
    values = np.arange(start, end, step)
    return as_array(values, dtype)


def linspace(start, end, steps, dtype=None) -> np.ndarray:
    """``steps`` evenly spaced values from start to end inclusive (float32 by default)."""
    return np.linspace(start, end, steps, dtype=resolve_dtype(dtype) or default_float)


def eye(n, m=None, dtype=None) -> np.ndarray:
    """The n × m identity matrix (float32 by default)."""
    return np.eye(n, m, dtype=resolve_dtype(dtype) or default_float)


def rand(shape, dtype=None) -> np.ndarray:
    """Uniform samples in [0, 1) from chainrule's generator."""
    dtype = resolve_dtype(dtype) or default_float
    return _generator.random(shape, dtype=dtype)


def randn(shape, dtype=None) -> np.ndarray:
    """Standard normal samples from chainrule's generator."""
    dtype = resolve_dtype(dtype) or default_float
    return _generator.standard_normal(shape, dtype=dtype)


def randint(low, high, shape, dtype=None) -> np.ndarray:
    """Integers in [low, high) from chainrule's generator (int64 by default)."""
    return _generator.integers(low, high, size=shape, dtype=resolve_dtype(dtype) or int64)
