"""Who neighbours whom among the images, and the labels that spread along it.

With ~100 labels a classifier learns each class from a handful of images; the other 59,900
images say which images look alike. Label spreading (Zhou et al. 2004, "Learning with Local
and Global Consistency") passes the labels along a graph joining each image to its
`NEIGHBOURS` nearest in the pixels' principal components (ssvae.data.pixel_features, the
space the queue's "typical" clusters), and stops where a class meets another. On
Fashion-MNIST with the queue's first 78 trainable labels, the most confident half of the
spread labels is 91 % right (docs/EXPERIMENTS.md); the training loop uses those as targets
where the classifier is not yet sure itself (ssvae.nn.losses.pseudo_label_loss).

The graph depends on the images alone: built once per image set (about 20 s for 60,000 on
two cores), kept by whoever holds the images. numpy only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ssvae.data.pixel_features import pixel_pca

NEIGHBOURS = 10  # per image; the graph is made symmetric, so some have more
ALPHA = 0.99  # how far labels travel: the share of a node's value that comes from neighbours
SPREAD_SHARE = 0.5  # of the unlabeled images, the most confident, get a spread class
ITERATIONS = 40  # of the spreading; ALPHA**40 = 0.67 of a seed's reach is settled by then
BLOCK = 1024  # rows of a distance matrix at a time
EXACT_UP_TO = 8192  # rows: beyond, neighbours are searched among nearby cells only
CELLS = 64  # k-means cells the search partitions the rows into
PROBES = 8  # cells searched per row: its own and the 7 nearest
CELL_ROUNDS = 8  # k-means rounds on a sample of 20 rows per cell


@dataclass(frozen=True)
class NeighbourGraph:
    """A symmetric weighted graph in sparse rows, normalised as D^-1/2 W D^-1/2."""

    starts: np.ndarray  # int64 [N + 1]: row i's edges are starts[i]:starts[i + 1]
    targets: np.ndarray  # int64 [E]
    weights: np.ndarray  # float32 [E], normalised

    @property
    def n(self) -> int:
        return len(self.starts) - 1

    def multiply(self, values: np.ndarray) -> np.ndarray:
        """The normalised graph times `values` [N, C]."""
        products = values[self.targets] * self.weights[:, None]
        out = np.zeros_like(values)
        nonempty = self.starts[:-1] < self.starts[1:]
        out[nonempty] = np.add.reduceat(products, self.starts[:-1][nonempty], axis=0)
        return out


def nearest(
    features: np.ndarray,
    k: int = NEIGHBOURS,
    pace: Callable[[], None] | None = None,
    *,
    exact_up_to: int = EXACT_UP_TO,
) -> tuple[np.ndarray, np.ndarray]:
    """(indices int64 [N, k], squared distances float32 [N, k]) of each row's `k` nearest
    other rows, nearest first.

    Up to `exact_up_to` rows, among all rows. Beyond, among the rows of the `PROBES` cells
    nearest to the row's own (cells: a seeded k-means of the rows, `CELLS` of them), so the
    cost is about PROBES / CELLS of comparing every pair: 60,000 images in seconds, not a
    minute. A neighbour it misses is one across a cell border, nearly as near as the one found.
    """
    features = np.ascontiguousarray(features, dtype=np.float32)
    n = features.shape[0]
    if n < 2:
        raise ValueError(f"need at least 2 rows to find neighbours, got {n}")
    k = min(k, n - 1)
    indices = np.empty((n, k), np.int64)
    distances = np.empty((n, k), np.float32)
    if n <= exact_up_to:
        everyone = np.arange(n)
        for start in range(0, n, BLOCK):
            if pace is not None:
                pace()
            rows = everyone[start : start + BLOCK]
            indices[rows], distances[rows] = _nearest_among(features, rows, everyone, k)
        return indices, distances
    centres = _cells(features, CELLS, pace)
    cell = _closest(features, centres)
    order = np.argsort(_squared(centres, centres), axis=1)[:, :PROBES]
    members = [np.flatnonzero(cell == c) for c in range(len(centres))]
    for c, rows in enumerate(members):
        if pace is not None:
            pace()
        if not len(rows):
            continue
        candidates = np.concatenate([members[o] for o in order[c]])
        if len(candidates) <= k:  # too few near cells: compare with every row
            candidates = np.arange(n)
        for start in range(0, len(rows), BLOCK):
            part = rows[start : start + BLOCK]
            indices[part], distances[part] = _nearest_among(features, part, candidates, k)
    return indices, distances


def _nearest_among(
    features: np.ndarray, rows: np.ndarray, candidates: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """`rows`' k nearest among `candidates` (never themselves), nearest first."""
    block = _squared(features[rows], features[candidates])
    block[rows[:, None] == candidates[None, :]] = np.inf
    part = np.argpartition(block, k - 1, axis=1)[:, :k]
    near = np.take_along_axis(block, part, axis=1)
    order = np.argsort(near, axis=1)
    found = candidates[np.take_along_axis(part, order, axis=1)]
    return found, np.maximum(np.take_along_axis(near, order, axis=1), 0)


