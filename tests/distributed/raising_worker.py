"""Run under ``mpiexec -n 2`` by tests/distributed/test_failures.py: rank 1 raises in the middle
of training while rank 0 waits for its gradients."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from chainrule import distributed  # noqa: E402
from chainrule.data import DataLoader  # noqa: E402
from chainrule.distributed import DistributedDataParallel, DistributedSampler  # noqa: E402
from chainrule.train import LambdaCallback, fit  # noqa: E402
from tests.distributed import cases  # noqa: E402


def main() -> None:
    distributed.init()
    rank = distributed.rank()
    train_set, _ = cases.training_data("mlp")
    model = DistributedDataParallel(cases.model("mlp", seed=0))
    loader = DataLoader(train_set, cases.BATCH, sampler=DistributedSampler(train_set))

    def fail(state) -> None:
        if rank == 1 and state.step == 5:
            raise ValueError("the data of rank 1 is broken")

    fit(model, "cross_entropy", cases.optimizer("sgd", model.parameters()), loader,
        epochs=1000, callbacks=[LambdaCallback(on_batch_end=fail)])


if __name__ == "__main__":
    main()
