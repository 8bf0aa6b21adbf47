#!/usr/bin/env python3
"""Benchmark the ssvae library alone (no server): speed, memory and what 100 labels buy.

    python benchmarks/bench_library.py                 # Fashion-MNIST 60k, ~5-10 min on 2 cores
    python benchmarks/bench_library.py --quick         # tiny settings: checks that it runs
    python benchmarks/bench_library.py --epochs 5      # shorter accuracy runs

Prints one table: seconds per epoch at batch 128 and 512, seconds for predict() over
the whole training split with and without reconstructions, test accuracy after
--epochs epochs with 100 labels (10 per class, fixed seed) and with every label, and
the peak RSS of the process. Default config (dense 256-128-64, 2-D latent).
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

try:
    import ssvae  # noqa: F401
except ImportError:  # run from a checkout: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from ssvae.config import SSVAEConfig
from ssvae.data.datasets import DATASETS, Dataset, load_dataset
from ssvae.nn.model import predict
from ssvae.records.events import EpochRecord, TrainingCallback
from ssvae.train.device import describe_device, pick_device
from ssvae.train.trainer import InteractiveTrainer


class EpochTimes(TrainingCallback):
    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_epoch_end(self, event: EpochRecord) -> None:
        self.seconds.append(event.seconds)


def per_class_labels(targets: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """-1 everywhere except `per_class` random rows of each class (fixed by `seed`)."""
    rng = np.random.default_rng(seed)
    labels = np.full(len(targets), -1, dtype=np.int64)
    for c in range(10):
        rows = np.flatnonzero(targets == c)
        pick = rng.choice(rows, size=min(per_class, len(rows)), replace=False)
        labels[pick] = c
    return labels


def time_epoch(ds: Dataset, labels: np.ndarray, batch_size: int, device: torch.device) -> float:
    trainer = InteractiveTrainer(SSVAEConfig(batch_size=batch_size), device)
    times = EpochTimes()
    trainer.train(ds.train_images, labels, epochs=1, callbacks=[times])
    return times.seconds[0]


def time_predict(ds: Dataset, device: torch.device, reconstruct: bool) -> float:
    trainer = InteractiveTrainer(SSVAEConfig(), device)
    predict(trainer.model, ds.train_images[:256], reconstruct=reconstruct)  # warm-up
    started = time.perf_counter()
    predict(trainer.model, ds.train_images, reconstruct=reconstruct)
    return time.perf_counter() - started


def accuracy_after(ds: Dataset, labels: np.ndarray, epochs: int, device: torch.device) -> float:
    trainer = InteractiveTrainer(SSVAEConfig(patience=0), device)  # run every epoch asked for
    result = trainer.train(ds.train_images, labels, epochs=epochs)
    if result.status != "completed":
        return float("nan")
    out = predict(trainer.model, ds.test_images, reconstruct=False)
    return float((out.pred_class == ds.test_targets).mean())


def shrink(ds: Dataset, n_train: int, n_test: int) -> Dataset:
    return Dataset(
        ds.name,
        ds.train_images[:n_train],
        ds.train_targets[:n_train],
        ds.test_images[:n_test],
        ds.test_targets[:n_test],
        ds.class_names,
        f"{ds.source} (first {n_train}/{n_test})",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="fashion-mnist", choices=(*DATASETS, "auto"))
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--epochs", type=int, default=20, help="epochs of the accuracy runs")
    parser.add_argument("--quick", action="store_true", help="2,000 images, 1 epoch: a smoke run")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--device", default=None, help="auto (default), cpu or cuda[:N]")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    started = time.perf_counter()
    ds = load_dataset(args.dataset, args.data_dir)
    load_seconds = time.perf_counter() - started
    loaded = f"load the dataset ({ds.n_train:,} + {len(ds.test_images):,} images)"
    epochs = args.epochs
    if args.quick:
        ds, epochs = shrink(ds, 2000, 500), 1
    few = per_class_labels(ds.train_targets, 10)
    print(f"# ssvae library benchmark: {ds.name}, {ds.n_train} train / {len(ds.test_images)} test")
    print(f"# source: {ds.source}")
    print(f"# device: {describe_device(device)}; torch {torch.__version__}; {platform.machine()}")
    rows: list[tuple[str, str]] = [(loaded, f"{load_seconds:.2f} s")]
    for batch in (128, 512):
        seconds = time_epoch(ds, few, batch, device)
        rows.append(
            (
                f"one epoch, batch {batch} (100 labels mixed in, incl. validation)",
                f"{seconds:.2f} s",
            )
        )
    for reconstruct in (True, False):
        seconds = time_predict(ds, device, reconstruct)
        what = "with" if reconstruct else "without"
        rows.append(
            (f"predict() all {ds.n_train} images, {what} reconstructions", f"{seconds:.3f} s")
        )
    acc_few = accuracy_after(ds, few, epochs, device)
    rows.append(
        (f"test accuracy after {epochs} epochs, {int((few >= 0).sum())} labels", f"{acc_few:.4f}")
    )
    acc_all = accuracy_after(ds, ds.train_targets.astype(np.int64), epochs, device)
    rows.append((f"test accuracy after {epochs} epochs, all {ds.n_train} labels", f"{acc_all:.4f}"))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    rows.append(("peak RSS of this process", f"{peak_mb:.0f} MB"))
    width = max(len(name) for name, _ in rows)
    print(f"| {'measure'.ljust(width)} | value |")
    print(f"| {'-' * width} | ----- |")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