def _squared(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared distances [len(a), len(b)]."""
    return np.einsum("ij,ij->i", a, a)[:, None] - 2 * a @ b.T + np.einsum("ij,ij->i", b, b)[None]


def _closest(features: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [
            _squared(features[s : s + BLOCK], centres).argmin(axis=1)
            for s in range(0, len(features), BLOCK)
        ]
    )


def _cells(features: np.ndarray, cells: int, pace: Callable[[], None] | None) -> np.ndarray:
    """Centres of a seeded k-means (Lloyd, a few rounds on a sample): only a partition to
    search in, so a rough one does."""
    rng = np.random.default_rng(0)
    sample = features[rng.choice(len(features), min(len(features), 20 * cells), replace=False)]
    centres = sample[rng.choice(len(sample), cells, replace=False)].copy()
    for _ in range(CELL_ROUNDS):
        if pace is not None:
            pace()
        owner = _closest(sample, centres)
        for c in range(cells):
            mine = sample[owner == c]
            if len(mine):
                centres[c] = mine.mean(axis=0)
    return centres


def neighbour_graph(indices: np.ndarray, distances: np.ndarray) -> NeighbourGraph:
    """The symmetric graph of `nearest`'s lists, Gaussian weights exp(-d² / σ²) with σ the
    median distance to the k-th neighbour, normalised for spreading."""
    n, k = indices.shape
    sigma2 = float(np.median(distances[:, -1])) or 1.0
    rows = np.repeat(np.arange(n), k)
    cols = indices.reshape(-1)
    weight = np.exp(-distances.reshape(-1) / sigma2).astype(np.float32)
    # W + W^T: an edge both ways counts twice, as a sparse sum would.
    rows, cols = np.concatenate([rows, cols]), np.concatenate([cols, rows])
    weight = np.concatenate([weight, weight])
    order = np.lexsort((cols, rows))
    rows, cols, weight = rows[order], cols[order], weight[order]
    degree = np.bincount(rows, weights=weight, minlength=n)
    scale = 1.0 / np.sqrt(np.maximum(degree, 1e-12))
    weight = (weight * scale[rows] * scale[cols]).astype(np.float32)
    starts = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=starts[1:])
    return NeighbourGraph(starts, cols.astype(np.int64), weight)


def spread_labels(
    graph: NeighbourGraph,
    labels: np.ndarray,
    n_classes: int,
    *,
    alpha: float = ALPHA,
    iterations: int = ITERATIONS,
    pace: Callable[[], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(class int64 [N], confidence float32 [N]) spread from `labels` (int [N], -1 = none):
    F <- alpha S F + (1 - alpha) Y. Confidence: the class's share of the row's mass (0 where
    no label reached it)."""
    labels = np.asarray(labels)
    if labels.shape != (graph.n,):
        raise ValueError(f"labels must be [{graph.n}], got {labels.shape}")
    seeds = np.flatnonzero(labels >= 0)
    given = np.zeros((graph.n, n_classes), np.float32)
    given[seeds, labels[seeds]] = 1.0
    mass = given.copy()
    for _ in range(iterations):
        if pace is not None:
            pace()
        mass = alpha * graph.multiply(mass) + (1 - alpha) * given
    total = mass.sum(axis=1)
    confidence = np.where(total > 0, mass.max(axis=1) / np.maximum(total, 1e-30), 0.0)
    return mass.argmax(axis=1), confidence.astype(np.float32)


def spread_targets(
    graph: NeighbourGraph,
    labels: np.ndarray,
    n_classes: int,
    share: float = SPREAD_SHARE,
    pace: Callable[[], None] | None = None,
) -> np.ndarray:
    """int64 [N]: the spread class of the most confident `share` of the unlabeled rows, -1
    elsewhere (labeled rows, the less confident, and rows no label reached)."""
    labels = np.asarray(labels)
    classes, confidence = spread_labels(graph, labels, n_classes, pace=pace)
    out = np.full(graph.n, -1, np.int64)
    open_rows = np.flatnonzero((labels < 0) & (confidence > 0))
    if not len(open_rows) or not (labels >= 0).any():
        return out
    keep = max(1, round(share * int((labels < 0).sum())))
    best = open_rows[np.argsort(-confidence[open_rows], kind="stable")[:keep]]
    out[best] = classes[best]
    return out


def pixel_graph(images: np.ndarray, pace: Callable[[], None] | None = None) -> NeighbourGraph:
    """The neighbour graph of images [N, 28, 28] in their pixels' principal components."""
    indices, distances = nearest(pixel_pca(images, pace=pace), pace=pace)
    return neighbour_graph(indices, distances)


class PixelGraph:
    """`pixel_graph` of one image set, built on first use and kept (thread-safe)."""

    def __init__(self, images: np.ndarray) -> None:
        self.images = images
        self._graph: NeighbourGraph | None = None
        self._lock = threading.Lock()

    def get(self, pace: Callable[[], None] | None = None) -> NeighbourGraph:
        with self._lock:
            if self._graph is None:
                self._graph = pixel_graph(np.asarray(self.images), pace)
            return self._graph
