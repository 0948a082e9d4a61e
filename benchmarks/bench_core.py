"""Core speed and memory: per-op autograd overhead and an MLP step written with the ops alone.

Prints, side by side in one process: raw NumPy, chainrule, and PyTorch (CPU) when installed.
Contenders alternate in rounds and medians are reported (see _timing.py).

Run: python benchmarks/bench_core.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import chainrule as cr
from _mlp import (
    BATCH, LR, MOMENTUM, initial_weights, make_data, numpy_step_factory,
)
from _timing import alternate, markdown_table

try:
    import torch
except ImportError:  # PyTorch is optional: only a cross-check
    torch = None



# ----------------------------------------------------------------------------- per-op overhead
def per_op_contenders():
    rng = np.random.default_rng(0)
    a_np, b_np, c_np = (rng.standard_normal((64, 64), dtype=np.float32) for _ in range(3))
    ones = np.ones((64, 64), dtype=np.float32)

    def numpy_step():
        y = a_np * b_np + c_np
        grad_a, grad_b, grad_c = ones * b_np, ones * a_np, ones  # noqa: F841
        return y

    a, b, c = (cr.tensor(v, requires_grad=True) for v in (a_np, b_np, c_np))
    grad = cr.tensor(ones)

    def chainrule_step():
        y = a * b + c
        y.backward(grad)
        a.grad = b.grad = c.grad = None

    contenders = {"numpy": numpy_step, "chainrule": chainrule_step}
    if torch is not None:
        ta, tb, tc = (torch.tensor(v, requires_grad=True) for v in (a_np, b_np, c_np))
        tgrad = torch.tensor(ones)

        def torch_step():
            y = ta * tb + tc
            y.backward(tgrad)
            ta.grad = tb.grad = tc.grad = None

        contenders["pytorch"] = torch_step
    return contenders


# ----------------------------------------------------------------------------- MLP step
def numpy_mlp_factory():
    x, y = make_data()
    return numpy_step_factory(x, y, initial_weights())


def chainrule_mlp_step_factory():
    (x_np, y_np), arrays = make_data(), initial_weights()
    x, y = cr.tensor(x_np), cr.tensor(y_np)
    params = [cr.tensor(a, requires_grad=True) for a in arrays]
    velocity = [np.zeros_like(a) for a in arrays]
    rows = cr.arange(BATCH)

    def step():
        w1, b1, w2, b2, w3, b3 = params
        h1 = cr.relu(x @ w1.T + b1)
        h2 = cr.relu(h1 @ w2.T + b2)
        logits = h2 @ w3.T + b3
        # Cross-entropy from the ops alone: logsumexp minus the target's logit.
        loss = (cr.logsumexp(logits, dim=1) - logits[rows, y]).mean()
        for p in params:
            p.grad = None
        loss.backward()
        for p, v in zip(params, velocity):  # SGD with momentum, by hand, on the arrays
            v *= MOMENTUM
            v += p.grad.data
            p.data -= LR * v
        return loss

    return step


def torch_mlp_step_factory():
    (x_np, y_np), arrays = make_data(), initial_weights()
    x, y = torch.tensor(x_np), torch.tensor(y_np)
    params = [torch.tensor(a, requires_grad=True) for a in arrays]
    velocity = [torch.zeros_like(p) for p in params]

    def step():
        w1, b1, w2, b2, w3, b3 = params
        h1 = torch.relu(x @ w1.T + b1)
        h2 = torch.relu(h1 @ w2.T + b2)
        logits = h2 @ w3.T + b3
        loss = torch.nn.functional.cross_entropy(logits, y)
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p, v in zip(params, velocity):
                v.mul_(MOMENTUM).add_(p.grad)
                p.sub_(LR * v)
        return loss

    return step


def check_same_math():
    """The chainrule and NumPy steps compute the same losses, step after step."""
    numpy_step, chainrule_step = numpy_mlp_factory(), chainrule_mlp_step_factory()
    for _ in range(3):
        a, b = float(numpy_step()), float(chainrule_step())
        assert abs(a - b) < 1e-4 * max(1.0, abs(a)), (a, b)


# ----------------------------------------------------------------------------- memory
def resident_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory_is_flat(steps: int) -> tuple[float, float]:
    step = chainrule_mlp_step_factory()
    for _ in range(50):
        step()
    before = resident_mib()
    for _ in range(steps):
        step()
    return before, resident_mib()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and memory steps")
    args = parser.parse_args()
    rounds = 5 if args.quick else 20

    print(f"NumPy {np.__version__}" + (f", PyTorch {torch.__version__} "
          f"({torch.get_num_threads()} threads)" if torch is not None else ", PyTorch absent"))

    times = alternate(per_op_contenders(), rounds=rounds, repeat=200)
    print("\n### Per-op overhead: forward+backward of a * b + c, 64x64 float32 (2 ops)\n")
    print(markdown_table(times, "numpy"))
    for name in times:
        if name != "numpy":
            overhead = (times[name] - times["numpy"]) / 2 * 1e6
            print(f"- {name}: {overhead:.1f} us of overhead per op")

    check_same_math()
    contenders = {"numpy (by hand)": numpy_mlp_factory(),
                  "chainrule (ops)": chainrule_mlp_step_factory()}
    if torch is not None:
        contenders["pytorch"] = torch_mlp_step_factory()
    times = alternate(contenders, rounds=rounds, repeat=5)
    print("\n### MLP 784-512-256-10 training step, batch 128, float32, SGD momentum\n")
    print(markdown_table(times, "numpy (by hand)"))

    steps = 1000 if args.quick else 10_000
    started = time.perf_counter()
    before, after = memory_is_flat(steps)
    print(f"\n### Memory: resident {before:.1f} MiB after warm-up, {after:.1f} MiB after "
          f"{steps} more steps ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
