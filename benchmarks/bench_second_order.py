"""Second-order methods on the moons MLP (2-32-32-2, 1,218 parameters, 200 points, float64).

1. The full Hessian of the cross-entropy: chainrule's batched double backward
   (``autograd.batched.hessian_matrix``) against one Hessian-vector product per parameter
   (chainrule's old way), PyTorch's ``torch.func.hessian`` (vmapped forward-over-reverse) and
   JAX's ``jax.hessian`` under ``jit``, in alternating rounds (medians).
2. Full-batch training to a loss of 0.05: iterations and wall time of chainrule's Newton (trust
   region), Gauss–Newton, L-BFGS and Adam (lr 0.01); the issue's target is ≤ 30 iterations and
   ≤ 10 s for Newton and Gauss–Newton.

PyTorch and JAX are optional: without them their rows are skipped with a line.

Run: python benchmarks/bench_second_order.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _timing import alternate

import chainrule as cr
from chainrule import models, optim
from chainrule.autograd.batched import hessian_matrix
from chainrule.data import datasets
from chainrule.nn import functional as F
from chainrule.optim import _flat

TARGET = 0.05


def problem(seed: int = 0):
    train, _ = datasets.moons(n_samples=250, seed=seed)
    x, y = train.tensors
    cr.manual_seed(seed)
    net = models.mlp(2, (32, 32), 2).to(cr.float64)
    return net, x.to(cr.float64), y


def chainrule_hessians(net, x, y):
    params = list(net.parameters())

    def batched():
        grads = cr.grad(F.cross_entropy(net(x), y), params, create_graph=True)
        return hessian_matrix(grads, params)

    def column_by_column():
        grads = list(cr.grad(F.cross_entropy(net(x), y), params, create_graph=True))
        size = _flat.numel(params)
        rows, unit = np.empty((size, size)), np.zeros(size)
        for k in range(size):
            unit[k] = 1.0
            rows[k] = _flat.hessian_vector_product(grads, params, unit)
            unit[k] = 0.0
        return rows

    return batched, column_by_column


def torch_hessian(net, x, y):
    try:
        import torch
        from torch.func import functional_call, hessian
    except ImportError:
        print("PyTorch is not installed: its Hessian row is skipped")
        return None
    module = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(2, 32), torch.nn.ReLU(),
                                 torch.nn.Linear(32, 32), torch.nn.ReLU(),
                                 torch.nn.Linear(32, 2)).double()
    names = [name for name, _ in module.named_parameters()]
    values = [torch.tensor(p.data) for p in net.parameters()]
    sizes = [v.numel() for v in values]
    flat = torch.cat([v.reshape(-1) for v in values])
    tx, ty = torch.tensor(x.data), torch.tensor(y.data)

    def loss(vector):
        pieces = torch.split(vector, sizes)
        params = {n: piece.reshape(v.shape) for n, piece, v in zip(names, pieces, values)}
        return torch.nn.functional.cross_entropy(functional_call(module, params, (tx,)), ty)

    compute = hessian(loss)
    return lambda: compute(flat)


def jax_hessian(net, x, y):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        print("JAX is not installed (pip install jax): its Hessian row is skipped")
        return None
    jax.config.update("jax_enable_x64", True)
    shapes = [p.shape for p in net.parameters()]
    sizes = [int(np.prod(s)) for s in shapes]
    flat = jnp.asarray(np.concatenate([p.data.reshape(-1) for p in net.parameters()]))
    jx, jy = jnp.asarray(x.data), jnp.asarray(y.data)

    def loss(vector):
        pieces, offset = [], 0
        for shape, size in zip(shapes, sizes):
            pieces.append(vector[offset:offset + size].reshape(shape))
            offset += size
        w1, b1, w2, b2, w3, b3 = pieces
        h = jax.nn.relu(jx @ w1.T + b1)
        h = jax.nn.relu(h @ w2.T + b2)
        logits = h @ w3.T + b3
        return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(len(jy)), jy])

    compiled = jax.jit(jax.hessian(loss))
    return lambda: compiled(flat).block_until_ready()


def hessian_section(rounds: int) -> dict[str, float]:
    net, x, y = problem()
    batched, column_by_column = chainrule_hessians(net, x, y)
    reference = column_by_column()
    error = np.abs(batched() - 0.5 * (reference + reference.T)).max()
    contenders = {"chainrule batched": batched, "chainrule column by column": column_by_column}
    for name, make in (("PyTorch torch.func.hessian", torch_hessian),
                       ("JAX jit(hessian)", jax_hessian)):
        fn = make(net, x, y)
        if fn is not None:
            contenders[name] = fn
            np.testing.assert_allclose(np.asarray(fn()), reference, atol=1e-10)
    times = alternate(contenders, rounds=rounds, repeat=1, warmup=1)
    print(f"\nFull Hessian of the moons MLP (1,218 parameters, 200 points, float64); batched vs "
          f"column by column max |difference| {error:.1e}")
    print("| Hessian | seconds | ratio to chainrule batched |\n|---|---:|---:|")
    for name, seconds in times.items():
        print(f"| {name} | {seconds:.3f} | {seconds / times['chainrule batched']:.2f} |")
    return times


METHODS = {
    "Newton (trust region)": (lambda p: optim.Newton(p, adaptive_damping=True, damping=1e-3),
                              30),
    "Gauss-Newton": (lambda p: optim.GaussNewton(p), 30),
    # 5 iterations per call: PyTorch's L-BFGS, which chainrule's follows, can stall at 1
    "L-BFGS (strong Wolfe)": (lambda p: optim.LBFGS(p, max_iter=5, history_size=20,
                                                    line_search_fn="strong_wolfe"), 100),
    "Adam (lr 0.01)": (lambda p: optim.Adam(p, lr=0.01), 3000),
}


def to_target(name: str) -> tuple[int | None, float, float]:
    """(iterations, seconds, final loss) of ``name`` until the loss is ≤ TARGET."""
    make, budget = METHODS[name]
    net, x, y = problem()
    params = list(net.parameters())
    opt = make(params)
    with_output = getattr(opt, "closure_returns_output", False)

    def closure():
        opt.zero_grad()
        output = net(x)
        loss = F.cross_entropy(output, y)
        loss.backward()
        return (loss, output) if with_output else loss

    started, loss = time.perf_counter(), float(F.cross_entropy(net(x), y))
    for call in range(1, budget + 1):
        if name.startswith("Adam"):
            closure()
            opt.step()
        else:
            opt.step(closure)
        with cr.no_grad():
            loss = float(F.cross_entropy(net(x), y))
        if loss <= TARGET:
            iterations = opt.state[params[0]]["n_iter"] if name.startswith("L-BFGS") else call
            return iterations, time.perf_counter() - started, loss
    return None, time.perf_counter() - started, loss


def training_section(repeats: int) -> None:
    print(f"\nFull-batch training of the moons MLP to a loss of {TARGET} (median of {repeats} "
          "runs; iterations are steps, for L-BFGS one iteration with its line search)")
    print("| method | iterations | seconds | final loss |\n|---|---:|---:|---:|")
    for name in METHODS:
        results = [to_target(name) for _ in range(repeats)]
        seconds = float(np.median([r[1] for r in results]))
        iterations, _, loss = results[0]
        shown = iterations if iterations is not None else f"> {METHODS[name][1]}"
        print(f"| {name} | {shown} | {seconds:.2f} | {loss:.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    hessian_section(rounds=3 if args.quick else 7)
    training_section(repeats=1 if args.quick else 3)


if __name__ == "__main__":
    main()
