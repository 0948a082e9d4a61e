"""Time a small CNN's training step, and its convolutions and a max pool alone, against PyTorch.

The network (MNIST-sized, batch 64 of 1×28×28 float32), and its two convolutions and first max
pool alone:
    Conv2d(1, 32, 3, padding=1) → ReLU → MaxPool2d(2) → Conv2d(32, 64, 3, padding=1) → ReLU →
    MaxPool2d(2) → Flatten → Linear(3136, 128) → ReLU → Linear(128, 10), cross-entropy,
    SGD with momentum written out by hand on both sides.

Run: ``python benchmarks/bench_cnn.py`` (``--rounds 30`` for steadier numbers,
``--quick`` for 5 rounds). Both libraries
run in one process, alternating in rounds (benchmarks/_timing.py); medians are reported as a
markdown table. Without PyTorch installed only chainrule's times are printed.

On 2 cores PyTorch's OpenMP workers spin for a while after each of its calls and take a core
from OpenBLAS in the chainrule call that follows (and OpenBLAS's spinning threads slow PyTorch's
next call a little): ``--omp-passive`` sets OMP_WAIT_POLICY=PASSIVE before PyTorch is imported,
so each library runs as it would alone. Other processes on the machine disturb both; compare
runs made while it is otherwise idle.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import chainrule as cr
from chainrule import nn
from _timing import alternate

torch = None  # imported in main(), after the OpenMP policy is set

BATCH, LR, MOMENTUM = 64, 0.01, 0.9


# ---------------------------------------------------------------------------- chainrule side
def _chainrule_layers():
    """Linear/ReLU from chainrule.nn when present, else minimal stand-ins on the core ops."""
    linear, relu = getattr(nn, "Linear", None), getattr(nn, "ReLU", None)
    if linear is None:
        class linear(nn.Module):  # noqa: N801
            def __init__(self, fan_in, fan_out):
                super().__init__()
                bound = 1 / np.sqrt(fan_in)
                rng = cr.backend.generator()
                self.weight = nn.Parameter(rng.uniform(-bound, bound, (fan_out, fan_in))
                                           .astype(np.float32))
                self.bias = nn.Parameter(rng.uniform(-bound, bound, fan_out).astype(np.float32))

            def forward(self, x):
                return x @ self.weight.t() + self.bias
    if relu is None:
        class relu(nn.Module):  # noqa: N801
            def forward(self, x):
                return x.relu()
    return linear, relu


def _chainrule_loss():
    functional = getattr(nn, "functional", None)
    if functional is not None and hasattr(functional, "cross_entropy"):
        return functional.cross_entropy

    def cross_entropy(logits, target):
        log_probs = logits - logits.logsumexp(dim=1, keepdim=True)
        return -log_probs[np.arange(logits.shape[0]), target.data].mean()
    return cross_entropy


def chainrule_cnn():
    linear, relu = _chainrule_layers()
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), relu(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), relu(), nn.MaxPool2d(2),
        nn.Flatten(), linear(3136, 128), relu(), linear(128, 10),
    )


def chainrule_step(model, images, labels):
    """One training step: returns a function that runs forward, backward and the update."""
    params = list(model.parameters())
    velocity = [np.zeros_like(p.data) for p in params]
    loss_fn = _chainrule_loss()

    def step():
        for p in params:
            p.grad = None
        loss = loss_fn(model(images), labels)
        loss.backward()
        with cr.no_grad():
            for p, v in zip(params, velocity):
                v *= MOMENTUM
                v += p.grad.data
                p.data -= LR * v
        return loss
    return step


# ---------------------------------------------------------------------------- PyTorch side
def torch_cnn():
    tn = torch.nn
    return tn.Sequential(
        tn.Conv2d(1, 32, 3, padding=1), tn.ReLU(), tn.MaxPool2d(2),
        tn.Conv2d(32, 64, 3, padding=1), tn.ReLU(), tn.MaxPool2d(2),
        tn.Flatten(), tn.Linear(3136, 128), tn.ReLU(), tn.Linear(128, 10),
    )


def torch_step(model, images, labels):
    params = list(model.parameters())
    velocity = [torch.zeros_like(p) for p in params]

    def step():
        for p in params:
            p.grad = None
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        with torch.no_grad():
            for p, v in zip(params, velocity):
                v.mul_(MOMENTUM).add_(p.grad)
                p.sub_(LR * v)
        return loss
    return step


# ---------------------------------------------------------------------------- conv alone
def conv_contenders(in_channels, out_channels, size, input_grad, rng):
    """Forward + backward of one Conv2d(in, out, 3, padding=1) layer on both sides."""
    x = rng.standard_normal((BATCH, in_channels, size, size)).astype(np.float32)
    grad = rng.standard_normal((BATCH, out_channels, size, size)).astype(np.float32)
    ours = nn.Conv2d(in_channels, out_channels, 3, padding=1)
    ours_x = cr.tensor(x, requires_grad=input_grad)
    ours_grad = cr.tensor(grad)
    contenders = {"chainrule": lambda: ours(ours_x).backward(ours_grad)}
    if torch is not None:
        theirs = torch.nn.Conv2d(in_channels, out_channels, 3, padding=1)
        theirs_x = torch.tensor(x, requires_grad=input_grad)
        theirs_grad = torch.tensor(grad)
        contenders["pytorch"] = lambda: theirs(theirs_x).backward(theirs_grad)
    return contenders


def pool_contenders(channels, size, rng):
    """Forward + backward of MaxPool2d(2) on a conv-sized (64, C, size, size) batch; chainrule's
    input is stored channels first, as its convolutions return them."""
    x = rng.standard_normal((channels, BATCH, size, size)).astype(np.float32)
    grad = rng.standard_normal((BATCH, channels, size // 2, size // 2)).astype(np.float32)
    ours_x = cr.tensor(x, requires_grad=True).permute(1, 0, 2, 3)
    ours_grad = cr.tensor(grad)
    contenders = {"chainrule": lambda: nn.functional.max_pool2d(ours_x, 2).backward(ours_grad)}
    if torch is not None:
        theirs_x = torch.tensor(np.ascontiguousarray(x.transpose(1, 0, 2, 3)), requires_grad=True)
        theirs_grad = torch.tensor(grad)
        contenders["pytorch"] = lambda: torch.nn.functional.max_pool2d(theirs_x, 2).backward(
            theirs_grad)
    return contenders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="5 rounds")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--omp-passive", action="store_true",
                        help="let PyTorch's idle OpenMP threads sleep instead of spinning")
    args = parser.parse_args()
    global torch
    if args.quick:
        args.rounds = 5
    if args.omp_passive:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        import torch
    except ImportError:  # the comparison is optional
        torch = None

    rng = np.random.default_rng(0)
    cr.manual_seed(0)
    images = rng.random((BATCH, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, BATCH)

    rows = []
    model = chainrule_cnn()
    steps = {"chainrule": chainrule_step(model, cr.tensor(images), cr.tensor(labels))}
    if torch is not None:
        torch.manual_seed(0)
        steps["pytorch"] = torch_step(torch_cnn(), torch.tensor(images), torch.tensor(labels))
    rows.append(("CNN training step (batch 64)", alternate(steps, args.rounds, args.repeat)))
    for name, (cin, cout, size, input_grad) in {
        "conv 1→32, 28×28, fwd+bwd (no input grad)": (1, 32, 28, False),
        "conv 32→64, 14×14, fwd+bwd": (32, 64, 14, True),
    }.items():
        contenders = conv_contenders(cin, cout, size, input_grad, rng)
        rows.append((name, alternate(contenders, args.rounds, args.repeat)))
    rows.append(("max pool 2×2, 32×28×28, fwd+bwd",
                 alternate(pool_contenders(32, 28, rng), args.rounds, args.repeat)))

    threads = f", torch {torch.__version__} with {torch.get_num_threads()} threads" if torch else ""
    if torch and os.environ.get("OMP_WAIT_POLICY"):
        threads += f" (OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']})"
    print(f"numpy {np.__version__}{threads}; medians of {args.rounds} alternating rounds\n")
    print("| benchmark | chainrule ms | PyTorch ms | ratio |")
    print("|---|---:|---:|---:|")
    for name, times in rows:
        ours = times["chainrule"] * 1e3
        if "pytorch" in times:
            theirs = times["pytorch"] * 1e3
            print(f"| {name} | {ours:.2f} | {theirs:.2f} | {ours / theirs:.2f}× |")
        else:
            print(f"| {name} | {ours:.2f} | – | – |")


if __name__ == "__main__":
    main()
