"""Representative picks for a cold start: typical samples of uncovered clusters (TypiClust).

With a few dozen labels, uncertainty sampling asks about the ambiguous ridges between
classes and leaves whole classes unlabeled; picking the most *typical* sample of each
dense region first covers the data and the classes (Hacohen, Dekel & Weinshall 2022,
"Active Learning on a Budget: Opposite Strategies Suit High and Low Budgets").

`typical_picks(points, labeled, n)`:
1. k-means (k-means++ seeding, `KMEANS_ITERATIONS` Lloyd steps) over all points,
   labeled and unlabeled, with k = labeled + `lookahead` clusters (above `K_EXACT` rounded
   up to a multiple of `K_STEP`; at most `MAX_CLUSTERS`). k never depends on `n`: the picks
   are one order, and asking for fewer gives its beginning (the page's queue, `alctl
   suggest -n 1` and `-n 50` agree). TypiClust sets k to the labels plus the budget; the
   queue's budget is the page's head (`LOOKAHEAD`);
2. the clusters fall into `GROUPS` groups (a k-means of their centres, weighted by their
   sizes: `cluster_groups`), and the next pick comes from the cluster with the fewest
   labels (a pick counts as one), the biggest of those first, except that a cluster of a
   group without a label yet goes before any other: score = share of the points in it -
   labels in it + 1 while its group has none. Biggest first alone spends the first labels
   on the big clusters of one dense region (on Fashion-MNIST the first 20 items held 4
   trousers and no bag); visiting the groups first spreads them. 6, 15 and 20 groups did
   worse than 10 there (docs/EXPERIMENTS.md);
3. from the cluster of highest priority (the smaller cluster index on a tie), the
   unlabeled point of highest typicality: 1 / mean distance to its `NEIGHBORS` nearest
   points of the same cluster (at most `REFERENCE` of them, a seeded subsample).
Deterministic for a given seed; the scores (the priority at the pick) never increase.
numpy only.

The page asks again after every label, so `ClusterMemo` keeps the clusters and their
typicality between requests (k moves in steps of `K_STEP` labels), and can hand them to a
store (ssvae.io.queue_cache) that keeps them on disk for the next start: k-means on 60k
points takes seconds of CPU, a lookup milliseconds. Each cluster's typicality comes from its
own seeded subsample, so a memo or a store changes the cost, never the picks.

Long loops call `pace()` between steps when given one: a background caller pauses there
while a training session runs, and any caller stops there (by raising) when the server stops.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

MAX_CLUSTERS = 500  # beyond this many labels the picks stratify by density, not cover
K_EXACT = 50  # up to this many clusters k = labels + lookahead exactly (tiny budgets)
K_STEP = 10  # beyond, k is rounded up to a multiple of this: the clusters outlive labels
LOOKAHEAD = 50  # the queue's budget beyond the labels: the page's head (QUEUE_FETCH)
KMEANS_ITERATIONS = 25
KMEANS_FIT = 10_000  # points the centres are fitted on, at most
NEIGHBORS = 20  # as in TypiClust
REFERENCE = 1000  # neighbours are looked for among this many points of a cluster at most
GROUPS = 10  # the clusters fall into this many groups; the first labels visit each once
GROUPS_STREAM = 0x6E0  # the groups' random stream, apart from the clusters' own
MEMO_ENTRIES = 3  # clusterings kept in memory: this k, the next one, the one before

Pace = Callable[[], None]


def cluster_count(n_labeled: int, n_points: int, lookahead: int = LOOKAHEAD) -> int:
    """k for `n_labeled` labels: labels + `lookahead`, rounded up to K_STEP above K_EXACT."""
    wanted = int(n_labeled) + int(lookahead)
    if wanted > K_EXACT:
        wanted = -(-wanted // K_STEP) * K_STEP
    return max(1, min(wanted, MAX_CLUSTERS, n_points))


@dataclass
class Clusters:
    """One clustering of a point set: each point's cluster, and the typicality of the points
    of the clusters computed so far (NaN elsewhere)."""

    assign: np.ndarray  # int64 [N]
    typicality: np.ndarray  # float64 [N]
    k: int
    seed: int

    @classmethod
    def fit(cls, points: np.ndarray, k: int, seed: int, pace: Pace | None = None) -> Clusters:
        assign = kmeans(points, k, np.random.default_rng(seed), pace)
        return cls(assign, np.full(len(points), np.nan), k, seed)

    def cluster_typicality(self, points: np.ndarray, c: int, members: np.ndarray) -> np.ndarray:
        """Cluster `c`'s typicality (its `members`), computed once."""
        known = self.typicality[members]
        if len(known) and not np.isnan(known[0]):
            return known
        values = cluster_typicality(points[members], np.random.default_rng([self.seed, c]))
        self.typicality[members] = values
        return values

    def complete(self, points: np.ndarray, pace: Pace | None = None) -> bool:
        """Compute every cluster's typicality; True when anything was new (worth saving)."""
        missing = np.unique(self.assign[np.isnan(self.typicality)])
        for c in missing:
            if pace is not None:
                pace()
            self.cluster_typicality(points, int(c), np.flatnonzero(self.assign == c))
        return len(missing) > 0


