"""MNIST-1D, generated locally with the ``mnist1d`` package (no download)."""

from __future__ import annotations

import importlib.metadata
import os
import random
import tempfile
from pathlib import Path

import numpy as np

from chainrule.data.dataset import DataError, Splits, TensorDataset

__all__ = ["mnist1d", "cache_dir"]

_CACHE_VERSION = 1
_memory: dict[int, tuple[np.ndarray, ...]] = {}
_KEYS = ("x", "y", "x_test", "y_test")


def cache_dir() -> Path:
    """Where generated datasets are cached: ``$CHAINRULE_CACHE`` or ``~/.cache/chainrule``."""
    configured = os.environ.get("CHAINRULE_CACHE")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "chainrule"


def _generate(seed: int | None) -> tuple[np.ndarray, ...]:
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as error:
        raise ImportError("mnist1d() generates the data with the mnist1d package: "
                          "pip install mnist1d") from error
    args = get_dataset_args()
    if seed is not None:
        args.seed = int(seed)
    # make_dataset reseeds NumPy's and Python's global generators: give the caller theirs back
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
    return (data["x"].astype(np.float32), data["y"].astype(np.int64),
            data["x_test"].astype(np.float32), data["y_test"].astype(np.int64))


def _cache_file(seed: int | None) -> Path:
    tag = "default" if seed is None else f"seed{int(seed)}"
    try:  # a new mnist1d release may generate different data: keep caches apart
        package = importlib.metadata.version("mnist1d")
    except importlib.metadata.PackageNotFoundError:
        package = "unknown"
    return cache_dir() / f"mnist1d-{package}_{tag}_v{_CACHE_VERSION}.npz"


def _read_cache(path: Path) -> tuple[np.ndarray, ...] | None:
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = tuple(stored[key] for key in _KEYS)
    except (OSError, ValueError, KeyError, EOFError):
        return None  # missing or damaged cache: regenerate
    x, y, x_test, y_test = arrays
    if (x.ndim != 2 or x_test.ndim != 2 or len(x) != len(y) or len(x_test) != len(y_test)
            or x.dtype != np.float32 or y.dtype != np.int64):
        return None
    return arrays


def _write_cache(path: Path, arrays: tuple[np.ndarray, ...]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".npz")
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **dict(zip(_KEYS, arrays)))
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a cache can be shared
        os.replace(temporary, path)  # atomic: readers never see half a file
    except OSError:
        pass  # a read-only home is fine: the data stays cached in memory


def mnist1d(flatten: bool = True, seed: int | None = None, disk_cache: bool = True) -> Splits:
    """MNIST-1D: 10 classes of noisy 1-D signals of length 40 (Greydanus, 2020).

    Generated on this machine by ``mnist1d.data.make_dataset`` with the package's default
    arguments (``get_dataset_args()``: 5,000 samples, 80/20 split, seed 42), so results compare
    with the package's published table. Nothing is downloaded. The caller's global NumPy and
    Python random states are left as they were.

    Generating takes about a second, so the arrays are cached in memory and, unless
    ``disk_cache=False``, as a ``.npz`` (no pickle) under ``$CHAINRULE_CACHE`` or
    ``~/.cache/chainrule``.

    Args:
        flatten: ``True`` gives ``(N, 40)`` signals (for MLPs), ``False`` ``(N, 1, 40)``
            (for 1-D convolutions).
        seed: generator seed; ``None`` keeps the package default (42).
        disk_cache: read and write the on-disk cache.

    Shape:
        train 4,000 and test 1,000 samples; inputs float32 ``(N, 40)`` or ``(N, 1, 40)``,
        labels int64 ``(N,)``; ``num_classes = 10``.

    Example:
        >>> train, test = mnist1d()  # doctest: +SKIP
        >>> len(train), len(test), train.input_shape  # doctest: +SKIP
        (4000, 1000, (40,))
    """
    key = -1 if seed is None else int(seed)
    arrays = _memory.get(key)
    if arrays is None:
        path = _cache_file(seed)
        arrays = _read_cache(path) if disk_cache else None
        if arrays is None:
            arrays = _generate(seed)
            if disk_cache:
                _write_cache(path, arrays)
        for array in arrays:
            array.setflags(write=False)
        _memory[key] = arrays
    x, y, x_test, y_test = arrays
    if len(x) != len(y) or len(x_test) != len(y_test):  # pragma: no cover - guarded above
        raise DataError("mnist1d produced inputs and labels of different lengths")
    if not flatten:
        x, x_test = x[:, None], x_test[:, None]
    classes = [str(k) for k in range(10)]
    return Splits(
        TensorDataset(x, y, num_classes=10, classes=classes, name="mnist1d/train"),
        TensorDataset(x_test, y_test, num_classes=10, classes=classes, name="mnist1d/test"),
    )
