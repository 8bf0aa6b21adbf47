#!/usr/bin/env python3
"""The default path at 100 labels, one command: what a page user gets, and what it costs.

    python benchmarks/bench_learning.py                     # queue vs random, seed 0, 3 presses
    python benchmarks/bench_learning.py --seeds 0,1,2 --picks queue
    python benchmarks/bench_learning.py --set classifier_input=hidden,consistency_weight=0
    python benchmarks/bench_learning.py --picks all --presses 1      # the all-labels ceiling

Each run is the page's own path on Fashion-MNIST 60k: a fresh workspace (the new model's
settings are `default_config(dataset)`, with `--set` on top), the labels given by the oracle,
then `--presses` presses of Start training with the default epochs, each through the one
end-of-session pipeline (`ssvae.runs.pipeline.run_session`: calibration on the withheld check
labels, evaluation, checkpoint, history). `queue` labels the queue's first N picks as the
page takes them (the head of GET /api/queue, which it asks again after every label: "typical"
before any training, every 5th a random check sample), with the page protocol's own labeling
(`ssvae.runs.page_protocol.label_from_queue`, what `alctl simulate --protocol page` runs);
`random` N random images (seeded, no checks: `alctl simulate --protocol page --strategy
random` is the page's queue in random order, checks included); `all` every training
label. One row per press: test accuracy, ECE of the certainty the page and the queue use
(test set, 15 bins), the temperature and how many check labels it was fitted on, epochs run
(early stopping: patience), training seconds and the whole session's.
`--jsonl FILE` appends the rows as JSON too; each epoch's time goes to stderr as it ends.
`--threads 1` runs torch on one thread (a loaded machine wastes a second one waiting); the
default is torch's own choice. Run it nice'd and alone; say the load.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

try:
    import ssvae  # noqa: F401
except ImportError:  # run from a checkout: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch

from alctl.cli.simulate_plan import parse_settings
from ssvae.data.datasets import Dataset, load_dataset
from ssvae.data.pixel_features import PixelFeatures
from ssvae.records.events import EpochRecord, TrainingCallback
from ssvae.runs.page_protocol import label_from_queue, unlearnt_points
from ssvae.runs.pipeline import SessionFiles, open_trainer, run_session
from ssvae.runs.simulate import Oracle
from ssvae.select.ranking import DEFAULT_STRATEGY
from ssvae.select.representative import GROUPS, ClusterMemo

COLUMNS = (  # name, width, format of a value
    ("picks", 6, "{:<6}"), ("seed", 4, "{:>4}"), ("press", 5, "{:>5}"), ("labels", 6, "{:>6}"),
    ("epochs_run", 10, "{:>10}"), ("test_acc", 8, "{:>8.2%}"), ("test_ece", 8, "{:>8.2%}"),
    ("T", 6, "{:>6.2f}"), ("calib_n", 7, "{:>7}"), ("blind_acc", 10, "{:>10}"),
    ("train_s", 7, "{:>7.1f}"), ("session_s", 9, "{:>9.1f}"),
)  # fmt: skip


def queue_picks(ds: Dataset, n: int) -> np.ndarray:
    """The queue's first `n` picks on a fresh workspace, as the page protocol labels them."""
    features = PixelFeatures(ds.train_images).get()
    picks = label_from_queue(
        unlearnt_points(ds.n_train), Oracle(ds.train_targets), n, DEFAULT_STRATEGY,
        trained=False, memo=ClusterMemo(), features=features,
    )  # fmt: skip
    return np.sort(picks)


class EpochClock(TrainingCallback):
    """One stderr line per epoch: a long run shows how far it is."""

    def on_epoch_end(self, event: EpochRecord) -> None:
        print(f"  epoch {event.epoch} (global {event.global_epoch}): {event.seconds:.1f} s",
              file=sys.stderr, flush=True)  # fmt: skip


