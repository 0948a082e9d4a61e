"""Run under ``mpiexec -n 2`` by tests/distributed/test_two_processes.py: training runs, the
gradient accumulation, SyncBatchNorm's forward and backward and the wrap-time checks, each
rank saving what it got to OUT/rank-R.npz (the tests compare them with one process)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import chainrule as cr  # noqa: E402
from chainrule import distributed, nn  # noqa: E402
from chainrule.data import DataLoader  # noqa: E402
from chainrule.distributed import DistributedDataParallel, DistributedSampler  # noqa: E402
from chainrule.distributed import SyncBatchNorm  # noqa: E402
from chainrule.nn import functional as F  # noqa: E402
from chainrule.train import fit  # noqa: E402
from tests.distributed import cases  # noqa: E402


def train(kind: str, optimizer_name: str, rank: int, found: dict) -> None:
    train_set, val_set = cases.training_data(kind)
    model = cases.model(kind, seed=100 + rank)  # different on each rank: the wrap copies rank 0's
    if kind != "mlp":
        model = SyncBatchNorm.convert_sync_batchnorm(model)
    cap = 1e-4 if kind == "cnn" else 25.0  # the cnn: one bucket per parameter
    wrapped = DistributedDataParallel(model, bucket_cap_mb=cap)
    opt = cases.optimizer(optimizer_name, wrapped.parameters())
    loader = DataLoader(train_set, cases.BATCH, sampler=DistributedSampler(train_set,
                                                                          seed=cases.SEED))
    val = DataLoader(val_set, 4, sampler=DistributedSampler(val_set, shuffle=False, pad=False))
    history = fit(wrapped, "cross_entropy", opt, loader, val, epochs=cases.EPOCHS)
    name = cases.run_name(kind, optimizer_name)
    for key, value in wrapped.state_dict().items():
        found[f"{name}/state/{key}"] = value
    for column in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
        found[f"{name}/history/{column}"] = np.array(history[column])


def accumulate(rank: int, found: dict) -> None:
    """Two micro-batches per rank, the first under no_sync, then one plain SGD step."""
    dataset = cases.data(20, False, seed=4)
    wrapped = DistributedDataParallel(cases.model("mlp", seed=1))
    for part in range(2):
        rows = slice(10 * part + 5 * rank, 10 * part + 5 * rank + 5)
        x, y = cr.from_numpy(dataset.arrays[0][rows]), cr.from_numpy(dataset.arrays[1][rows])
        if part == 0:
            with wrapped.no_sync():
                F.cross_entropy(wrapped(x), y).backward()
            found["accumulate/local"] = wrapped.module[0].weight.grad.data.copy()
        else:
            F.cross_entropy(wrapped(x), y).backward()
    for name, param in wrapped.module.named_parameters():
        found[f"accumulate/grad/{name}"] = param.grad.data.copy()


def sync_batch_norm(rank: int, found: dict) -> None:
    inputs, weights = cases.sync_bn_inputs(rank)
    gamma, beta = cases.bn_affine()
    layer = SyncBatchNorm(3, momentum=0.3).double()
    layer.weight.data[...], layer.bias.data[...] = gamma, beta
    x = cr.from_numpy(inputs).requires_grad_()
    y = layer(x)
    (first,) = cr.autograd.grad((y * cr.from_numpy(weights)).sum(), x, create_graph=True)
    (first * first).sum().backward()  # a gradient of the gradient, through the statistics
    found["syncbn/grad_grad_weight"] = layer.weight.grad.data.copy()
    layer.weight.grad = None
    x.grad = None
    y = layer(x)
    (y * cr.from_numpy(weights)).sum().backward()
    found.update({"syncbn/output": y.data, "syncbn/grad_input": x.grad.data,
                  "syncbn/grad_weight": layer.weight.grad.data,
                  "syncbn/grad_bias": layer.bias.grad.data,
                  "syncbn/running_mean": layer.running_mean.data,
                  "syncbn/running_var": layer.running_var.data,
                  "syncbn/eval": layer.eval()(x).data})


def checks(rank: int, found: dict) -> dict:
    messages = {}
    try:
        DistributedDataParallel(nn.Linear(6, 8 + rank).double())
    except distributed.DistributedError as error:
        messages["mismatch"] = str(error)
    wrapped = DistributedDataParallel(nn.ModuleDict({"used": nn.Linear(2, 1),
                                                     "unused": nn.Linear(2, 1)}))
    wrapped.module["used"](cr.ones(3, 2)).sum().backward()
    try:
        wrapped.forward()
    except RuntimeError as error:
        messages["unused"] = str(error)
    buffers = DistributedDataParallel(nn.BatchNorm1d(2))
    buffers.module.running_mean.data[...] = rank + 1.0
    buffers(cr.ones(4, 2))  # a training forward copies rank 0's buffers first
    found["buffers/running_mean"] = buffers.module.running_mean.data.copy()
    return messages


def main() -> None:
    out = Path(sys.argv[1])
    distributed.init()
    rank = distributed.rank()
    found: dict = {"world_size": np.array(distributed.world_size())}
    for kind, optimizer_name in cases.RUNS:
        train(kind, optimizer_name, rank, found)
    accumulate(rank, found)
    sync_batch_norm(rank, found)
    messages = checks(rank, found)
    np.savez(out / f"rank-{rank}.npz", **found)
    (out / f"messages-{rank}.txt").write_text(repr(messages))
    distributed.barrier()


if __name__ == "__main__":
    main()
