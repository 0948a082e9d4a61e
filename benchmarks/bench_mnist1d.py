"""MNIST-1D, the paper's recipe: chainrule vs PyTorch (CPU) vs JAX (CPU, ``jax.jit``).

1. ``step``: one training step of the MLP 40-100-100-10 (zero_grad, forward, cross-entropy,
   backward, Adam) on a batch of 100, the three libraries alternating in rounds (medians,
   benchmarks/_timing.py); with ``--separate`` each library runs in a fresh process of its own,
   the processes alternating in rounds (one library's runtime threads cannot slow another's
   step there). Targets (issue 13): chainrule <= 1.0x JAX and <= 0.2x PyTorch.
2. ``recipe``: each of the paper's models (logistic regression, MLP, CNN; benchmarks/_mnist1d.py)
   trained with Adam 1e-2, batch 100, for 6,000 steps (150 epochs of 4,000 signals, reshuffled
   each epoch), the same batches for every library, in 10 rounds of 600 steps that alternate
   between the libraries (each in turn first); the time per model and library is the median
   round times 10 (the plain sum is printed beside it), then the test accuracy; with
   ``--separate`` each model and library trains in a fresh process of its own instead. Targets:
   chainrule's total <= 0.25x PyTorch's and <= 1.0x JAX's.

PyTorch and JAX are optional (a line says when one is skipped). JAX runs on its CPU build
(``pip install jax``); its first call compiles the step, which is not timed.

Run: python benchmarks/bench_mnist1d.py [--quick] [--section step|recipe|all] [--omp-passive]
     [--jax-one-thread] [--separate]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import _mnist1d as recipe
from _timing import alternate

torch = jax = None  # imported in main(), after the OpenMP policy is set


def import_libraries(omp_passive: bool, jax_one_thread: bool = False,
                     only: str | None = None) -> None:
    """PyTorch and JAX when installed (``only``: just what that library's process needs).

    With ``omp_passive``, PyTorch's OpenMP workers sleep instead of spinning after each call (a
    spinning worker takes a core from whatever runs next on a 2-core machine: chainrule or
    JAX). With ``jax_one_thread``, XLA runs each step on
    the calling thread, as chainrule does below ``threads.BIG_WORK``: its Eigen pool's workers
    otherwise keep polling for a while after each call."""
    global torch, jax
    if only == "chainrule":
        return
    if omp_passive:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    if jax_one_thread:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_"
                                   "eigen=false intra_op_parallelism_threads=1").strip()
    try:
        import torch
    except ImportError:
        torch = None
    if only == "pytorch":
        return
    try:
        import jax
        jax.config.update("jax_platforms", "cpu")
    except ImportError:
        jax = None


def trainers(name: str) -> dict:
    made = {"chainrule": recipe.chainrule_trainer(name)}
    if torch is not None:
        made["pytorch"] = recipe.torch_trainer(name, torch)
    if jax is not None:
        made["jax"] = recipe.jax_trainer(name, jax)
    return made


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def skipped() -> None:
    if torch is None:
        print("PyTorch not installed: skipped")
    if jax is None:
        print("JAX not installed (pip install jax): skipped")


def ratio_line(times: dict, name: str, target: float) -> str:
    if name not in times:
        return f"chainrule / {name}: — ({name} not installed)"
    ratio = times["chainrule"] / times[name]
    return (f"chainrule / {name}: {ratio:.2f}x (target <= {target}x: "
            f"{'met' if ratio <= target else 'missed'})")


def installed() -> list[str]:
    """The libraries this run compares, chainrule first."""
    return ["chainrule"] + ["pytorch"] * (torch is not None) + ["jax"] * (jax is not None)


def run_child(arguments: list[str], flags: list[str]) -> str:
    """This script run in a fresh process with ``arguments``; the last line it printed."""
    command = [sys.executable, os.path.abspath(__file__)] + arguments + flags
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return result.stdout.strip().splitlines()[-1]


def first_batch() -> tuple:
    x, y, _, _ = recipe.load_data()
    return x[:recipe.BATCH].copy(), y[:recipe.BATCH].copy()


def print_step_times(times: dict) -> None:
    print("| library | µs per step |\n|---|---:|")
    for library, seconds in times.items():
        print(f"| {library} | {seconds * 1e6:.0f} |")
    print(ratio_line(times, "jax", 1.0) + "; " + ratio_line(times, "pytorch", 0.2))
    print(f"({load()} at the end)\n")


def step_section(quick: bool) -> None:
    x, y = first_batch()
    contenders = {}
    for library, (step, _) in trainers("mlp").items():
        contenders[library] = (lambda step=step: step(x, y))
    rounds, repeat = (10, 50) if quick else (30, 100)
    print(f"MLP 40-100-100-10 step, Adam, batch 100 ({load()})")
    print_step_times(alternate(contenders, rounds=rounds, repeat=repeat, warmup=50))


def child_step(library: str, rounds: int, repeat: int) -> None:
    """In a fresh process: time ``library``'s MLP step alone; print the median seconds."""
    x, y = first_batch()
    step = trainers("mlp")[library][0]
    print(alternate({library: lambda: step(x, y)}, rounds=rounds, repeat=repeat,
                    warmup=50)[library])


def separate_step_section(quick: bool, flags: list[str]) -> None:
    """The step of each library in its own process (as a user runs it), processes alternating
    in rounds, each library in turn first; medians over the rounds."""
    libraries = installed()
    rounds, inner = (3, 5) if quick else (7, 10)
    print(f"MLP 40-100-100-10 step, Adam, batch 100, each library in its own process, {rounds} "
          f"alternating rounds ({load()})")
    samples: dict[str, list[float]] = {library: [] for library in libraries}
    for index in range(rounds):
        shift = index % len(libraries)
        for library in libraries[shift:] + libraries[:shift]:
            line = run_child(["--child-step", library, "--child-rounds", str(inner)], flags)
            samples[library].append(float(line))
    print_step_times({library: statistics.median(values) for library, values in samples.items()})


