"""MLP training step (784-512-256-10, batch 128, float32) written with ``chainrule.nn``.

Side by side in one process: a hand-written raw NumPy step with the same math (forward,
softmax-cross-entropy, backward, SGD with momentum), the chainrule step (``nn.Sequential`` of
``Linear``/``ReLU`` and ``F.cross_entropy``; the momentum update is written by hand on the
parameters' arrays, as ``chainrule.optim.SGD`` does it), and PyTorch (CPU) when installed.
Contenders alternate in rounds; medians are reported (PERFORMANCE.md explains why).
Targets: chainrule within 1.15x of NumPy, and no slower than PyTorch.

Run: python benchmarks/bench_mlp.py [--rounds 30] [--repeat 5] [--malloc default|tuned]
"""

from __future__ import annotations

import argparse
import ctypes
import resource

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from _mlp import BATCH, LR, MOMENTUM, SIZES, make_data, numpy_step_factory
from _timing import alternate, markdown_table

try:
    import torch
except ImportError:  # PyTorch is optional: only a cross-check
    torch = None

def chainrule_contender(x_np, y_np):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(SIZES[0], SIZES[1]), nn.ReLU(),
                          nn.Linear(SIZES[1], SIZES[2]), nn.ReLU(),
                          nn.Linear(SIZES[2], SIZES[3]))
    params = list(model.parameters())
    buffers = [np.zeros_like(p.data) for p in params]
    x, y = cr.tensor(x_np), cr.tensor(y_np)

    def step():
        model.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        for p, buf in zip(params, buffers):  # on the arrays, as chainrule.optim.SGD does
            buf *= MOMENTUM
            buf += p.grad.data
            p.data -= LR * buf
        return loss

    initial = [p.data.copy() for p in params]
    return step, initial


def torch_contender(x, y, initial):
    model = torch.nn.Sequential(torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.ReLU(),
                                torch.nn.Linear(SIZES[1], SIZES[2]), torch.nn.ReLU(),
                                torch.nn.Linear(SIZES[2], SIZES[3]))
    with torch.no_grad():
        for p, value in zip(model.parameters(), initial):
            p.copy_(torch.from_numpy(value))
    params = list(model.parameters())
    buffers = [torch.zeros_like(p) for p in params]
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        model.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(tx), ty)
        loss.backward()
        with torch.no_grad():
            for p, buf in zip(params, buffers):
                buf.mul_(MOMENTUM).add_(p.grad)
                p.sub_(buf, alpha=LR)
        return loss

    return step


def check_same_math(x, y) -> None:
    """The NumPy and chainrule steps compute the same losses from the same start."""
    chainrule_step, initial = chainrule_contender(x, y)
    numpy_step = numpy_step_factory(x, y, initial)
    for _ in range(3):
        a, b = float(chainrule_step()), float(numpy_step())
        if not np.isclose(a, b, rtol=1e-4):
            raise AssertionError(f"chainrule loss {a} differs from NumPy loss {b}")


def tune_malloc() -> None:
    """Raise glibc's mmap and trim thresholds, so large temporaries are reused from the heap
    instead of being fresh mmaps that page-fault on every step (applies to every contender)."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(-3, 32 * 1024 * 1024)  # M_MMAP_THRESHOLD: its maximum, 32 MiB
    libc.mallopt(-1, 512 * 1024 * 1024)  # M_TRIM_THRESHOLD


def page_faults_per_step(step, steps: int = 20) -> float:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(steps):
        step()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--malloc", choices=("default", "tuned"), default="default",
                        help="'tuned' raises glibc's mmap threshold for every contender, which "
                        "removes the page faults of fresh large temporaries")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 5
    if args.malloc == "tuned":
        tune_malloc()
    x, y = make_data()
    check_same_math(x, y)
    chainrule_step, initial = chainrule_contender(x, y)
    contenders = {"numpy": numpy_step_factory(x, y, initial), "chainrule": chainrule_step}
    if torch is not None:
        contenders["pytorch"] = torch_contender(x, y, initial)
    times = alternate(contenders, rounds=args.rounds, repeat=args.repeat)
    faults = {name: page_faults_per_step(step) for name, step in contenders.items()}
    print(f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, float32, SGD momentum, "
          f"{args.malloc} malloc (median of {args.rounds} rounds x {args.repeat} steps)\n")
    print(markdown_table(times, "numpy"))
    print("\npage faults per step: " + ", ".join(f"{k} {v:.0f}" for k, v in faults.items()))
    if "pytorch" in times:
        print(f"\nchainrule / pytorch: {times['chainrule'] / times['pytorch']:.3f}")


if __name__ == "__main__":
    main()
