"""Timing helper shared by the benchmarks: contenders alternate in rounds, medians reported.

Running contender A for all its repeats and then B lets one of them profit from a warmer cache
or lose to a thread pool that is still spinning (PERFORMANCE.md); alternating in rounds and
taking medians gives both the same conditions.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable


def alternate(contenders: dict[str, Callable[[], object]], rounds: int = 20, repeat: int = 5,
              warmup: int = 3) -> dict[str, float]:
    """Median seconds per call of each contender, timed in alternating rounds.

    Each round calls every contender ``repeat`` times in a row (after ``warmup`` untimed calls
    each at the start) and records the mean of that round; the order rotates from round to
    round. The result is the median over rounds.

    Example:
        >>> times = alternate({"noop": lambda: None}, rounds=3, repeat=2, warmup=1)
        >>> sorted(times)
        ['noop']
    """
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for round_index in range(rounds):
        # Rotate who goes first, so that no contender always runs right after the same other
        # one (a thread pool still spinning from the previous contender slows the next).
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            fn = contenders[name]
            start = time.perf_counter()
            for _ in range(repeat):
                fn()
            samples[name].append((time.perf_counter() - start) / repeat)
    return {name: statistics.median(values) for name, values in samples.items()}


def markdown_table(times: dict[str, float], baseline: str) -> str:
    """A markdown table of ms per call and the ratio to ``baseline``."""
    lines = ["| contender | ms per step | ratio to " + baseline + " |", "|---|---:|---:|"]
    for name, seconds in times.items():
        lines.append(f"| {name} | {seconds * 1e3:.3f} | {seconds / times[baseline]:.3f} |")
    return "\n".join(lines)
