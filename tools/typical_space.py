#!/usr/bin/env python3
"""Which space should "typical" cluster? Prototype quality of 100 picks, no training.

    python tools/typical_space.py --data-dir /usr/share/datasets/fashion-mnist
    python tools/typical_space.py --checkpoint <run>/pretrain-seed0.pt   # a label-free model

For each space (the pixels' first 20 and 50 principal components, and with `--checkpoint`
a model's 2-D latent mean and its encoder's last hidden layer) and each seed, it picks 100
images with `typical` and 100 at random, and prints how many training images the picks name
correctly by their nearest pick (1-NN over all 60k in that space) and the picks per class.
A space where 100 typical picks are good prototypes is one where the classes separate: the
test of docs/EXPERIMENTS.md ("Where typical clusters").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

try:
    import ssvae  # noqa: F401
except ImportError:  # run from a checkout: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ssvae.data.datasets import load_dataset
from ssvae.data.pixel_features import pixel_pca
from ssvae.select.representative import typical_picks


def nearest_pick_accuracy(points: np.ndarray, picks: np.ndarray, truth: np.ndarray) -> float:
    """Share of all points whose nearest pick (Euclidean) has their class."""
    anchors = points[picks]
    d = (points**2).sum(1)[:, None] - 2 * points @ anchors.T + (anchors**2).sum(1)[None]
    return float((truth[picks][d.argmin(axis=1)] == truth).mean())


def model_spaces(checkpoint: Path, images: np.ndarray) -> dict[str, np.ndarray]:
    import torch

    from ssvae.io.checkpoint import load_checkpoint
    from ssvae.nn.model import to_input
    from ssvae.nn.restore import build_model

    ckpt = load_checkpoint(checkpoint)
    if ckpt is None:
        raise SystemExit(f"no checkpoint at {checkpoint}")
    model, _ = build_model(ckpt)
    model.eval()
    mus, hidden = [], []
    with torch.no_grad():
        for start in range(0, len(images), 4096):
            mu, _, h = model.encode_features(
                to_input(torch.from_numpy(images[start : start + 4096]))
            )
            mus.append(mu.numpy())
            hidden.append(h.numpy())
    return {"latent": np.concatenate(mus), "hidden": np.concatenate(hidden)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--checkpoint", type=Path, default=None, help="add its latent and hidden")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--picks", type=int, default=100)
    args = parser.parse_args()
    ds = load_dataset(args.dataset, args.data_dir, download=False)
    truth, n = ds.train_targets, ds.n_train
    spaces = {"pixels pca20": pixel_pca(ds.train_images, 20),
              "pixels pca50": pixel_pca(ds.train_images, 50)}  # fmt: skip
    if args.checkpoint:
        spaces.update(model_spaces(args.checkpoint, ds.train_images))
    none = np.zeros(n, bool)
    print("| space | seed | typical: nearest-pick accuracy | random | typical picks per class |")
    print("|---|---|---|---|---|")
    for name, points in spaces.items():
        points = points.astype(np.float64)
        for seed in range(args.seeds):
            picks, _ = typical_picks(points, none, args.picks, seed=seed, lookahead=args.picks)
            rand = np.random.default_rng(seed).permutation(n)[: args.picks]
            counts = np.bincount(truth[picks], minlength=len(ds.class_names)).tolist()
            typical = 100 * nearest_pick_accuracy(points, picks, truth)
            random = 100 * nearest_pick_accuracy(points, rand, truth)
            print(f"| {name} | {seed} | {typical:.1f} % | {random:.1f} % | {counts} |")


if __name__ == "__main__":
    main()
