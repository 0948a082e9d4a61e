"""Training-step speed against PyTorch, and what the ``fit`` loop adds to a step.

1. A full training step (zero_grad, forward, cross-entropy, backward, Adam) of an MLP
   40-100-100-10 on batches of 100 (MNIST-1D's size): chainrule vs PyTorch (CPU), in one
   process, alternating in rounds (benchmarks/_timing.py). Target: chainrule <= 0.5x PyTorch.
2. Five epochs over a shuffling DataLoader of 40 such batches through ``fit`` (accuracy metric,
   a progress bar and the epoch table, drawn to null streams as a logged run draws them to
   stderr and stdout) vs a bare loop over the same loader. Target: < 5% more time.

Run: python benchmarks/bench_fit.py [--quick] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import time
from typing import Callable

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.train import EpochTable, ProgressBar, fit
from _timing import alternate

try:
    import torch
except ImportError:  # PyTorch is optional: only a cross-check
    torch = None

SIZES, BATCH, BATCHES, EPOCHS, LR = (40, 100, 100, 10), 100, 40, 5, 1e-3


def batches_numpy(count: int = BATCHES):
    rng = np.random.default_rng(0)
    return [(rng.standard_normal((BATCH, SIZES[0]), dtype=np.float32),
             rng.integers(0, SIZES[-1], BATCH)) for _ in range(count)]


def chainrule_model():
    cr.manual_seed(0)
    layers = []
    for position, (fan_in, fan_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if position < len(SIZES) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def chainrule_step_factory():
    model = chainrule_model()
    optimizer = optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    x, y = (cr.from_numpy(a) for a in batches_numpy(1)[0])

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return step


def torch_step_factory():
    torch.manual_seed(0)
    layers = []
    for position, (fan_in, fan_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        layers.append(torch.nn.Linear(fan_in, fan_out))
        if position < len(SIZES) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = (torch.from_numpy(a) for a in batches_numpy(1)[0])

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return step


def epoch_factories(epochs: int = EPOCHS):
    """(bare loop, fit): ``epochs`` epochs over the same shuffling DataLoader (4,000 samples in
    batches of 100), each contender with its own model and optimizer."""
    from chainrule.data import DataLoader, TensorDataset

    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((BATCH * BATCHES, SIZES[0]), dtype=np.float32)
    labels = rng.integers(0, SIZES[-1], BATCH * BATCHES)
    loss_fn = nn.CrossEntropyLoss()
    # the bar and the table draw to two null streams, as to stderr and stdout of a logged run
    bar_stream, table_stream = open(os.devnull, "w"), open(os.devnull, "w")

    bare_model = chainrule_model()
    bare_optimizer = optim.Adam(bare_model.parameters(), lr=LR)
    bare_loader = DataLoader(TensorDataset(inputs, labels), BATCH, shuffle=True, seed=0)

    def bare_loop():
        bare_model.train()
        for _ in range(epochs):
            for x, y in bare_loader:
                bare_optimizer.zero_grad()
                loss = loss_fn(bare_model(x), y)
                loss.backward()
                bare_optimizer.step()

    fit_model = chainrule_model()
    fit_optimizer = optim.Adam(fit_model.parameters(), lr=LR)
    fit_loader = DataLoader(TensorDataset(inputs, labels), BATCH, shuffle=True, seed=0)

    def fit_loop():
        fit(fit_model, loss_fn, fit_optimizer, fit_loader, epochs=epochs, metrics=("accuracy",),
            callbacks=[ProgressBar(file=bar_stream, disable=False),
                       EpochTable(file=table_stream)])

    return bare_loop, fit_loop


def paired(bare: Callable, looped: Callable, rounds: int) -> tuple[dict[str, float], float]:
    """Median seconds of each, and the median over rounds of (looped / bare - 1): each round
    times both back to back (in alternating order), so slow drifts of the machine cancel."""
    for fn in (bare, looped):
        fn()
    times: dict[str, list[float]] = {"bare loop": [], "fit": []}
    ratios = []
    for round_index in range(rounds):
        pair = [("bare loop", bare), ("fit", looped)]
        for name, fn in pair if round_index % 2 == 0 else pair[::-1]:
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
        ratios.append(times["fit"][-1] / times["bare loop"][-1] - 1)
    return ({name: statistics.median(values) for name, values in times.items()},
            statistics.median(ratios))


def profile_step(steps: int = 2000) -> str:
    step = chainrule_step_factory()
    for _ in range(50):
        step()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        step()
    profiler.disable()
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(18)
    return stream.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--profile", action="store_true", help="cProfile the chainrule step")
    args = parser.parse_args()
    rounds, repeat = (8, 20) if args.quick else (30, 50)

    contenders = {"chainrule": chainrule_step_factory()}
    if torch is not None:
        torch.set_num_threads(max(1, os.cpu_count() or 1))
        contenders["pytorch"] = torch_step_factory()
    steps = alternate(contenders, rounds=rounds, repeat=repeat, warmup=20)

    bare_loop, fit_loop = epoch_factories()
    runs, overhead = paired(bare_loop, fit_loop, rounds=2 * rounds)

    print(f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, Adam (float32, "
          f"{os.cpu_count()} cores)\n")
    version = torch.__version__.split("+")[0] if torch is not None else "not installed"
    print(f"| measurement | chainrule | PyTorch {version} CPU | ratio | target |")
    print("|---|---:|---:|---:|---|")
    if torch is not None:
        ratio = steps["chainrule"] / steps["pytorch"]
        print(f"| training step (fwd, loss, bwd, Adam) | {steps['chainrule'] * 1e6:.0f} µs | "
              f"{steps['pytorch'] * 1e6:.0f} µs | {ratio:.2f}x | <= 0.50x "
              f"{'ok' if ratio <= 0.5 else 'MISSED'} |")
    else:
        print(f"| training step (fwd, loss, bwd, Adam) | {steps['chainrule'] * 1e6:.0f} µs "
              "| — | — | <= 0.50x (PyTorch not installed) |")
    per_step = runs["fit"] / (EPOCHS * BATCHES)
    print(f"| fit, {EPOCHS} epochs x {BATCHES} batches (DataLoader, accuracy, progress bar, "
          f"table) vs bare loop | {per_step * 1e6:.0f} µs/step | bare "
          f"{runs['bare loop'] / (EPOCHS * BATCHES) * 1e6:.0f} µs/step | +{100 * overhead:.1f}% "
          f"| < 5% {'ok' if overhead < 0.05 else 'MISSED'} |")
    if args.profile:
        print("\n" + profile_step())


if __name__ == "__main__":
    main()
