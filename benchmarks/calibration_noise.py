#!/usr/bin/env python3
"""How well can n held-out labels calibrate a saved model? One command, a table.

    python benchmarks/bench_learning.py --seeds 1 --presses 1 --keep runs   # a checkpoint
    python benchmarks/calibration_noise.py runs/queue-seed1/ssvae.ckpt

Prints the test ECE (15 bins) at the checkpoint's temperature and at the test split's own
best one (the floor of temperature scaling for these weights), then, for n in --sizes, the
ECE reached by the temperature fitted on n random test labels (--draws draws): its median,
90th percentile and how often it is above 5 %. The check labels a session calibrates on
are such a random sample, so this is the noise of that fit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import ssvae  # noqa: F401
except ImportError:  # run from a checkout: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from ssvae.data.datasets import load_dataset
from ssvae.io.checkpoint import load_checkpoint
from ssvae.nn.model import class_logits
from ssvae.nn.restore import build_model
from ssvae.train.calibration import expected_calibration_error, fit_temperature, softmax


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--sizes", default="22,50,100,200")
    parser.add_argument("--draws", type=int, default=100)
    args = parser.parse_args()
    ds = load_dataset(args.dataset, args.data_dir, download=False)
    ckpt = load_checkpoint(args.checkpoint, dataset=ds.name)
    if ckpt is None:
        sys.exit(f"no checkpoint at {args.checkpoint}")
    model, _ = build_model(ckpt)
    logits = class_logits(model, ds.test_images)
    targets = np.asarray(ds.test_targets)

    def ece(temperature: float) -> float:
        probs = softmax(logits, temperature)
        return expected_calibration_error(probs.max(1), probs.argmax(1) == targets)

    best = fit_temperature(logits, targets)
    print(f"accuracy {(logits.argmax(1) == targets).mean():.1%}; "
          f"ECE {ece(ckpt.temperature):.1%} at its T {ckpt.temperature:.2f}, "
          f"{ece(best):.1%} at the test split's T {best:.2f}")  # fmt: skip
    print(f"{'n':>5} {'median':>7} {'p90':>7} {'> 5 %':>7}")
    rng = np.random.default_rng(0)
    for n in (int(s) for s in args.sizes.split(",")):
        fits = [rng.choice(len(targets), n, replace=False) for _ in range(args.draws)]
        errors = np.array([ece(fit_temperature(logits[i], targets[i])) for i in fits])
        print(f"{n:>5} {np.median(errors):>7.1%} {np.percentile(errors, 90):>7.1%} "
              f"{(errors > 0.05).mean():>7.0%}")  # fmt: skip


if __name__ == "__main__":
    main()
