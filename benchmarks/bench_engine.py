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
import os
import sys
import textwrap

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the shared _timing helper

import chainrule as cr  # noqa: E402
import chainrule.nn.functional as F  # noqa: E402
from chainrule import nn, optim  # noqa: E402
from chainrule.autograd import engine  # noqa: E402
from _timing import alternate  # noqa: E402

_CHECK = """                expected, got = inputs_of_node[position].data, input_grad.data
                if got.shape != expected.shape or (got.dtype is not expected.dtype
                                                   and got.dtype != expected.dtype):
                    raise RuntimeError(_bad_gradient_message(
                        node, "backward" if backward_arrays is None else "backward_arrays",
                        position, input_grad, expected))
"""


def unchecked_run_backward():
    """``engine.run_backward`` compiled again without the gradient check."""
    source = inspect.getsource(engine.run_backward)
    if _CHECK not in source:
        raise SystemExit("bench_engine: the check in engine.run_backward changed; update _CHECK")
    namespace: dict = {}
    exec(compile(textwrap.dedent(source.replace(_CHECK, "")), engine.__file__, "exec"),
         engine.__dict__, namespace)
    return namespace["run_backward"]


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
    checked, unchecked = engine.run_backward, unchecked_run_backward()

    def with_engine(function, step):
        def run():
            engine.run_backward = function
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
        engine.run_backward = checked


if __name__ == "__main__":
    main()
