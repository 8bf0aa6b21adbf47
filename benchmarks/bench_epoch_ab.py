#!/usr/bin/env python3
"""One training epoch at batch 128: the model before the few-label options vs today's defaults.

    python benchmarks/bench_epoch_ab.py              # Fashion-MNIST 60k, 100 labels, 3 pairs
    python benchmarks/bench_epoch_ab.py --pairs 5 --batches 100   # time 100 batches only
    python benchmarks/bench_epoch_ab.py --set classifier_input=image   # an option's cost
    python benchmarks/bench_epoch_ab.py --before-set classifier_input=hidden   # vs the defaults
                                               # before the convolutional classifier

Runs A B A B ... in one process (A: LEGACY_DEFAULTS, the settings of checkpoints without
the new fields, with the `--before-set` settings when given; B: SSVAEConfig() today, with the
`--set` settings when given) and prints the
median seconds per epoch of each and the ratio B / A (the budget is 1.5). On a shared
machine the pairs share the noise.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

try:
    import ssvae  # noqa: F401
except ImportError:  # run from a checkout: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch

from alctl.cli.simulate_plan import parse_settings
from ssvae.config import LEGACY_DEFAULTS, SSVAEConfig
from ssvae.data.datasets import load_dataset
from ssvae.nn.model import SSVAE
from ssvae.train.batches import TrainingData
from ssvae.train.session_loop import batch_loss
from ssvae.train.trainer import make_optimizer


def time_epoch(config: SSVAEConfig, data: TrainingData, batches: int | None) -> float:
    """Seconds for one epoch (or its first `batches` batches, scaled to a whole epoch)."""
    torch.manual_seed(0)
    model = SSVAE(config)
    optimizer = make_optimizer(model, config)
    generator = torch.Generator().manual_seed(0)
    total = data.batches_per_epoch(config.batch_size)
    n = min(batches or total, total)
    stream = data.train_batches(
        config.batch_size, config.labeled_batch_size, generator, config.augment_labeled
    )
    started = time.perf_counter()
    for _, (x, y, spread) in zip(range(n), stream, strict=False):
        terms = batch_loss(model, x, y, config, generator, None, spread)
        optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
    return (time.perf_counter() - started) * total / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--batches", type=int, default=None, help="time only this many")
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument(
        "--set", default="", help="B's settings beyond the defaults: KEY=VALUE[,KEY=VALUE...]"
    )
    parser.add_argument("--before-set", default="", help="A's settings beyond the legacy ones")
    args = parser.parse_args()
    ds = load_dataset("fashion-mnist", args.data_dir, download=False)
    labels = np.full(ds.n_train, -1, np.int64)
    pick = np.random.default_rng(0).permutation(ds.n_train)[:100]
    labels[pick] = ds.train_targets[pick]
    before_set = parse_settings([i for i in args.before_set.split(",") if i])
    old = SSVAEConfig(**{**LEGACY_DEFAULTS, **before_set})
    new = SSVAEConfig().replace(**parse_settings([i for i in args.set.split(",") if i]))
    data = TrainingData.build(
        ds.train_images, labels, val_split=new.val_split, seed=0, device=torch.device("cpu")
    )
    times: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(args.pairs):
        times["before"].append(time_epoch(old, data, args.batches))
        times["after"].append(time_epoch(new, data, args.batches))
    before, after = statistics.median(times["before"]), statistics.median(times["after"])
    print("### One epoch at batch 128, Fashion-MNIST 60k (median of A B pairs)\n")
    print("| model | s / epoch | runs |")
    print("|---|---|---|")
    after_name = f"after (defaults, {args.set})" if args.set else "after (defaults)"
    before_name = f"before (legacy, {args.before_set})" if args.before_set else "before (legacy)"
    for name, value in ((before_name, before), (after_name, after)):
        runs = ", ".join(f"{t:.2f}" for t in times[name.split()[0]])
        print(f"| {name} | {value:.2f} | {runs} |")
    print(f"\nratio after / before: {after / before:.2f} (budget 1.5)")


if __name__ == "__main__":
    main()