def child_recipe(library: str, name: str, steps: int) -> None:
    """In a fresh process: train ``name`` with ``library`` on the recipe's batches; print the
    seconds and the test accuracy."""
    x, y, x_test, y_test = recipe.load_data()
    batches = [(x[i], y[i]) for i in recipe.batch_order(steps, len(x))]
    step, accuracy = trainers(name)[library]
    step(*batches[0])  # JAX compiles here; the others warm up
    start = time.perf_counter()
    for bx, by in batches:
        step(bx, by)
    print(time.perf_counter() - start, accuracy(x_test, y_test))


def separate_recipe_section(quick: bool, flags: list[str]) -> None:
    """Each (model, library) trained in a fresh process of its own, the libraries in turn
    first from model to model."""
    steps = 600 if quick else 6000
    libraries = installed()
    print(f"MNIST-1D recipe: Adam 1e-2, batch 100, {steps} steps, each model and library in its "
          f"own process ({load()})")
    print("| model | library | seconds | test accuracy |\n|---|---|---:|---:|")
    totals: dict[str, float] = {}
    for index, name in enumerate(recipe.MODELS):
        shift = index % len(libraries)
        for library in libraries[shift:] + libraries[:shift]:
            line = run_child(["--child-recipe", f"{library}:{name}:{steps}"], flags)
            seconds, accuracy = map(float, line.split())
            totals[library] = totals.get(library, 0.0) + seconds
            print(f"| {name} | {library} | {seconds:.2f} | {accuracy:.3f} |", flush=True)
    print("| all three | " + ", ".join(f"{k} {v:.2f} s" for k, v in totals.items()) + " | |")
    print(ratio_line(totals, "pytorch", 0.25) + "; " + ratio_line(totals, "jax", 1.0))
    print(f"({load()} at the end)\n")


def recipe_section(quick: bool) -> None:
    x, y, x_test, y_test = recipe.load_data()
    steps = 600 if quick else 6000
    order = recipe.batch_order(steps, len(x))
    batches = [(x[i], y[i]) for i in order]
    rounds = 10
    chunk = steps // rounds
    print(f"MNIST-1D recipe: Adam 1e-2, batch 100, {steps} steps in {rounds} alternating rounds "
          f"of {chunk} ({load()})")
    print("| model | library | seconds (median round x rounds) | sum of rounds | test accuracy |")
    print("|---|---|---:|---:|---:|")
    totals: dict[str, float] = {}
    for name in recipe.MODELS:
        made = trainers(name)
        libraries = list(made)
        for library in libraries:
            made[library][0](*batches[0])  # JAX compiles here; the others warm up
        rounds_of: dict[str, list[float]] = {library: [] for library in libraries}
        for index in range(rounds):
            # Each library trains on the next chunk of the same batches, in turn first, so that
            # a burst of load from elsewhere falls on all of them alike.
            shift = index % len(libraries)
            for library in libraries[shift:] + libraries[:shift]:
                step = made[library][0]
                start = time.perf_counter()
                for bx, by in batches[index * chunk:(index + 1) * chunk]:
                    step(bx, by)
                rounds_of[library].append(time.perf_counter() - start)
        for library in libraries:
            seconds = statistics.median(rounds_of[library]) * rounds
            totals[library] = totals.get(library, 0.0) + seconds
            accuracy = made[library][1](x_test, y_test)
            print(f"| {name} | {library} | {seconds:.2f} | {sum(rounds_of[library]):.2f} | "
                  f"{accuracy:.3f} |", flush=True)
    print("| all three | " + ", ".join(f"{k} {v:.2f} s" for k, v in totals.items()) + " | | |")
    print(ratio_line(totals, "pytorch", 0.25) + "; " + ratio_line(totals, "jax", 1.0))
    print(f"({load()} at the end)\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, 600 recipe steps")
    parser.add_argument("--section", choices=("step", "recipe", "all"), default="all")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="PyTorch's intra-op threads (default: its own, one per core)")
    parser.add_argument("--omp-passive", action="store_true",
                        help="OMP_WAIT_POLICY=PASSIVE for PyTorch (see import_libraries)")
    parser.add_argument("--jax-one-thread", action="store_true",
                        help="XLA on the calling thread only (see import_libraries)")
    parser.add_argument("--separate", action="store_true",
                        help="step section: each library timed in its own process")
    parser.add_argument("--child-step", help=argparse.SUPPRESS)
    parser.add_argument("--child-recipe", help=argparse.SUPPRESS)
    parser.add_argument("--child-rounds", type=int, default=10, help=argparse.SUPPRESS)
    args = parser.parse_args()
    child = args.child_step or (args.child_recipe or "").split(":")[0] or None
    import_libraries(args.omp_passive, args.jax_one_thread, only=child)
    if args.child_step:
        child_step(args.child_step, args.child_rounds, 100)
        return
    if args.child_recipe:
        library, name, steps = args.child_recipe.split(":")
        child_recipe(library, name, int(steps))
        return
    skipped()
    if torch is not None and args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    if torch is not None:
        print(f"PyTorch {torch.__version__} on {torch.get_num_threads()} threads")
    flags = ["--omp-passive"] * args.omp_passive + ["--jax-one-thread"] * args.jax_one_thread
    if args.section in ("step", "all"):
        (separate_step_section(args.quick, flags) if args.separate
         else step_section(args.quick))
    if args.section in ("recipe", "all"):
        (separate_recipe_section(args.quick, flags) if args.separate
         else recipe_section(args.quick))


if __name__ == "__main__":
    main()
