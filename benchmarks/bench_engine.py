"""What the engine's gradient check costs: every gradient an op's backward returns is checked
against its input's shape and dtype (a wrong one fails with the op's name).

Times, in one process and alternating rounds, the backward engine as it is and a copy of it
with the check taken out, on the smallest step (``a * b + c`` on 64×64, where per-node costs
show most), a 100-op chain, and the MLP 40-100-100-10 Adam step.

Run: python benchmarks/bench_engine.py [--quick]
"""

from __future__ import annotations

import argparse
import inspect
import textwrap

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, optim
from chainrule.autograd import engine
from _timing import alternate

_CHECK = """            expected = tensor.data
            if input_grad.shape != expected.shape or (input_grad.dtype is not expected.dtype
                                                      and input_grad.dtype != expected.dtype):
                _check_gradient(node, method, position, input_grad, expected)
"""


def unchecked_walk():
    """``engine._walk_arrays`` (the walk ``backward()`` takes) compiled again without the
    gradient check."""
    source = inspect.getsource(engine._walk_arrays)
    if _CHECK not in source:
        raise SystemExit("bench_engine: the check in engine._walk_arrays changed; update _CHECK")
    namespace: dict = {}
    exec(compile(textwrap.dedent(source.replace(_CHECK, "")), engine.__file__, "exec"),
         engine.__dict__, namespace)
    return namespace["_walk_arrays"]


def workloads():
    rng = np.random.default_rng(0)
    a, b, c = (cr.tensor(rng.standard_normal((64, 64)), requires_grad=True) for _ in range(3))
    ones = cr.ones(64, 64)

    def op_step():
        (a * b + c).backward(ones)

    x = cr.tensor(rng.standard_normal(64), requires_grad=True)

    def chain_step():
        y = x
        for _ in range(100):
            y = y * 1.0001
        y.sum().backward()

    model = nn.Sequential(nn.Linear(40, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(),
                          nn.Linear(100, 10))
    adam = optim.Adam(model.parameters(), lr=1e-2)
    inputs = cr.tensor(rng.standard_normal((100, 40)).astype(np.float32))
    labels = cr.tensor(rng.integers(0, 10, 100))

    def mlp_step():
        loss = F.cross_entropy(model(inputs), labels)
        adam.zero_grad()
        loss.backward()
        adam.step()

    return {"a*b+c 64x64": op_step, "100-op chain": chain_step, "MLP 40-100-100-10 Adam": mlp_step}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    args = parser.parse_args()
    rounds, repeat = (5, 20) if args.quick else (30, 50)
    checked, unchecked = engine._walk_arrays, unchecked_walk()

    def with_engine(function, step):
        def run():
            engine._walk_arrays = function
            step()
        return run

    print("| workload | with the check | without | ratio |")
    print("|---|---:|---:|---:|")
    try:
        for name, step in workloads().items():
            times = alternate({"checked": with_engine(checked, step),
                               "unchecked": with_engine(unchecked, step)},
                              rounds=rounds, repeat=repeat)
            print(f"| {name} | {times['checked'] * 1e6:.1f} µs | {times['unchecked'] * 1e6:.1f} µs"
                  f" | {times['checked'] / times['unchecked']:.3f} |")
    finally:
        engine._walk_arrays = checked


if __name__ == "__main__":
    main()
