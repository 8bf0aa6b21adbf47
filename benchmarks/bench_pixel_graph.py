#!/usr/bin/env python3
"""What label spreading costs at a session's start, and how right its targets are.

    python benchmarks/bench_pixel_graph.py                 # Fashion-MNIST 60k, the queue's 100
    python benchmarks/bench_pixel_graph.py --exact         # also the exact graph, for recall

One row per repeat: seconds to build the images' neighbour graph (ssvae.data.pixel_graph,
what the first session of a process pays), seconds to spread the labels (every session),
and on the training images: the spread class's accuracy over all of them and over the
targets a session uses (the most confident half of the unlabeled). Labels: the queue's first
`--n` picks without the check samples (a session holds those out), as the page gives them
(`--picks-cache` keeps them), or `--picks random`. `--exact` adds the exact graph (every pair
compared; about ten times slower) and the share of true neighbours the cell search finds.
Say the load; run it alone for the seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

try:
    import ssvae  # noqa: F401
except ImportError:  # run from a checkout: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from ssvae.config import N_CLASSES
from ssvae.data.datasets import load_dataset
from ssvae.data.pixel_features import pixel_pca
from ssvae.data.pixel_graph import (
    nearest,
    neighbour_graph,
    pixel_graph,
    spread_labels,
    spread_targets,
)
from ssvae.select.checks import check_mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--n", type=int, default=100, help="labels given")
    parser.add_argument("--picks", default="queue", help="queue or random")
    parser.add_argument("--picks-cache", default="", help="a folder to keep the queue's picks")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--exact", action="store_true")
    args = parser.parse_args()
    ds = load_dataset(args.dataset, args.data_dir, download=False)
    if args.picks == "queue":
        from bench_learning import picks_of

        picks = picks_of("queue", ds, args.n, 0, args.picks_cache)
    else:
        picks = np.random.default_rng(0).permutation(ds.n_train)[: args.n]
    trains = picks[~check_mask(ds.n_train)[picks]]
    labels = np.full(ds.n_train, -1, np.int64)
    labels[trains] = ds.train_targets[trains]
    truth = ds.train_targets
    print(f"{ds.name}: {ds.n_train} images, {len(trains)} labels that train ({args.picks}); "
          f"load {os.getloadavg()[0]:.1f}; {time.strftime('%Y-%m-%d %H:%M')}")  # fmt: skip
    print(f"{'graph':>6} {'build_s':>8} {'spread_s':>8} {'acc_all':>8} {'acc_targets':>11} "
          f"{'targets':>8}")  # fmt: skip
    kinds = ["cells", "exact"] if args.exact else ["cells"]
    for _ in range(args.repeats):
        for kind in kinds:  # A B alternating
            started = time.perf_counter()
            if kind == "cells":
                graph = pixel_graph(ds.train_images)
            else:
                graph = neighbour_graph(*nearest(pixel_pca(ds.train_images), exact_up_to=10**9))
            built = time.perf_counter() - started
            started = time.perf_counter()
            targets = spread_targets(graph, labels, N_CLASSES)
            spread = time.perf_counter() - started
            classes, _ = spread_labels(graph, labels, N_CLASSES)
            used = targets >= 0
            print(f"{kind:>6} {built:>8.1f} {spread:>8.1f} {(classes == truth).mean():>8.1%} "
                  f"{(targets[used] == truth[used]).mean():>11.1%} {int(used.sum()):>8}",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
