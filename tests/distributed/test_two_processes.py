"""Two processes (``mpiexec -n 2``, tests/distributed/mpi_worker.py) against one: training with
DistributedDataParallel + DistributedSampler (+ SyncBatchNorm) equals one process training on
the combined batches, the gradients of no_sync accumulation and of SyncBatchNorm equal those of
one process, and the wrap-time checks catch what they should. The references are computed here,
in this process, without chainrule.distributed."""

from __future__ import annotations

import ast

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.data import DataLoader
from chainrule.nn import functional as F
from chainrule.train import fit
from tests.distributed import cases
from tests.distributed.mpi import run_once

TOLERANCE = 1e-6  # the bound; the differences are ~1e-15 (float64 rounding)


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    folder = run_once(tmp_path_factory, "worker", "tests/distributed/mpi_worker.py")
    return ([dict(np.load(folder / f"rank-{r}.npz")) for r in range(2)],
            [ast.literal_eval((folder / f"messages-{r}.txt").read_text()) for r in range(2)])


def _one_process(kind: str, optimizer_name: str):
    train_set, val_set = cases.training_data(kind)
    model = cases.model(kind, seed=100)  # rank 0's initialization, which the wrap copied
    opt = cases.optimizer(optimizer_name, model.parameters())
    loader = DataLoader(train_set, 2 * cases.BATCH, shuffle=True, seed=cases.SEED)
    history = fit(model, "cross_entropy", opt, loader, DataLoader(val_set, 13),
                  epochs=cases.EPOCHS)
    return model.state_dict(), history


@pytest.mark.parametrize("kind,optimizer_name", cases.RUNS)
def test_two_processes_train_as_one_process_on_the_combined_batch(ranks, kind, optimizer_name):
    found, _ = ranks
    name = cases.run_name(kind, optimizer_name)
    state, history = _one_process(kind, optimizer_name)
    worst = 0.0
    for key, expected in state.items():
        for rank in range(2):  # both copies, also the BatchNorm running statistics
            got = found[rank][f"{name}/state/{key}"]
            assert got.shape == expected.shape
            worst = max(worst, float(np.max(np.abs(got - expected))))
    assert worst < TOLERANCE, f"{name}: max |2 processes - 1 process| = {worst:.3g}"
    for column in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
        # the metrics are averaged over the ranks, weighted by their samples
        np.testing.assert_allclose(found[0][f"{name}/history/{column}"], history[column],
                                   rtol=1e-9, atol=1e-12, err_msg=f"{name} {column}")
        np.testing.assert_array_equal(found[0][f"{name}/history/{column}"],
                                      found[1][f"{name}/history/{column}"])


def test_no_sync_accumulates_locally_and_the_next_backward_averages_the_sum(ranks):
    found, _ = ranks
    dataset = cases.data(20, False, seed=4)
    x, y = dataset.arrays
    model = cases.model("mlp", seed=1)
    for part in range(2):  # one process: each micro-batch's mean loss over both ranks' rows
        rows = slice(10 * part, 10 * part + 10)
        F.cross_entropy(model(cr.from_numpy(x[rows])), cr.from_numpy(y[rows])).backward()
    for name, param in model.named_parameters():
        for rank in range(2):
            np.testing.assert_allclose(found[rank][f"accumulate/grad/{name}"], param.grad.data,
                                       rtol=1e-12, atol=1e-14)
    local = cases.model("mlp", seed=1)  # under no_sync rank 1 keeps its own gradient
    F.cross_entropy(local(cr.from_numpy(x[5:10])), cr.from_numpy(y[5:10])).backward()
    np.testing.assert_allclose(found[1]["accumulate/local"], local[0].weight.grad.data,
                               rtol=1e-12)


def _one_batch_norm():
    inputs = [cases.sync_bn_inputs(rank) for rank in range(2)]
    gamma, beta = cases.bn_affine()
    layer = nn.BatchNorm2d(3, momentum=0.3).double()
    layer.weight.data[...], layer.bias.data[...] = gamma, beta
    x = cr.from_numpy(np.concatenate([i for i, _ in inputs])).requires_grad_()
    weights = cr.from_numpy(np.concatenate([w for _, w in inputs]))
    (first,) = cr.autograd.grad((layer(x) * weights).sum(), x, create_graph=True)
    (first * first).sum().backward()
    grad_grad_weight = layer.weight.grad.data.copy()
    layer.weight.grad = None
    x.grad = None
    layer2 = nn.BatchNorm2d(3, momentum=0.3).double()  # fresh running statistics...
    layer2.load_state_dict(layer.state_dict())  # ...as after the worker's first forward
    y = layer2(x)
    (y * weights).sum().backward()
    return layer2, x, y, grad_grad_weight, len(inputs[0][0])


def test_sync_batch_norm_forward_and_backward_equal_batch_norm_on_the_combined_batch(ranks):
    found, _ = ranks
    layer, x, y, grad_grad_weight, first = _one_batch_norm()
    shards = [slice(0, first), slice(first, None)]
    for rank in range(2):
        got = found[rank]
        np.testing.assert_allclose(got["syncbn/output"], y.data[shards[rank]], atol=1e-12)
        np.testing.assert_allclose(got["syncbn/grad_input"], x.grad.data[shards[rank]],
                                   atol=1e-12)
        np.testing.assert_allclose(got["syncbn/running_mean"], layer.running_mean.data,
                                   atol=1e-12)
        np.testing.assert_allclose(got["syncbn/running_var"], layer.running_var.data,
                                   atol=1e-12)
        np.testing.assert_allclose(got["syncbn/eval"], layer.eval()(x).data[shards[rank]],
                                   atol=1e-12)
    # γ's and β's gradients are each rank's share (DistributedDataParallel averages them)
    for name, expected in (("weight", layer.weight.grad.data), ("bias", layer.bias.grad.data),
                           ("grad_weight", grad_grad_weight)):
        key = "syncbn/grad_grad_weight" if name == "grad_weight" else f"syncbn/grad_{name}"
        np.testing.assert_allclose(found[0][key] + found[1][key], expected, atol=1e-11)


def test_the_wrap_detects_models_that_differ_across_ranks(ranks):
    _, messages = ranks
    for rank in range(2):  # every rank raises the same error, so none is left waiting
        text = messages[rank]["mismatch"]
        assert "rank 1 differs from rank 0's" in text and "(9, 6)" in text and "(8, 6)" in text


def test_a_parameter_without_gradient_is_named_at_the_next_forward(ranks):
    _, messages = ranks
    assert "unused.weight, unused.bias" in messages[0]["unused"]
    assert "used.weight" not in messages[0]["unused"].replace("unused.weight", "")


def test_a_training_forward_copies_rank_0s_buffers(ranks):
    found, _ = ranks
    for rank in range(2):
        np.testing.assert_array_equal(found[rank]["buffers/running_mean"], [1.0, 1.0])
