"""Batch norm's share of a CNN step: BatchNorm2d forward+backward next to the Conv2d it follows.

Shape (64, 32, 28, 28), float32. Contenders, alternating in rounds (medians): chainrule's
BatchNorm2d, a minimal hand-written NumPy batch norm (the same closed form), chainrule's
Conv2d(32, 32, 3, padding=1), and PyTorch's BatchNorm2d when installed. The goal: batch norm
must not dominate the step (well under the convolution's time).

Run: python benchmarks/bench_norm.py [--rounds 20]
"""

from __future__ import annotations

import argparse

import numpy as np

import chainrule as cr
from chainrule import nn
from _timing import alternate, markdown_table

try:
    import torch
except ImportError:  # PyTorch is optional: only a cross-check
    torch = None

SHAPE = (64, 32, 28, 28)


def chainrule_step(module, x_np, grad_np):
    x, grad = cr.tensor(x_np, requires_grad=True), cr.tensor(grad_np)

    def step():
        x.grad = None
        module.zero_grad()
        module(x).backward(grad)

    return step


def numpy_batch_norm(x, grad, weight, bias, eps=1e-5):
    axes = (0, 2, 3)
    shape = (1, -1, 1, 1)

    def step():
        mean = x.mean(axis=axes, keepdims=True)
        centered = x - mean
        var = (centered * centered).mean(axis=axes, keepdims=True)
        invstd = 1.0 / np.sqrt(var + eps)
        xhat = centered
        xhat *= invstd
        out = xhat * weight.reshape(shape)
        out += bias.reshape(shape)
        grad_xhat = grad * xhat
        grad_weight, grad_bias = grad_xhat.sum(axis=axes), grad.sum(axis=axes)
        grad_x = xhat * grad_xhat.mean(axis=axes, keepdims=True)
        np.subtract(grad, grad_x, out=grad_x)
        grad_x -= grad.mean(axis=axes, keepdims=True)
        grad_x *= invstd * weight.reshape(shape)
        return out, grad_x, grad_weight, grad_bias

    return step


def torch_step(module, x_np, grad_np):
    x, grad = torch.tensor(x_np, requires_grad=True), torch.tensor(grad_np)

    def step():
        x.grad = None
        module.zero_grad()
        module(x).backward(grad)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    if args.quick:
        args.rounds = 5
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPE, dtype=np.float32)
    grad = rng.standard_normal(SHAPE, dtype=np.float32)
    bn = nn.BatchNorm2d(SHAPE[1])
    contenders = {
        "numpy batch norm": numpy_batch_norm(x, grad, bn.weight.data, bn.bias.data),
        "chainrule BatchNorm2d": chainrule_step(bn, x, grad),
        "chainrule Conv2d 3x3": chainrule_step(nn.Conv2d(SHAPE[1], SHAPE[1], 3, padding=1), x,
                                               grad),
    }
    if torch is not None:
        contenders["pytorch BatchNorm2d"] = torch_step(torch.nn.BatchNorm2d(SHAPE[1]), x, grad)
    times = alternate(contenders, rounds=args.rounds, repeat=3)
    print(f"forward + backward, input {SHAPE}, float32 (median of {args.rounds} rounds)\n")
    print(markdown_table(times, "numpy batch norm"))
    share = times["chainrule BatchNorm2d"] / times["chainrule Conv2d 3x3"]
    print(f"\nBatchNorm2d / Conv2d: {share:.2f}")


if __name__ == "__main__":
    main()
