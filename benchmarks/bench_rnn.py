"""Recurrent training steps against PyTorch (CPU): the two targets of the recurrent layers.

1. The MNIST-1D paper's GRU (Greydanus & Kobak): bidirectional, hidden 6, 40 steps of one
   input, a Linear layer on all 80 outputs (480 → 10), batch 100, cross-entropy, Adam 1e-2
   (``chainrule.models.gru()``). Target: chainrule <= 0.5x PyTorch.
2. LSTM, 1 layer, hidden 128, 50 steps, batch 32, input 32, a Linear layer on the last output
   (128 → 10), cross-entropy, Adam. Target: chainrule <= 1.0x PyTorch.

A step is zero_grad, forward, loss, backward and the optimizer step; both libraries hold the
same weights and run in one process, alternating in rounds (benchmarks/_timing.py); medians are
reported. On 2 cores PyTorch's OpenMP workers spin after each call and take a core from the next
chainrule call: ``--omp-passive`` sets OMP_WAIT_POLICY=PASSIVE before PyTorch is imported.
Other processes on the machine disturb both; compare runs made while it is otherwise idle.

Run: python benchmarks/bench_rnn.py [--quick] [--omp-passive]
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import chainrule as cr
from chainrule import models, nn, optim
from chainrule.nn import functional as F
from _timing import alternate, markdown_table

torch = None  # imported in main(), after the OpenMP policy is set


class LastStep(nn.Module):
    """LSTM(32, 128) over (T, B, 32), a Linear layer on the last output."""

    def __init__(self):
        super().__init__()
        self.lstm, self.head = nn.LSTM(32, 128), nn.Linear(128, 10)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[-1])


def _torch_models():
    class TorchGRU(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.GRU(1, 6, batch_first=True, bidirectional=True)
            self.linear = torch.nn.Linear(480, 10)

        def forward(self, x):
            out, _ = self.rnn(x.transpose(1, 2))
            return self.linear(out.reshape(out.shape[0], -1))

    class TorchLastStep(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm, self.head = torch.nn.LSTM(32, 128), torch.nn.Linear(128, 10)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out[-1])

    return TorchGRU(), TorchLastStep()


def _same_weights(ours: nn.Module, theirs) -> None:
    ours.load_state_dict({name: cr.from_numpy(value.detach().numpy().copy())
                          for name, value in theirs.state_dict().items()})


def chainrule_step(model, x_np, y_np, lr):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    x, y = cr.tensor(x_np), cr.tensor(y_np)

    def step():
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    return step


def torch_step(model, x_np, y_np, lr):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    x, y = torch.tensor(x_np), torch.tensor(y_np)

    def step():
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    return step


def main() -> None:
    global torch
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--omp-passive", action="store_true",
                        help="let PyTorch's idle OpenMP threads sleep instead of spinning")
    args = parser.parse_args()
    if args.omp_passive:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        import torch as torch_module
    except ImportError:
        torch_module = None
    torch = torch_module
    rounds = args.rounds or (6 if args.quick else 20)
    repeat = 3 if args.quick else 5
    rng = np.random.default_rng(0)
    cases = {
        "GRU (MNIST-1D paper), batch 100": (
            models.gru(), rng.standard_normal((100, 1, 40), dtype=np.float32),
            rng.integers(0, 10, 100), 1e-2, 0.5),
        "LSTM 32→128, 50 steps, batch 32": (
            LastStep(), rng.standard_normal((50, 32, 32), dtype=np.float32),
            rng.integers(0, 10, 32), 1e-3, 1.0),
    }
    theirs = _torch_models() if torch is not None else (None, None)
    threads = f", torch {torch.__version__} with {torch.get_num_threads()} threads" \
        if torch is not None else " (PyTorch not installed: chainrule only)"
    print(f"numpy {np.__version__}{threads}; training steps, medians of {rounds} alternating "
          "rounds\n")
    for (name, (ours, x, y, lr, target)), reference in zip(cases.items(), theirs):
        contenders = {"chainrule": chainrule_step(ours, x, y, lr)}
        if reference is not None:
            _same_weights(ours, reference)
            contenders["pytorch"] = torch_step(reference, x, y, lr)
        times = alternate(contenders, rounds=rounds, repeat=repeat)
        print(f"{name}\n")
        print(markdown_table(times, "pytorch" if reference is not None else "chainrule"))
        if reference is not None:
            ratio = times["chainrule"] / times["pytorch"]
            verdict = "meets" if ratio <= target else "misses"
            print(f"\nchainrule / pytorch = {ratio:.2f} ({verdict} the target <= {target})\n")


if __name__ == "__main__":
    main()
