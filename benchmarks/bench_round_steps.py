#!/usr/bin/env python3
"""What a simulated round spends beyond training: the pipeline's steps, against one epoch.

    python benchmarks/bench_round_steps.py              # a 10k Fashion-MNIST pool, 3 repeats
    python benchmarks/bench_round_steps.py --quick      # generated data (smoke run)

One torch thread, as `alctl simulate` runs a run. Each repeat trains one epoch, then times
the steps `ssvae.runs.simulate.run_rounds` adds to it: the blind check on `--new` labels
the weights have not trained on, `evaluate` (the pool and the test split predicted once)
and the test split's raw logits for `ece_raw` / `ece_calibrated`. Prints the medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from common import FASHION_DIR, REPO, machine_load, markdown_table

sys.path.insert(0, str(REPO))


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="generated data")
    parser.add_argument("--pool", type=int, default=10_000)
    parser.add_argument("--new", type=int, default=20, help="labels not trained on yet")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch

    from ssvae.nn.model import class_logits
    from ssvae.runs.pipeline import blind_check, evaluate
    from ssvae.runs.simulate import Plan, pool_subset
    from ssvae.train.trainer import InteractiveTrainer

    torch.set_num_threads(1)
    if args.quick:
        from ssvae.data.synthetic import synthetic_dataset

        data = synthetic_dataset()
    else:
        from ssvae.data.datasets import load_dataset

        data = pool_subset(load_dataset("fashion-mnist", FASHION_DIR, download=False), args.pool)
    load_before = machine_load()
    trainer = InteractiveTrainer(Plan(["margin"]).config(0))
    order = np.random.default_rng(0).permutation(data.n_train)
    labels = np.full(data.n_train, -1, np.int64)
    times: dict[str, list[float]] = {}
    for repeat in range(args.repeats):
        # Each repeat: `--new` labels the weights have not trained on, as after a round.
        new = order[repeat * args.new : (repeat + 1) * args.new]
        labels[new] = data.train_targets[new]
        blind_s, blind = timed(
            lambda: blind_check(trainer.model, data.train_images, labels, trainer.trained_labels)
        )
        train_s, _ = timed(lambda: trainer.train(data.train_images, labels, epochs=1))
        eval_s, _ = timed(lambda b=blind: evaluate(trainer.model, data, labels, b))
        logits_s, _ = timed(lambda: class_logits(trainer.model, data.test_images))
        trainer.trained_labels = np.flatnonzero(labels >= 0).tolist()
        for name, seconds in (
            ("one epoch of training", train_s),
            (f"blind check ({args.new} new labels)", blind_s),
            ("evaluate (pool + test split predicted)", eval_s),
            ("test logits (ece_raw, ece_calibrated)", logits_s),
        ):
            times.setdefault(name, []).append(seconds)
    source = "generated squares" if args.quick else f"Fashion-MNIST, a pool of {data.n_train}"
    print(f"\n### a simulated round's steps, 1 torch thread, {source}, "
          f"{len(data.test_targets)} test images\n")  # fmt: skip
    rows = [[name, f"{statistics.median(s):.3f} s"] for name, s in times.items()]
    print(markdown_table(["step", f"median of {args.repeats}"], rows))
    print(f"\nbefore: {load_before}; after: {machine_load()}")


if __name__ == "__main__":
    main()
