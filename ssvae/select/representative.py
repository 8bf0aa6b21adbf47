"""Representative picks for a cold start: typical samples of uncovered clusters (TypiClust).

With a few dozen labels, uncertainty sampling asks about the ambiguous ridges between
classes and leaves whole classes unlabeled; picking the most *typical* sample of each
dense region first covers the data and the classes (Hacohen, Dekel & Weinshall 2022,
"Active Learning on a Budget: Opposite Strategies Suit High and Low Budgets").

`typical_picks(points, labeled, n)`:
1. k-means (k-means++ seeding, `KMEANS_ITERATIONS` Lloyd steps) over all points,
   labeled and unlabeled, with k = labeled + n clusters (above `K_EXACT` rounded up to
   a multiple of `K_STEP`; at most `MAX_CLUSTERS`);
2. the next pick comes from the cluster with the fewest labels (a pick counts as one),
   the biggest of those first: score = share of the points in it - labels in it;
3. from the cluster of highest priority (the smaller cluster index on a tie), the
   unlabeled point of highest typicality: 1 / mean distance to its `NEIGHBORS` nearest
   points of the same cluster (at most `REFERENCE` of them, a seeded subsample).
Deterministic for a given seed; the scores (the priority at the pick) never increase.
numpy only.

The page asks again after every label (for 50 picks), so `ClusterMemo` keeps the clusters
and their typicality between requests: there k moves in steps of `K_STEP` labels, and each
cluster's typicality comes from its own seeded subsample, so a memo changes the cost (about
a second on 60k points, then milliseconds), never the picks.
"""

from __future__ import annotations

import hashlib
import threading

import numpy as np

MAX_CLUSTERS = 500  # beyond this many labels the picks stratify by density, not cover
K_EXACT = 50  # up to this many clusters k = labels + picks exactly (tiny budgets)
K_STEP = 10  # beyond, k is rounded up to a multiple of this: the clusters outlive labels
KMEANS_ITERATIONS = 25
KMEANS_FIT = 10_000  # points the centres are fitted on, at most
NEIGHBORS = 20  # as in TypiClust
REFERENCE = 1000  # neighbours are looked for among this many points of a cluster at most