class ClusterStore(Protocol):
    """Where clusterings outlive the process (ssvae.io.queue_cache.QueueCache)."""

    def load_clusters(self, digest: bytes, k: int, seed: int) -> Clusters | None: ...

    def save_clusters(self, digest: bytes, clusters: Clusters) -> None: ...


def points_digest(points: np.ndarray) -> bytes:
    """What identifies a point set by value (about a millisecond per 10 MB)."""
    data = np.ascontiguousarray(points)
    head = f"{data.dtype.str}{data.shape}".encode()
    return hashlib.blake2b(head + data.tobytes(), digest_size=16).digest()


class ClusterMemo:
    """The clusterings of one point set asked about lately, with the typicality computed so
    far; with a `store`, also those of earlier processes. Thread-safe; one per server."""

    def __init__(self, store: ClusterStore | None = None) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[bytes, int, int], Clusters] = OrderedDict()
        self._digest: tuple[np.ndarray, bytes] | None = None  # the last point set's digest
        self.fits = 0  # k-means runs so far: how often neither memo nor store could help

    def digest(self, points: np.ndarray) -> bytes:
        # Keyed by the values: new predictions may reuse an old buffer. The same array
        # object asked again (the server's features) is not hashed again.
        with self._lock:
            if self._digest is not None and self._digest[0] is points:
                return self._digest[1]
        value = points_digest(points)
        with self._lock:
            self._digest = (points, value)
        return value

    def clusters(self, points: np.ndarray, k: int, seed: int, pace: Pace | None = None) -> Clusters:
        """The clustering of `points` into `k` for `seed`: from memory, the store, or fitted."""
        digest = self.digest(points)
        key = (digest, k, seed)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry
        entry = self.store.load_clusters(digest, k, seed) if self.store is not None else None
        if entry is None:
            entry = Clusters.fit(points, k, seed, pace)
            with self._lock:
                self.fits += 1
        with self._lock:
            # Two threads may have fitted the same clustering: both are equal; keep the first.
            entry = self._entries.setdefault(key, entry)
            self._entries.move_to_end(key)
            while len(self._entries) > MEMO_ENTRIES:
                self._entries.popitem(last=False)
        return entry

    def save(self, points: np.ndarray, clusters: Clusters) -> None:
        """Hand a clustering to the store (no store: nothing to do)."""
        if self.store is not None:
            self.store.save_clusters(self.digest(points), clusters)


