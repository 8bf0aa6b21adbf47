"""The typical queue's features and clusters on disk (ssvae.io.queue_cache): read back, never
trusted when they do not match, and never a different pick."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ssvae.data.pixel_features import RECIPE, queue_features
from ssvae.io import queue_cache
from ssvae.io.queue_cache import QueueCache
from ssvae.select.representative import ClusterMemo, cluster_count, typical_picks


def images(n: int = 900, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28)).astype(np.uint8)


class Counting:
    """queue_features, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, pictures: np.ndarray, pace: object = None) -> np.ndarray:
        self.calls += 1
        return queue_features(pictures)


def test_features_are_computed_once_and_read_back_by_the_next_process(tmp_path: Path) -> None:
    pictures, compute = images(), Counting()
    first = QueueCache(tmp_path, pictures, compute, RECIPE).features()
    again = QueueCache(tmp_path, pictures, compute, RECIPE).features()  # a restart
    assert compute.calls == 1 and first.dtype == np.float64
    assert np.array_equal(first, again)
    cache = QueueCache(tmp_path, pictures, compute, RECIPE)
    assert cache.features() is cache.features()  # one object per process: the memo's key


@pytest.mark.parametrize("change", ["other images", "other recipe", "truncated", "garbage"])
def test_features_that_do_not_match_are_computed_again(tmp_path: Path, change: str) -> None:
    pictures, compute = images(), Counting()
    QueueCache(tmp_path, pictures, compute, RECIPE).features()
    path = tmp_path / "features.npz"
    recipe = RECIPE
    if change == "other images":
        pictures = images(seed=1)
    elif change == "other recipe":
        recipe = RECIPE + " dims=3"
    elif change == "truncated":
        path.write_bytes(path.read_bytes()[:1000])
    else:
        path.write_bytes(b"not an npz")
    got = QueueCache(tmp_path, pictures, compute, recipe).features()
    assert compute.calls == 2
    assert np.array_equal(got, queue_features(pictures))


def test_clusters_read_back_give_the_same_picks_without_a_fit(tmp_path: Path) -> None:
    pictures = images()
    labeled = np.zeros(len(pictures), bool)
    labeled[::37] = True
    cache = QueueCache(tmp_path, pictures, queue_features, RECIPE)
    features = cache.features()
    memo = ClusterMemo(store=cache)
    clusters = memo.clusters(features, cluster_count(int(labeled.sum()), len(features)), 0)
    clusters.complete(features)
    memo.save(features, clusters)
    restarted = QueueCache(tmp_path, pictures, queue_features, RECIPE)
    again = ClusterMemo(store=restarted)
    picks = typical_picks(restarted.features(), labeled, 30, memo=again)
    assert again.fits == 0
    assert picks[0].tolist() == typical_picks(features, labeled, 30)[0].tolist()
    # Clusters of other features (another dataset in the same folder) are not taken.
    other = ClusterMemo(store=restarted)
    other.clusters(features + 1.0, clusters.k, 0)
    assert other.fits == 1


def test_damaged_clusters_are_fitted_again_and_old_ones_are_forgotten(tmp_path: Path) -> None:
    pictures = images(300)
    cache = QueueCache(tmp_path, pictures, queue_features, RECIPE)
    features = cache.features()
    memo = ClusterMemo(store=cache)
    for k in range(2, 2 + queue_cache.CLUSTER_FILES + 3):
        memo.save(features, memo.clusters(features, k, 0))
    files = sorted(tmp_path.glob("clusters-*.npz"))
    assert len(files) == queue_cache.CLUSTER_FILES
    newest = cache.clusters_path(1 + queue_cache.CLUSTER_FILES + 3, 0)
    assert newest in files and cache.clusters_path(2, 0) not in files
    newest.write_bytes(newest.read_bytes()[:500])
    fresh = ClusterMemo(store=QueueCache(tmp_path, pictures, queue_features, RECIPE))
    fresh.clusters(features, 1 + queue_cache.CLUSTER_FILES + 3, 0)
    assert fresh.fits == 1


def test_a_read_only_folder_costs_time_never_an_answer(tmp_path: Path) -> None:
    folder = tmp_path / "queue"
    folder.mkdir()
    (folder / "features.npz").mkdir()  # cannot be written: features stay in memory
    cache = QueueCache(folder, images(200), queue_features, RECIPE)
    assert cache.features().shape == (200, 20)
