"""Resident memory of the CNN training step (bench_cnn.py's network, batch 64 of 1×28×28):
chainrule vs PyTorch, each in a fresh process, over many steps.

Each library runs in its own interpreter (PyTorch alone adds hundreds of MiB to a process, so
sharing one would say nothing): after the imports and the model it records the resident set
(VmRSS), then trains ``--steps`` steps (SGD with momentum, the same fixed batch) and records the
resident set every tenth of the run and the peak (VmHWM). Targets (issue 13): chainrule's peak
<= PyTorch's, and flat over 10,000 steps (the growth after the first tenth is what leaks).

Run: python benchmarks/bench_memory.py [--quick] [--steps 10000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

_CHILD = r"""
import json, sys
import numpy as np

def rss_mib(field="VmRSS"):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024

library, steps = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
images = rng.random((64, 1, 28, 28), dtype=np.float32)
labels = rng.integers(0, 10, 64)
if library == "chainrule":
    import chainrule as cr
    from chainrule import nn, optim
    cr.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = cr.from_numpy(images), cr.from_numpy(labels)
    loss_fn = nn.functional.cross_entropy
else:
    import torch
    tn = torch.nn
    torch.manual_seed(0)
    model = tn.Sequential(tn.Conv2d(1, 32, 3, padding=1), tn.ReLU(), tn.MaxPool2d(2),
                          tn.Conv2d(32, 64, 3, padding=1), tn.ReLU(), tn.MaxPool2d(2),
                          tn.Flatten(), tn.Linear(3136, 128), tn.ReLU(), tn.Linear(128, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    loss_fn = tn.functional.cross_entropy
record = {"before": rss_mib(), "checkpoints": []}
for step in range(1, steps + 1):
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    if step % max(1, steps // 10) == 0:
        record["checkpoints"].append((step, rss_mib()))
record["peak"] = rss_mib("VmHWM")
print(json.dumps(record))
"""


def measure(library: str, steps: int) -> dict | None:
    done = subprocess.run([sys.executable, "-c", _CHILD, library, str(steps)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        if "No module named 'torch'" in done.stderr:
            return None
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 steps")
    parser.add_argument("--steps", type=int, default=None, help="steps (default 10,000)")
    args = parser.parse_args()
    steps = args.steps or (300 if args.quick else 10_000)
    print(f"CNN step, batch 64 of 1x28x28, SGD momentum, {steps} steps, each library in its own "
          "process\n")
    print("| library | RSS before the first step MiB | after the first tenth | at the end | "
          "growth after the first tenth | peak (VmHWM) |")
    print("|---|---:|---:|---:|---:|---:|")
    peaks = {}
    for library in ("chainrule", "pytorch"):
        record = measure(library, steps)
        if record is None:
            print(f"| {library} | not installed: skipped | | | | |")
            continue
        first, last = record["checkpoints"][0][1], record["checkpoints"][-1][1]
        peaks[library] = record["peak"]
        print(f"| {library} | {record['before']:.1f} | {first:.1f} | {last:.1f} | "
              f"{last - first:+.1f} | {record['peak']:.1f} |", flush=True)
    if len(peaks) == 2:
        ratio = peaks["chainrule"] / peaks["pytorch"]
        print(f"\npeak chainrule / pytorch: {ratio:.2f}x (target <= 1.0x: "
              f"{'met' if ratio <= 1.0 else 'missed'})")


if __name__ == "__main__":
    main()
