"""The lab: short experiments that show, with numbers and pictures, how neural networks learn and
why they sometimes do not.

Each experiment is a module here with ``TITLE`` (one line) and ``run(out, smoke=False, seed=0) ->
Result``; ``MODULES`` lists them in the order of the chapter. One runs on a CPU in about a
minute or less, prints its tables, saves its figures under ``out/NAME/`` and says
in one paragraph what the result shows. ``run_all`` also writes ``out/index.html``, one
self-contained page with everything.

From the shell::

    chainrule lab vanishing            # or: python -m chainrule.lab vanishing
    chainrule lab all --out report/    # every experiment, then report/index.html

From Python:
    >>> from chainrule import lab
    >>> result = lab.run("activations", out="runs/lab", smoke=True)  # doctest: +SKIP
    >>> result.numbers["sigmoid_max_derivative"]  # doctest: +SKIP
    0.25
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Sequence

from chainrule.lab import (
    activations, backprop, benchmark, exploding, losses, optimizers, overfitting, pretraining,
    recurrent, vanishing,
)
from chainrule.lab._common import Result, Table, Timer, seed_everything
from chainrule.lab.report import write_report

__all__ = ["MODULES", "EXPERIMENTS", "run", "run_all", "add_arguments", "run_from_args",
           "Result", "Table"]

#: The registry of the experiments: name → module, in the order of the chapter.
MODULES: dict[str, ModuleType] = {module.__name__.rpartition(".")[2]: module for module in (
    activations, backprop, vanishing, exploding, losses, optimizers, overfitting, pretraining,
    recurrent, benchmark,
)}

#: name → the experiment's one-line title (its module's ``TITLE``), in the same order.
EXPERIMENTS: dict[str, str] = {name: module.TITLE for name, module in MODULES.items()}


def _module(name: str) -> ModuleType:
    if name not in MODULES:
        raise ValueError(f"unknown lab experiment {name!r}; choose one of "
                         f"{', '.join(MODULES)} or 'all'")
    return MODULES[name]


def run(name: str, out: str | Path = "runs/lab", smoke: bool = False, seed: int = 0,
        verbose: bool = True) -> Result:
    """Run one experiment; its figures go to ``out/NAME/``, its result to
    ``out/NAME/result.json``.

    Args:
        name: one of ``EXPERIMENTS``.
        out: the output folder.
        smoke: run at a reduced size (seconds; the same outputs, rougher numbers).
        seed: the seed of every random draw (same seed, same numbers).
        verbose: print the tables and the paragraph at the end.

    Returns:
        The experiment's ``Result``.
    """
    module = _module(name)
    folder = Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
    seed_everything(seed)
    with Timer() as timer:
        result = module.run(folder, smoke=smoke, seed=seed)
    result.seconds, result.smoke, result.seed = timer.seconds, smoke, seed
    result.save_json(folder / "result.json")
    if verbose:
        print(result.text(), flush=True)
        print(flush=True)
    return result


def run_all(out: str | Path = "report", smoke: bool = False, seed: int = 0,
            names: Sequence[str] | None = None, verbose: bool = True) -> list[Result]:
    """Run every experiment (or ``names``) and write ``out/index.html``."""
    results = [run(name, out, smoke, seed, verbose) for name in (names or EXPERIMENTS)]
    path = write_report(results, out)
    if verbose:
        print("wall time per experiment:")
        for result in results:
            print(f"  {result.name:<12} {result.seconds:6.1f} s")
        print(f"report: {path}")
    return results


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the lab's arguments to ``parser``: ``name``, ``--out``, ``--smoke``, ``--seed``."""
    parser.add_argument("name", choices=list(MODULES) + ["all"],
                        help="the experiment to run, or 'all' (which also writes index.html)")
    parser.add_argument("--out", default=None,
                        help="output folder (default: runs/lab/ for one experiment, report/ for "
                        "all)")
    parser.add_argument("--smoke", action="store_true",
                        help="reduced size: seconds per experiment, same outputs")
    parser.add_argument("--seed", type=_seed, default=0,
                        help="random seed, 0 to 2**32 - 1 (default 0)")
    return parser


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to 2**32 - 1, got "
                                         f"{text!r}")
    return value


def _unwritable(out: Path) -> str | None:
    """Why ``out`` cannot be the output folder (None when it can)."""
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file, not a folder; choose a folder name"
    parent = next(p for p in (out, *out.parents) if p.exists())
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        return (f"cannot write to --out {out}: {parent} is not a folder you can write to; "
                "choose another --out")
    return None


def run_from_args(args: argparse.Namespace) -> int:
    """Run what ``add_arguments`` parsed; returns the exit status (0 on success, 2 when
    ``--out`` cannot be written, with one line on stderr)."""
    out = Path(args.out or ("report" if args.name == "all" else "runs/lab"))
    problem = _unwritable(out)
    if problem:
        print(f"chainrule lab: error: {problem}", file=sys.stderr)
        return 2
    if args.name == "all":
        run_all(out, smoke=args.smoke, seed=args.seed)
    else:
        run(args.name, out, smoke=args.smoke, seed=args.seed)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m chainrule.lab NAME [--out DIR] [--smoke] [--seed N]``."""
    parser = argparse.ArgumentParser(prog="python -m chainrule.lab",
                                     description="Run chainrule's lab experiments.")
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
