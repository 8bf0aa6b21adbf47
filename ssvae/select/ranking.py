"""Which unlabeled samples to label next: plain functions over the model's predictions.

Shared by the page's queue, `alctl suggest` and `alctl simulate`, so all three rank the
same way. Every strategy scores the samples (higher = more worth labeling) and `rank`
returns the top `n` unlabeled ones.

Ties are broken by the smaller sample index (a stable sort on the negated score), so a
ranking is a pure function of its inputs. `random` and the diversity-aware `diverse`
are deterministic for a given seed.

Strategies (probabilities `p` of one sample, sorted descending `p1 >= p2 >= ...`):
- least_confidence: 1 - p1;
- margin: -(p1 - p2), i.e. a small gap between the top two classes ranks first;
- entropy: -sum p log p (natural log);
- random: a seeded permutation (the baseline every strategy must beat);
- diverse: greedy k-center over the latent among the `DIVERSE_CANDIDATES` least confident
  samples (Sener & Savarese 2018, "Active Learning for CNNs: a Core-Set Approach",
  restricted to an uncertain pool), so a batch is not n near-duplicates from one ridge.
  The first pick is the least confident sample; each next pick is the candidate farthest
  (Euclidean, in the latent) from the picks so far and from the labeled samples. Past the
  candidates, the rest follow by confidence.
- typical: representative picks for the cold start, where uncertainty sampling loses to
  random: the most typical unlabeled sample of each k-means cluster that has no label yet,
  biggest cluster first once every group of nearby clusters has a label (TypiClust;
  ssvae.select.representative), clustered over the images' own
  features (`features`: ssvae.data.pixel_features, the pixels' principal components), where
  Fashion-MNIST's classes separate better than in the 2-D latent. It needs no model, so it
  ranks meaningfully before the first training too.

Every strategy's order is one sequence: `n` only says how much of it to return, so the
first 5 of a head of 50 are the head of 5 (the page, `alctl suggest -n N` and the
thumbnails list the same samples in the same order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssvae.select.representative import LOOKAHEAD, ClusterMemo, Pace, typical_picks

STRATEGIES = ("least_confidence", "margin", "entropy", "random", "diverse", "typical")
# Strategies that rank by the images alone: meaningful before any training.
MODEL_FREE = ("typical",)
# The queue's default (page, `alctl suggest`, `alctl simulate`): in the page's first rounds
# (20 random labels, then 20 picks per 5-epoch session) it beat random and least confidence,
# which did not improve the model at all (docs/EXPERIMENTS.md).
DEFAULT_STRATEGY = "typical"
# "diverse" spreads its picks over this many of the least confident: ten per pick of the
# page's head (uncertain enough, varied enough), the same for any n, so that n never
# changes the order.
DIVERSE_CANDIDATES = 10 * LOOKAHEAD


@dataclass
class Ranking:
    indices: np.ndarray  # int64 [k], best first, k = min(n, unlabeled)
    scores: np.ndarray  # float64 [k], the strategy's score of each (higher = ask first)
    strategy: str


def uncertainty_scores(strategy: str, probs: np.ndarray) -> np.ndarray:
    """float64 [N] scores of an uncertainty strategy; higher = more uncertain."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"probs must be [N, classes] with at least 2 classes, got {p.shape}")
    if strategy in ("least_confidence", "diverse"):
        return 1.0 - p.max(axis=1)
    if strategy == "margin":
        top2 = -np.partition(-p, 1, axis=1)[:, :2]
        return -(top2[:, 0] - top2[:, 1])
    if strategy == "entropy":
        return -np.sum(p * np.log(np.clip(p, 1e-300, None)), axis=1)
    raise ValueError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")


def rank(
    strategy: str,
    probs: np.ndarray,
    latent: np.ndarray | None,
    labeled_mask: np.ndarray,
    n: int,
    seed: int = 0,
    memo: ClusterMemo | None = None,
    features: np.ndarray | None = None,
    pace: Pace | None = None,
) -> Ranking:
    """The `n` unlabeled samples to ask about first, best first, with their scores.

    `probs` is [N, classes] (calibrated), `latent` [N, d] (needed by "diverse"),
    `labeled_mask` bool [N] (True = already labeled, never returned), `features` [N, f]
    the images' features (needed by "typical": ssvae.data.pixel_features.pixel_pca).
    `memo` keeps "typical"'s clusters for the next call (the same picks, sooner); `pace`
    is called between the steps of a long computation (ssvae.select.representative).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    probs = np.asarray(probs)
    labeled = np.asarray(labeled_mask, dtype=bool)
    if probs.ndim != 2 or labeled.shape != (probs.shape[0],):
        raise ValueError(
            f"labeled_mask must be [N] for probs [N, C], got {labeled.shape} vs {probs.shape}"
        )
    pool = np.flatnonzero(~labeled)
    if strategy == "random":
        order = np.random.default_rng(seed).permutation(pool)[:n]
        return Ranking(order.astype(np.int64), np.zeros(len(order)), strategy)
    if strategy == "typical":
        points = _points(features, probs, strategy, "the images' features")
        picks, priority = typical_picks(points, labeled, n, seed, memo, pace=pace)
        return Ranking(picks, priority, strategy)
    scores = uncertainty_scores(strategy, probs)
    by_score = pool[np.argsort(-scores[pool], kind="stable")]
    if strategy != "diverse":
        top = by_score[:n].astype(np.int64)
        return Ranking(top, scores[top], strategy)
    points = _points(latent, probs, strategy, "the latent")
    candidates = by_score[:DIVERSE_CANDIDATES]
    picks = k_center(points, candidates, np.flatnonzero(labeled), min(n, len(candidates)))
    picks = np.concatenate([picks, by_score[len(candidates) : n]]).astype(np.int64)
    return Ranking(picks, scores[picks], strategy)


def _points(values: np.ndarray | None, probs: np.ndarray, strategy: str, what: str) -> np.ndarray:
    if values is None:
        raise ValueError(f"strategy {strategy!r} needs {what}")
    points = np.asarray(values, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] != probs.shape[0]:
        raise ValueError(f"{what} must be [N, d] for probs [N, C], got {points.shape}")
    return points


def k_center(points: np.ndarray, candidates: np.ndarray, anchors: np.ndarray, n: int) -> np.ndarray:
    """Greedy k-center: `n` of `candidates` (in priority order), each farthest from the rest.

    The first pick is candidates[0] (the most uncertain); the distances of every candidate
    to the picks and to the `anchors` (labeled samples) are kept up to date, and the next
    pick is the farthest candidate, the earlier one in priority order on a tie.
    """
    candidates = np.asarray(candidates, dtype=np.int64)
    n = min(n, len(candidates))
    if n == 0:
        return np.empty(0, np.int64)
    cand = points[candidates]
    nearest = np.full(len(candidates), np.inf)
    for start in range(0, len(anchors), 4096):  # bounded memory for 60k labels
        block = points[anchors[start : start + 4096]]
        dist = np.sqrt(((cand[:, None, :] - block[None, :, :]) ** 2).sum(-1)).min(axis=1)
        nearest = np.minimum(nearest, dist)
    chosen = [0]
    for _ in range(n - 1):
        nearest = np.minimum(nearest, np.sqrt(((cand - cand[chosen[-1]]) ** 2).sum(-1)))
        nearest[chosen] = -np.inf
        chosen.append(int(np.argmax(nearest)))  # argmax keeps the first of equal maxima
    return candidates[chosen]
