"""Check samples: a fixed random subset of the images whose labels measure the model honestly.

The queue's own picks are a biased sample of the data: `typical` asks for the most typical
image of each cluster, which a model gets right far more often than an average image (20
of the first 100 typical picks held out of training: all right, so the temperature fitted
on them sharpened the certainty to the floor, T = 0.05, docs/EXPERIMENTS.md), and the
uncertainty strategies ask for the hardest. A temperature or an accuracy measured on such
labels says little about the rest. So every `CHECK_EVERY`-th sample the queue offers is
a check: the next unlabeled one of a seeded random order of `check_candidates`, a fixed
random subset of the images. Labels on check candidates are a random sample of the data,
whoever asked for them; the certainty is calibrated on those the weights have not trained
on (ssvae.train.calibration), and the blind accuracy is measured on them.

Deterministic in the number of images alone (no state to store, nothing to migrate): the
page, `alctl suggest`, the trainer and the simulator agree on which labels are checks.
numpy only.
"""

from __future__ import annotations

import numpy as np

CHECK_EVERY = 5  # the 5th, 10th, ... sample the queue offers is a check: 20 of the first 100
# Check labels a session that calibrates at its end keeps out of training, at most: the newest
# (about those of the last 125 labels); older ones train.
CALIBRATION_SET = 25
CHECK_SHARE = 0.02  # candidates: 2 % of the images (1,200 of 60,000), at least one

_SEED = 0x5EED_C4EC


def check_order(n: int) -> np.ndarray:
    """int64 [m]: the check candidates among `n` images, in the order the queue asks for them."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    m = min(n, int(np.ceil(n * CHECK_SHARE)))
    return np.random.default_rng(_SEED).permutation(n)[:m].astype(np.int64)


def check_mask(n: int) -> np.ndarray:
    """bool [n]: True for the check candidates."""
    mask = np.zeros(n, bool)
    mask[check_order(n)] = True
    return mask


def interleave_checks(
    picks: np.ndarray, labeled: np.ndarray, n: int, every: int = CHECK_EVERY
) -> tuple[np.ndarray, np.ndarray]:
    """(indices, is_check): `n` samples to label, `picks` in order, with every `every`-th
    label (counting those given already: the page labels the head and asks again, so the
    cadence must not restart with each request) the next unlabeled check candidate. A pick
    that is a check candidate itself counts as one. Nothing repeats; when the candidates
    run out, picks fill their places."""
    labeled = np.asarray(labeled, dtype=bool)
    given = int(labeled.sum())
    is_candidate = check_mask(len(labeled))
    checks = iter(int(i) for i in check_order(len(labeled)) if not labeled[i])
    out: list[int] = []
    flags: list[bool] = []
    taken: set[int] = set()
    rest = iter(int(i) for i in picks)
    while len(out) < n:
        item = None
        if (given + len(out) + 1) % every == 0:
            item = next((i for i in checks if i not in taken), None)
        if item is None:
            item = next((i for i in rest if i not in taken), None)
        if item is None:
            item = next((i for i in checks if i not in taken), None)  # picks ran out
        if item is None:
            break
        out.append(item)
        flags.append(bool(is_candidate[item]))
        taken.add(item)
    return np.asarray(out, np.int64), np.asarray(flags, bool)