def typical_picks(
    points: np.ndarray,
    labeled: np.ndarray,
    n: int,
    seed: int = 0,
    memo: ClusterMemo | None = None,
    *,
    lookahead: int = LOOKAHEAD,
    groups: int = GROUPS,
    pace: Pace | None = None,
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
    if groups < 1:
        raise ValueError(f"groups must be >= 1, got {groups}")
    k = cluster_count(int(labeled.sum()), len(points), lookahead)
    entry = (memo or ClusterMemo()).clusters(points, k, seed, pace)
    assign = entry.assign
    sizes = np.bincount(assign, minlength=k)
    share = sizes / (len(points) + 1.0)  # < 1: labels rank first
    covered = np.bincount(assign[labeled], minlength=k).astype(np.float64)
    group = cluster_groups(points, assign, sizes, groups, seed)
    group_covered = np.bincount(group[assign[labeled]], minlength=groups)
    typicality = np.full(len(points), -np.inf)
    picks, scores = [], []
    ready = np.zeros(k, bool)  # typicality copied in for the cluster's members
    open_ = np.bincount(assign[~labeled], minlength=k) > 0  # still has unlabeled points
    for _ in range(n):
        # A cluster of a group that has no label yet comes first (a bonus of 1 outweighs any
        # share): the first labels visit every group, then TypiClust's own order follows.
        priority = np.where(open_, share - covered + (group_covered[group] == 0), -np.inf)
        c = int(np.argmax(priority))  # argmax keeps the first of equal maxima
        members = np.flatnonzero(assign == c)
        if not ready[c]:
            if pace is not None:
                pace()
            typicality[members] = entry.cluster_typicality(points, c, members)
            typicality[members[labeled[members]]] = -np.inf
            ready[c] = True
        best = members[int(np.argmax(typicality[members]))]
        picks.append(best)
        scores.append(priority[c])
        typicality[best] = -np.inf
        covered[c] += 1
        group_covered[group[c]] += 1
        open_[c] = bool(np.isfinite(typicality[members]).any())
    return np.asarray(picks, np.int64), np.asarray(scores, np.float64)


def cluster_groups(
    points: np.ndarray, assign: np.ndarray, sizes: np.ndarray, groups: int, seed: int
) -> np.ndarray:
    """int64 [k]: each cluster's group, by a k-means of the clusters' centres weighted by
    their `sizes` (milliseconds: k centres, not N points). Empty clusters join group 0."""
    k = len(sizes)
    sums = _cluster_sums(points, assign, k)
    full = sizes > 0
    out = np.zeros(k, np.int64)
    rng = np.random.default_rng([seed, GROUPS_STREAM])
    weights = sizes[full].astype(np.float64)
    out[full] = kmeans(
        sums[full] / weights[:, None], min(groups, int(full.sum())), rng, weights=weights
    )
    return out


def kmeans(
    points: np.ndarray,
    k: int,
    rng: np.random.Generator,
    pace: Pace | None = None,
    *,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """int64 [N] cluster of each point: k-means++ seeding, then Lloyd steps, fitted on at
    most KMEANS_FIT points (a seeded sample: a page's 60k points rank in about a second).
    `weights` (float [N] > 0): a point counts as that many, in the seeding and the means.

    An emptied cluster keeps its centre (it stays empty or wins points back).
    """
    every = points
    if len(points) > KMEANS_FIT:  # fit on a seeded sample, then assign every point
        sample = np.sort(rng.permutation(len(points))[:KMEANS_FIT])
        points = points[sample]
        weights = None if weights is None else weights[sample]
    n = len(points)
    centres = np.empty((k, points.shape[1]))
    first = rng.integers(n) if weights is None else rng.choice(n, p=weights / weights.sum())
    centres[0] = points[first]
    nearest = ((points - centres[0]) ** 2).sum(1)
    for i in range(1, k):
        if pace is not None and i % 50 == 0:
            pace()
        mass = nearest if weights is None else nearest * weights
        total = mass.sum()
        j = int(rng.choice(n, p=mass / total)) if total > 0 else int(rng.integers(n))
        centres[i] = points[j]
        nearest = np.minimum(nearest, ((points - centres[i]) ** 2).sum(1))
    weighted = points if weights is None else points * weights[:, None]
    assign = _nearest_centre(points, centres)
    for _ in range(KMEANS_ITERATIONS):
        if pace is not None:
            pace()
        counts = np.bincount(assign, weights, k)
        sums = _cluster_sums(weighted, assign, k)
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


def _cluster_sums(points: np.ndarray, assign: np.ndarray, k: int) -> np.ndarray:
    """float64 [k, d]: the sum of each cluster's points."""
    return np.stack([np.bincount(assign, points[:, d], k) for d in range(points.shape[1])], 1)


def _nearest_centre(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    # |x - c|² = |x|² - 2 x·c + |c|²; |x|² is the same for every centre, so it is left out.
    score = (centres**2).sum(1)[None, :] - 2.0 * points @ centres.T
    return score.argmin(axis=1).astype(np.int64)