def picks_of(kind: str, ds: Dataset, n: int, seed: int, cache: str) -> np.ndarray:
    if kind == "queue":
        # The queue's picks depend on the images alone: computed once per (data, n), and per
        # order (picks a cache kept from before the groups were another order's).
        name = f"queue-picks-{ds.name}-{n}-groups{GROUPS}.npy"
        path = Path(cache) / name if cache else None
        if path is not None and path.is_file():
            return np.load(path)
        picks = queue_picks(ds, n)
        if path is not None:
            np.save(path, picks)
        return picks
    if kind == "random":
        return np.random.default_rng(seed).permutation(ds.n_train)[:n]
    return np.arange(ds.n_train)


def run(ds: Dataset, kind: str, picks: np.ndarray, seed: int, args: Any) -> list[dict[str, Any]]:
    labels = np.full(ds.n_train, -1, np.int64)
    labels[picks] = ds.train_targets[picks]
    explicit = {**parse_settings([s for s in args.set.split(",") if s]), "seed": seed}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # --keep DIR keeps each run's checkpoint: the same command again presses on from it.
        where = Path(args.keep) / f"{kind}-seed{seed}" if args.keep else Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        files = SessionFiles(ds.name, where / "ssvae.ckpt", where / "history.csv")
        # --threads fixes the trainer's own count too: else its policy follows the load, and
        # the sums' order (so the result, by points) with it.
        trainer = open_trainer(files.checkpoint, ds.name, explicit, threads=args.threads or None)
        done = len(trainer.sessions)
        for press in range(done + 1, done + args.presses + 1):
            epochs = args.epochs or trainer.config.max_epochs
            out = run_session(trainer, ds, labels, files, epochs=epochs, callbacks=[EpochClock()])
            ev = out.evaluation or {}
            entry = trainer.sessions[-1]
            blind = ev.get("blind_accuracy")
            rows.append({
                "picks": kind, "seed": seed, "press": press, "labels": int((labels >= 0).sum()),
                "epochs_run": out.result.epochs_run, "test_acc": ev.get("test_accuracy"),
                "test_ece": ev.get("test_ece"), "T": trainer.model.temperature,
                "calib_n": entry.get("calibration_labels", 0),
                "blind_acc": "-" if blind is None else f"{blind:.1%}/{ev.get('blind_n')}",
                "train_s": out.result.seconds, "session_s": out.seconds,
                "set": args.set, "status": out.result.status,
            })  # fmt: skip
            print_row(rows[-1])
            if args.jsonl:
                with open(args.jsonl, "a") as f:
                    f.write(json.dumps(rows[-1]) + "\n")
    return rows


def print_row(row: dict[str, Any]) -> None:
    cells = (
        fmt.format(row[name]) if row[name] is not None else f"{'-':>{width}}"
        for name, width, fmt in COLUMNS
    )
    print(" ".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--picks", default="queue,random", help="queue, random and/or all")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--n", type=int, default=100, help="labels (queue, random)")
    parser.add_argument("--presses", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=0, help="per press; 0: the default")
    parser.add_argument("--set", default="", help="settings on top of the defaults, a=1,b=2")
    parser.add_argument("--jsonl", default="")
    parser.add_argument("--threads", type=int, default=0, help="torch threads; 0: its default")
    parser.add_argument("--picks-cache", default="", help="a folder to keep the queue's picks")
    parser.add_argument("--keep", default="", help="a folder to keep the runs' checkpoints in")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ds = load_dataset(args.dataset, args.data_dir, download=False)
    settings = "defaults" + (f" + {args.set}" if args.set else "")
    print(f"{ds.name}: {ds.n_train} train, {len(ds.test_targets)} test; settings: {settings}; "
          f"load {os.getloadavg()[0]:.1f}; torch threads {torch.get_num_threads()}; "
          f"{time.strftime('%Y-%m-%d %H:%M')}")  # fmt: skip
    print(" ".join(f"{name:>{width}}" for name, width, _ in COLUMNS), flush=True)
    for kind in args.picks.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            run(ds, kind, picks_of(kind, ds, args.n, seed, args.picks_cache), seed, args)


if __name__ == "__main__":
    main()
