"""The MLP 784-512-256-10 benchmark's shared pieces: sizes, data, and the NumPy step by hand.

``bench_core.py`` (the step written with ops) and ``bench_mlp.py`` (written with ``nn``) compare
against this one hand-written NumPy step, so their "NumPy by hand" figures are the same baseline.
"""

from __future__ import annotations

import numpy as np

BATCH, SIZES, LR, MOMENTUM = 128, (784, 512, 256, 10), 0.01, 0.9


def make_data():
    """A fixed batch: float32 inputs (BATCH, 784) and int64 labels."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], BATCH)
    return x, y


def initial_weights() -> list[np.ndarray]:
    """PyTorch-style uniform(±1/√fan_in) weights and biases, float32, from a fixed seed."""
    rng = np.random.default_rng(1)
    weights = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        bound = 1 / np.sqrt(fan_in)
        weights.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
        weights.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    return weights


def numpy_step_factory(x, y, initial):
    """A training step (forward, softmax cross-entropy, backward, SGD momentum) by hand."""
    w1, b1, w2, b2, w3, b3 = (a.copy() for a in initial)
    params = [w1, b1, w2, b2, w3, b3]
    buffers = [np.zeros_like(p) for p in params]
    rows = np.arange(BATCH)

    def step():
        h1 = x @ w1.T
        h1 += b1
        a1 = np.maximum(h1, 0)
        h2 = a1 @ w2.T
        h2 += b2
        a2 = np.maximum(h2, 0)
        logits = a2 @ w3.T
        logits += b3
        shifted = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        loss = -(shifted[rows, y] - np.log(total[:, 0])).mean()
        g3 = e / total
        g3[rows, y] -= 1.0
        g3 *= 1.0 / BATCH
        grads = [None] * 6
        grads[4], grads[5] = g3.T @ a2, g3.sum(axis=0)
        g2 = g3 @ w3
        g2 *= a2 > 0
        grads[2], grads[3] = g2.T @ a1, g2.sum(axis=0)
        g1 = g2 @ w2
        g1 *= a1 > 0
        grads[0], grads[1] = g1.T @ x, g1.sum(axis=0)
        for p, g, buf in zip(params, grads, buffers):
            buf *= MOMENTUM
            buf += g
            p -= LR * buf
        return loss

    return step
