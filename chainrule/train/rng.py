"""Every random generator's state as plain data, saved in checkpoints for exact resumes."""

from __future__ import annotations

import random
from typing import Any, Iterable

import numpy as np

from chainrule import backend
from chainrule.serialization import CheckpointError

__all__ = ["rng_state", "set_rng_state"]


def _generators(obj: Any, found: list, seen: set, depth: int = 0) -> None:
    """Collect the NumPy Generators held by a transform (recursively through Compose etc.)."""
    if depth > 4 or id(obj) in seen or obj is None:
        return
    seen.add(id(obj))
    if isinstance(obj, np.random.Generator):
        if obj is not backend.generator():
            found.append(obj)
        return
    if isinstance(obj, (list, tuple)):
        for item in obj:
            _generators(item, found, seen, depth + 1)
        return
    if isinstance(obj, (np.ndarray, str, bytes, int, float)):
        return
    for value in getattr(obj, "__dict__", {}).values():
        _generators(value, found, seen, depth + 1)


def _loader_generators(loader: Any) -> list[np.random.Generator]:
    found: list = []
    seen: set = set()
    _generators(getattr(loader, "transform", None), found, seen)
    for value in getattr(loader, "__dict__", {}).values():
        if isinstance(value, np.random.Generator):
            _generators(value, found, seen)
    return found


def rng_state(loaders: Iterable[Any] = ()) -> dict:
    """Every random generator's state as plain data: NumPy's global one, Python's ``random``,
    chainrule's (dropout, init, ...), and for each loader its shuffling position (seed, epoch)
    and the generators of its transforms."""
    return {
        "numpy": np.random.get_state(),
        "python": random.getstate(),
        "chainrule": backend.get_rng_state(),
        "loaders": [
            {"seed": getattr(loader, "seed", None), "epoch": getattr(loader, "epoch", None),
             "generators": [g.bit_generator.state for g in _loader_generators(loader)]}
            for loader in loaders
        ],
    }


def set_rng_state(state: dict, loaders: Iterable[Any] = ()) -> None:
    """Restore what ``rng_state`` returned (generators are updated in place); loaders are
    restored when given (as many as were saved), left alone otherwise."""
    numpy_state = state["numpy"]
    np.random.set_state(tuple(numpy_state))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    backend.set_rng_state(state["chainrule"])
    loaders = list(loaders)
    saved_loaders = state.get("loaders", [])
    if loaders and len(saved_loaders) != len(loaders):
        raise CheckpointError(f"the checkpoint holds the state of {len(saved_loaders)} data "
                              f"loader(s) but {len(loaders)} were given to restore")
    for loader, saved in zip(loaders, saved_loaders):
        if saved["seed"] is not None and hasattr(loader, "seed"):
            loader.seed = saved["seed"]
        if saved["epoch"] is not None and hasattr(loader, "set_epoch"):
            loader.set_epoch(saved["epoch"])
        generators = _loader_generators(loader)
        if len(generators) != len(saved["generators"]):
            raise CheckpointError(
                f"the checkpoint holds {len(saved['generators'])} transform generator(s) for a "
                f"loader that now has {len(generators)}; build the loader with the same "
                "transforms as when the checkpoint was saved"
            )
        for generator, generator_state in zip(generators, saved["generators"]):
            generator.bit_generator.state = generator_state
