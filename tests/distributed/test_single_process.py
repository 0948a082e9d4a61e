"""chainrule.distributed in one process: importing it loads no MPI, SyncBatchNorm is BatchNorm,
the converter keeps the parameters, and a job of one leaves training as it is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.distributed import SyncBatchNorm, find_mpiexec, launched
from tests.distributed.mpi import ENV


def test_importing_chainrule_and_its_distributed_package_does_not_import_mpi4py():
    code = ("import sys, chainrule, chainrule.distributed, chainrule.cli, chainrule.train; "
            "print('mpi4py' in sys.modules, any(m.startswith('mpi4py') for m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.split() == ["False", "False"], done.stderr


def test_a_job_of_one_process_trains_as_without_wrapping():
    pytest.importorskip("mpi4py")
    code = """
import numpy as np, chainrule as cr
from chainrule import distributed, nn
from chainrule.nn import functional as F
try:
    distributed.rank()
except RuntimeError as error:
    print("before init:", error)
distributed.init()
print("rank", distributed.rank(), "of", distributed.world_size())
x, y = cr.randn(8, 3), cr.tensor([0, 1] * 4)
cr.manual_seed(1); plain = nn.Linear(3, 2)
cr.manual_seed(1); wrapped = distributed.DistributedDataParallel(nn.Linear(3, 2))
for model in (plain, wrapped):
    F.cross_entropy(model(x), y).backward()
same = all(np.array_equal(p.grad.data, q.grad.data)
           for p, q in zip(plain.parameters(), wrapped.parameters()))
print("same gradients", same, sorted(wrapped.state_dict()) == sorted(plain.state_dict()))
print(wrapped.average_over_processes({"train_loss": 2.5, "epoch": 1}, {"train_": 8}))
"""
    done = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True,
                          timeout=60)
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    assert lines[0].startswith("before init: chainrule.distributed is not initialized: call "
                               "chainrule.distributed.init() first")
    assert lines[1:] == ["rank 0 of 1", "same gradients True True",
                         "{'train_loss': 2.5, 'epoch': 1}"]


@pytest.mark.parametrize("shape", [(6, 4), (6, 4, 3), (5, 4, 3, 3)])
def test_sync_batch_norm_outside_a_job_is_batch_norm(shape):
    x = np.random.default_rng(0).normal(size=shape)
    reference = (nn.BatchNorm1d(4) if len(shape) < 4 else nn.BatchNorm2d(4)).double()
    synced = SyncBatchNorm(4, momentum=0.1).double()
    for layer in (reference, synced):
        layer.weight.data[...] = np.arange(1.0, 5.0)
    outputs, grads = [], []
    for layer in (reference, synced):
        inputs = cr.from_numpy(x.copy()).requires_grad_()
        out = layer(inputs)
        (out * out).sum().backward()
        outputs.append(out.data)
        grads.append((inputs.grad.data, layer.weight.grad.data))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    for ours, theirs in zip(grads[0], grads[1]):
        np.testing.assert_array_equal(ours, theirs)
    assert reference.state_dict().keys() == synced.state_dict().keys()
    for key, value in reference.state_dict().items():
        np.testing.assert_array_equal(value, synced.state_dict()[key])
    np.testing.assert_array_equal(reference.eval()(cr.from_numpy(x)).data,
                                  synced.eval()(cr.from_numpy(x)).data)


def test_the_converter_replaces_every_batch_norm_and_keeps_its_tensors():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(2, 3),
                          nn.BatchNorm1d(3, momentum=None, eps=1e-3))
    model.eval()
    before = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    converted = SyncBatchNorm.convert_sync_batchnorm(model)
    assert converted is model
    assert [type(m).__name__ for m in model] == ["Conv2d", "SyncBatchNorm", "Flatten",
                                                 "Linear", "SyncBatchNorm"]
    assert all(before[name] is param for name, param in model.named_parameters())
    assert all(buffers[name] is b for name, b in model.named_buffers())
    assert (model[4].momentum, model[4].eps, model[4].training) == (None, 1e-3, False)
    alone = SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm1d(5).double())
    assert isinstance(alone, SyncBatchNorm) and alone.weight.dtype == np.float64


def test_sync_batch_norm_names_a_wrong_input():
    with pytest.raises(ValueError, match="expected 4 channels"):
        SyncBatchNorm(4)(cr.randn(3, 5))
    with pytest.raises(ValueError, match="expected 2D or 3D or 4D or 5D input"):
        SyncBatchNorm(4)(cr.randn(4))


def test_launched_reads_the_environment(monkeypatch):
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert not launched()
    monkeypatch.setenv("PMI_SIZE", "3")
    assert launched()
    monkeypatch.setenv("PMI_SIZE", "1")
    assert not launched()


def test_mpiexec_is_found_beside_this_python_first():
    found = find_mpiexec()
    beside = Path(sys.executable).parent / "mpiexec"
    if beside.is_file():
        assert found == str(beside)
    else:
        assert found is None or found.endswith("mpiexec")


def test_fit_refuses_a_closure_optimizer_for_a_model_trained_in_several_processes():
    from chainrule import optim
    from chainrule.train import fit

    class Wrapped(nn.Linear):  # what fit looks for in a DistributedDataParallel model
        def average_over_processes(self, values, weights):
            return values

    model = Wrapped(2, 2)
    with pytest.raises(ValueError, match="LBFGS searches along a line .* train it in one "
                                         "process"):
        fit(model, "cross_entropy", optim.LBFGS(model.parameters()),
            [(cr.randn(4, 2), cr.tensor([0, 1, 0, 1]))], epochs=1)


def test_the_command_line_keeps_second_order_optimizers_in_one_process():
    from chainrule.cli import config, parallel

    processes = parallel.Processes()
    processes.check(config.resolve({"dataset": "moons", "optimizer": "lbfgs"}))  # one: fine
    processes.size = 2
    with pytest.raises(config.UsageError, match="--optimizer lbfgs trains full batch"):
        processes.check(config.resolve({"dataset": "moons", "optimizer": "lbfgs"}))
    processes.check(config.resolve({"dataset": "moons", "optimizer": "adam"}))
