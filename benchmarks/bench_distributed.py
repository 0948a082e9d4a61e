"""Data-parallel throughput of the CLI's CNN in 1 and 2 processes (chainrule.distributed, MPI).

The model is ``chainrule.models.cnn`` as ``chainrule train`` builds it (channels 32, 64, batch
norm, a dense layer of 128, Adam), on the bundled 8×8 digits scaled up to MNIST's 28×28
(nearest neighbour; no download). Each process trains on its shard with batches of ``--batch``
samples: in 2 processes a step takes 2·batch samples, with SyncBatchNorm and the gradients
averaged by DistributedDataParallel, as ``chainrule train --nproc 2`` trains.

Reported, as medians over timed windows of steps (every process waits at a barrier before and
after a window): the step time, the throughput in samples/s, the scaling efficiency
throughput(2) / (2·throughput(1)), and the time per step spent in the collectives (the gradient
buckets, SyncBatchNorm's sums and the buffer broadcast, including the wait for the slower
process) as a fraction of the step.

Every process uses ``--threads`` BLAS threads (default 1, in 1 process too: OpenBLAS's threads
spin while they wait for each other, and on a shared 2-core machine a second thread makes one
process slower, not faster; see PERFORMANCE.md).

Run: ``python benchmarks/bench_distributed.py`` (``--quick``: 8×8 inputs and a few steps, a
check that it runs). chainrule is imported as installed (``pip install -e '.[distributed]'``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np


def _worker(args) -> None:
    import chainrule as cr
    from chainrule import distributed, models, optim
    from chainrule.data import DataLoader, TensorDataset, datasets
    from chainrule.distributed import comm
    from chainrule.nn import functional as F

    distributed.init()
    rank, size = distributed.rank(), distributed.world_size()
    waited = [0.0]
    wait = comm._wait

    def timed_wait(request) -> None:  # the time in collectives, waiting included
        started = time.perf_counter()
        wait(request)
        waited[0] += time.perf_counter() - started

    comm._wait = timed_wait
    train, _ = datasets.digits()
    images = np.stack([train[i][0] for i in range(len(train))]).astype(np.float32)
    labels = np.array([int(train[i][1]) for i in range(len(train))], dtype=np.int64)
    scale = 1 if args.quick else 28 // 8 + 1
    images = images.repeat(scale, axis=2).repeat(scale, axis=3)
    side = 8 if args.quick else 28
    images = np.ascontiguousarray(images[:, :, :side, :side])
    cr.manual_seed(0)
    model = models.cnn(1, 10, (side, side), channels=[32, 64], batch_norm=True, hidden=128)
    if size > 1:
        model = distributed.SyncBatchNorm.convert_sync_batchnorm(model)
        model = distributed.DistributedDataParallel(model)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    dataset = TensorDataset(images, labels)
    loader = DataLoader(dataset, args.batch, sampler=distributed.DistributedSampler(dataset),
                        drop_last=True)
    batches = [(x, y) for x, y in loader]

    def step(x, y) -> None:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    for x, y in batches[:args.warmup]:
        step(x, y)
    windows = []
    position = 0
    for _ in range(args.windows):
        distributed.barrier()
        waited[0] = 0.0
        started = time.perf_counter()
        for _ in range(args.steps):
            x, y = batches[position % len(batches)]
            position += 1
            step(x, y)
        spent = waited[0]
        distributed.barrier()
        windows.append(((time.perf_counter() - started) / args.steps, spent / args.steps))
    gathered = distributed.all_gather_object(windows)
    if rank == 0:
        step_time = statistics.median(max(w[i][0] for w in gathered)
                                      for i in range(args.windows))
        comm_time = statistics.median(statistics.mean(w[i][1] for w in gathered)
                                      for i in range(args.windows))
        print(json.dumps({"processes": size, "step": step_time, "comm": comm_time,
                          "samples_per_s": size * args.batch / step_time,
                          "threads": os.environ.get("OPENBLAS_NUM_THREADS")}), flush=True)


def _run(processes: int, args) -> dict:
    from chainrule.distributed import find_mpiexec

    mpiexec = find_mpiexec()
    if mpiexec is None:
        sys.exit("bench_distributed: no mpiexec; pip install 'chainrule[distributed]'")
    environment = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads),
                       OMP_NUM_THREADS=str(args.threads))
    command = [mpiexec, "-n", str(processes), sys.executable, os.path.abspath(__file__),
               "--worker", "--batch", str(args.batch), "--steps", str(args.steps),
               "--windows", str(args.windows), "--warmup", str(args.warmup)]
    if args.quick:
        command.append("--quick")
    done = subprocess.run(command, env=environment, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"bench_distributed: {processes} process(es) failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8x8 inputs, a few steps")
    parser.add_argument("--batch", type=int, default=64, help="samples per process and step")
    parser.add_argument("--steps", type=int, default=None, help="steps per timed window")
    parser.add_argument("--windows", type=int, default=None, help="timed windows")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads per process")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.steps = args.steps or (3 if args.quick else 5)
    args.windows = args.windows or (3 if args.quick else 7)
    if args.worker:
        _worker(args)
        return
    results = [_run(n, args) for n in (1, 2)]
    one, two = results
    print(f"| processes | BLAS threads each | step (batch {args.batch} per process) | samples/s "
          "| collectives per step (share of the step) |")
    print("|---:|---:|---:|---:|---:|")
    for result in results:
        print(f"| {result['processes']} | {result['threads']} | {1e3 * result['step']:.1f} ms | "
              f"{result['samples_per_s']:.0f} | {1e3 * result['comm']:.2f} ms "
              f"({100 * result['comm'] / result['step']:.1f}%) |")
    efficiency = two["samples_per_s"] / (2 * one["samples_per_s"])
    print(f"\nscaling efficiency, 2 processes: {100 * efficiency:.0f}% "
          f"(speed-up {two['samples_per_s'] / one['samples_per_s']:.2f}x)")


if __name__ == "__main__":
    main()
