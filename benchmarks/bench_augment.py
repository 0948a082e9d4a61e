"""Time augmentation of one batch of MNIST-sized images (128 x 1 x 28 x 28, float32).

Run: ``python benchmarks/bench_augment.py`` (add ``--repeats 200`` for steadier numbers).
Prints the median and 10th/90th percentiles over repeats, measured with time.perf_counter.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from chainrule.data import transforms as T


def _time(function, batch: np.ndarray, labels: np.ndarray, repeats: int) -> np.ndarray:
    pair = getattr(function, "batch_pair", False)
    for _ in range(3):  # warm up caches and allocator
        function(batch, labels) if pair else function(batch)
    times = np.empty(repeats)
    for k in range(repeats):
        start = time.perf_counter()
        function(batch, labels) if pair else function(batch)
        times[k] = time.perf_counter() - start
    return times * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="10 repeats")
    args = parser.parse_args()
    if args.quick:
        args.repeats = 10

    rng = np.random.default_rng(0)
    batch = rng.random((args.batch, 1, args.size, args.size), dtype=np.float32)
    labels = rng.integers(0, 10, size=args.batch)
    cases = {
        "RandomAffine + RandomHorizontalFlip": T.Compose([
            T.RandomAffine(15, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=10, seed=0),
            T.RandomHorizontalFlip(0.5, seed=1),
        ]),
        "RandomAffine": T.RandomAffine(15, translate=(0.1, 0.1), scale=(0.9, 1.1), seed=0),
        "RandomRotation": T.RandomRotation(15, seed=0),
        "RandomHorizontalFlip": T.RandomHorizontalFlip(0.5, seed=0),
        "RandomCrop(padding=4)": T.RandomCrop(args.size, padding=4, seed=0),
        "RandomResizedCrop": T.RandomResizedCrop(args.size, seed=0),
        "Resize(2x, bilinear)": T.Resize(2 * args.size),
        "GaussianNoise": T.GaussianNoise(0.1, seed=0),
        "RandomErasing": T.RandomErasing(p=0.5, seed=0),
        "Normalize": T.Normalize(0.1307, 0.3081),
        "MixUp": T.MixUp(1.0, num_classes=10, seed=0),
        "CutMix": T.CutMix(1.0, num_classes=10, seed=0),
    }
    print(f"batch {args.batch} x 1 x {args.size} x {args.size} float32, "
          f"{args.repeats} repeats (ms)")
    print(f"{'transform':40s} {'median':>8s} {'p10':>8s} {'p90':>8s}")
    for name, function in cases.items():
        times = _time(function, batch, labels, args.repeats)
        p10, median, p90 = np.percentile(times, [10, 50, 90])
        print(f"{name:40s} {median:8.3f} {p10:8.3f} {p90:8.3f}")


if __name__ == "__main__":
    main()