class ClusterMemo:
    """The clusters of the last (points, k, seed) asked about, with the typicality of the
    clusters computed so far. Thread-safe; one per server (the page's queue)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[tuple[int, ...], bytes, int, int] | None = None
        self._assign = np.empty(0, np.int64)
        self._typicality: dict[int, np.ndarray] = {}
        self.fits = 0  # k-means runs so far: how often the memo could not help

    def clusters(
        self, points: np.ndarray, k: int, seed: int
    ) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        # Keyed by the values (a digest of 60k points takes about a millisecond): callers
        # hand in fresh float64 copies, and new predictions may reuse an old buffer.
        digest = hashlib.blake2b(np.ascontiguousarray(points).tobytes(), digest_size=16).digest()
        key = (points.shape, digest, k, seed)
        with self._lock:
            if key != self._key:
                self._assign = kmeans(points, k, np.random.default_rng(seed))
                self._typicality = {}
                self.fits += 1
                self._key = key
            return self._assign, self._typicality


def typical_picks(
    points: np.ndarray,
    labeled: np.ndarray,
    n: int,
    seed: int = 0,
    memo: ClusterMemo | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(indices, scores) of `n` unlabeled points, best first (see the module docstring)."""
    points = np.asarray(points, dtype=np.float64)
    labeled = np.asarray(labeled, dtype=bool)
    if points.ndim != 2 or labeled.shape != (points.shape[0],):
        raise ValueError(f"want points [N, d] and labeled [N], got {points.shape}, {labeled.shape}")
    pool = int((~labeled).sum())
    n = min(int(n), pool)
    if n == 0:
        return np.empty(0, np.int64), np.empty(0)
    wanted = int(labeled.sum()) + n
    if wanted > K_EXACT:
        wanted = -(-wanted // K_STEP) * K_STEP
    k = min(wanted, MAX_CLUSTERS, len(points))
    assign, known = (memo or ClusterMemo()).clusters(points, k, seed)
    share = np.bincount(assign, minlength=k) / (len(points) + 1.0)  # < 1: labels rank first
    covered = np.bincount(assign[labeled], minlength=k).astype(np.float64)
    typicality = np.full(len(points), -np.inf)
    picks, scores = [], []
    ready = np.zeros(k, bool)  # typicality copied in for the cluster's members
    open_ = np.bincount(assign[~labeled], minlength=k) > 0  # still has unlabeled points
    for _ in range(n):
        priority = np.where(open_, share - covered, -np.inf)
        c = int(np.argmax(priority))  # argmax keeps the first of equal maxima
        members = np.flatnonzero(assign == c)
        if not ready[c]:
            if c not in known:
                known[c] = cluster_typicality(points[members], np.random.default_rng([seed, c]))
            typicality[members] = known[c]
            typicality[members[labeled[members]]] = -np.inf
            ready[c] = True
        best = members[int(np.argmax(typicality[members]))]
        picks.append(best)
        scores.append(priority[c])
        typicality[best] = -np.inf
        covered[c] += 1
        open_[c] = bool(np.isfinite(typicality[members]).any())
    return np.asarray(picks, np.int64), np.asarray(scores, np.float64)


def kmeans(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """int64 [N] cluster of each point: k-means++ seeding, then Lloyd steps, fitted on at
    most KMEANS_FIT points (a seeded sample: a page's 60k points rank in about a second).

    An emptied cluster keeps its centre (it stays empty or wins points back).
    """
    every = points
    if len(points) > KMEANS_FIT:  # fit on a seeded sample, then assign every point
        points = points[np.sort(rng.permutation(len(points))[:KMEANS_FIT])]
    n = len(points)
    centres = np.empty((k, points.shape[1]))
    centres[0] = points[rng.integers(n)]
    nearest = ((points - centres[0]) ** 2).sum(1)
    for i in range(1, k):
        total = nearest.sum()
        j = int(rng.choice(n, p=nearest / total)) if total > 0 else int(rng.integers(n))
        centres[i] = points[j]
        nearest = np.minimum(nearest, ((points - centres[i]) ** 2).sum(1))
    assign = _nearest_centre(points, centres)
    for _ in range(KMEANS_ITERATIONS):
        counts = np.bincount(assign, minlength=k)
        sums = np.stack([np.bincount(assign, points[:, d], k) for d in range(points.shape[1])], 1)
        full = counts > 0
        centres[full] = sums[full] / counts[full, None]
        new = _nearest_centre(points, centres)
        if np.array_equal(new, assign):
            break
        assign = new
    return _nearest_centre(every, centres) if every is not points else assign


def cluster_typicality(members: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """float64 [m]: 1 / mean distance of each point to its NEIGHBORS nearest fellow members."""
    m = len(members)
    if m == 1:
        return np.ones(1)
    ref = np.sort(rng.permutation(m)[:REFERENCE]) if m > REFERENCE else np.arange(m)
    k = min(NEIGHBORS, len(ref) - 1) if m <= REFERENCE else min(NEIGHBORS, len(ref))
    out = np.empty(m)
    refs = members[ref]
    ref_sq = (refs**2).sum(1)
    for start in range(0, m, 2048):  # bounded memory: 2048 × REFERENCE distances at a time
        rows = np.arange(start, min(start + 2048, m))
        block = members[rows]
        sq = (block**2).sum(1)[:, None] + ref_sq[None, :] - 2.0 * block @ refs.T
        sq[rows[:, None] == ref[None, :]] = np.inf  # a point is not its own neighbour
        near = np.sqrt(np.clip(np.partition(sq, k - 1, axis=1)[:, :k], 0.0, None))
        out[rows] = 1.0 / (near.mean(axis=1) + 1e-12)
    return out


def _nearest_centre(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    # |x - c|² = |x|² - 2 x·c + |c|²; |x|² is the same for every centre, so it is left out.
    score = (centres**2).sum(1)[None, :] - 2.0 * points @ centres.T
    return score.argmin(axis=1).astype(np.int64)
