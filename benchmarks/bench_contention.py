"""Quiet machine vs one busy core: how much slower the main job and the MNIST-1D CNN get.

A user's laptop always has something else running. This benchmark starts one busy process
(``python3 -c 'while True: pass'``) beside each job and stops it afterwards, and compares with
the same job on the quiet machine, in alternating rounds (quiet and busy, in turn first),
reporting medians of the wall-clock times:

- the main job: ``chainrule train`` as the README runs it (digits CNN, 30 epochs);
- the MNIST-1D CNN: ``chainrule train --dataset mnist1d`` (the CLI's recipe for it).

Each job runs under two thread policies: chainrule's (``chainrule/threads.py``: one BLAS thread
for products below ``threads.BIG_WORK``, ``get_num_threads()`` above) and "all threads", BLAS on
all its threads for every product, as chainrule ran before the policy (set back here with
threadpoolctl after the import). Target (issue 13): busy / quiet <= 1.3 with chainrule's policy,
and its quiet time no worse than before.

Run: python benchmarks/bench_contention.py [--quick] [--rounds N] [--jobs main,mnist1d]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

# The job runs in a fresh interpreter: "all threads" puts BLAS back on its default thread count
# after chainrule's import and tells chainrule never to change it (so BLAS keeps them all).
_ALL_THREADS = (
    "import sys, chainrule; from threadpoolctl import threadpool_limits; "
    "threadpool_limits(chainrule.get_num_threads(), user_api='blas'); "
    "chainrule.set_num_threads(1); "
    "from chainrule.cli import main; sys.exit(main(sys.argv[1:]))"
)
_POLICY = "from chainrule.cli import main; import sys; sys.exit(main(sys.argv[1:]))"
POLICIES = {"chainrule policy": _POLICY, "all threads (before)": _ALL_THREADS}

JOBS = {
    "main": ("main job: chainrule train", [], ["--epochs", "6"]),
    "mnist1d": ("MNIST-1D CNN: chainrule train --dataset mnist1d", ["--dataset", "mnist1d"],
                ["--epochs", "4"]),
}


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def run_job(code: str, arguments: list[str]) -> float:
    """Wall-clock seconds of one ``chainrule train`` in a fresh process (its run folder in a
    temporary directory)."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-c", code, "train", *arguments, "--quiet",
                   "--out", os.path.join(folder, "run")]
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start


class BusyCore:
    """One process spinning on a core for the duration of a ``with`` block."""

    def __enter__(self) -> "BusyCore":
        # A session of its own, as another application has: with the scheduler's autogroups
        # (Linux's default on desktops) a busy child in this session would halve this
        # session's share of the machine instead of taking one core.
        self.process = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                        start_new_session=True)
        time.sleep(0.5)  # let it start spinning
        return self

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait()


def measure(arguments: list[str], rounds: int) -> dict[tuple[str, str], list[float]]:
    times: dict[tuple[str, str], list[float]] = {}
    for round_index in range(rounds):
        conditions = ["quiet", "busy"] if round_index % 2 == 0 else ["busy", "quiet"]
        for condition in conditions:
            names = list(POLICIES) if round_index % 2 == 0 else list(POLICIES)[::-1]
            for name in names:
                if condition == "busy":
                    with BusyCore():
                        seconds = run_job(POLICIES[name], arguments)
                else:
                    seconds = run_job(POLICIES[name], arguments)
                times.setdefault((name, condition), []).append(seconds)
                print(f"  round {round_index + 1}, {condition:5}, {name}: {seconds:.1f} s "
                      f"({load()})", file=sys.stderr, flush=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one round of shorter jobs (main 6 epochs, MNIST-1D 4)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 3, quick 1)")
    parser.add_argument("--jobs", default="main,mnist1d", help="which jobs, comma-separated")
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    print(f"{os.cpu_count()} cores, {rounds} round(s); {load()} at the start\n")
    for key in args.jobs.split(","):
        title, arguments, quick_arguments = JOBS[key]
        arguments = arguments + (quick_arguments if args.quick else [])
        times = measure(arguments, rounds)
        medians = {k: statistics.median(v) for k, v in times.items()}
        print(f"{title}{' ' + ' '.join(quick_arguments) if args.quick else ''} ({load()})\n")
        print("| policy | quiet s | one busy core s | busy / quiet |")
        print("|---|---:|---:|---:|")
        for name in POLICIES:
            quiet, busy = medians[(name, "quiet")], medians[(name, "busy")]
            print(f"| {name} | {quiet:.1f} | {busy:.1f} | {busy / quiet:.2f}x |")
        ours, before = medians[("chainrule policy", "quiet")], medians[
            ("all threads (before)", "quiet")]
        ratio = medians[("chainrule policy", "busy")] / ours
        print(f"\nbusy / quiet with chainrule's policy: {ratio:.2f}x (target <= 1.3x: "
              f"{'met' if ratio <= 1.3 else 'missed'}); quiet, policy / before: "
              f"{ours / before:.2f}x\n")


if __name__ == "__main__":
    main()
