"""The cold-start strategy `typical` (TypiClust) on point sets whose answer is known."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ssvae.select import representative
from ssvae.select.ranking import rank
from ssvae.select.representative import (
    cluster_groups,
    cluster_typicality,
    kmeans,
    typical_picks,
)


def _blob(centre: tuple[float, float], rings: int) -> np.ndarray:
    """The centre, then `rings` rings of 8 points around it: the centre is the most typical."""
    angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    ring = np.stack([np.cos(angles), np.sin(angles)], 1)
    pts = [np.zeros((1, 2))] + [r * 0.1 * ring for r in range(1, rings + 1)]
    return np.vstack(pts) + np.asarray(centre)


# Three far-apart blobs of 41, 25 and 9 points; their centres are rows 0, 41 and 66.
POINTS = np.vstack([_blob((0, 0), 5), _blob((100, 0), 3), _blob((0, 100), 1)])
CENTRES = [0, 41, 66]


def test_one_pick_per_blob_biggest_first_and_each_is_the_blob_centre() -> None:
    # TypiClust's k: the labels plus the budget (3 picks: 3 clusters).
    picks, scores = typical_picks(POINTS, np.zeros(len(POINTS), bool), 3, lookahead=3)
    assert picks.tolist() == CENTRES
    # The share of the points, plus 1 while the cluster's group has no label (3 clusters:
    # each its own group).
    assert (scores - 1) * 76 == pytest.approx([41, 25, 9])
    again, _ = typical_picks(POINTS, np.zeros(len(POINTS), bool), 4, lookahead=4)
    blob = np.searchsorted([41, 66], again, side="right")  # 4 clusters: one blob splits
    assert sorted(set(blob.tolist())) == [0, 1, 2]


def test_a_labeled_blob_is_covered_so_the_picks_go_elsewhere() -> None:
    labeled = np.zeros(len(POINTS), bool)
    labeled[5] = True  # a point of the biggest blob
    picks, scores = typical_picks(POINTS, labeled, 3, lookahead=3)
    # k = 4 clusters: the big blob may be split, but the other two blobs are both asked.
    assert {41, 66} <= set(picks.tolist())
    assert 5 not in picks.tolist()
    assert np.all(np.diff(scores) <= 0)


# One region of three dense blobs side by side (30, 29 and 28 points: the biggest clusters)
# and two small far ones (13 and 12): biggest first would ask the region three times first.
def _region_and_outliers() -> tuple[np.ndarray, list[range]]:
    rng = np.random.default_rng(0)
    sizes = [(0.0, 0.0, 30), (3.0, 0.0, 29), (0.0, 3.0, 28), (100.0, 0.0, 13), (0.0, 100.0, 12)]
    parts = [rng.normal((x, y), 0.2, (n, 2)) for x, y, n in sizes]
    bounds = np.cumsum([0] + [n for *_, n in sizes])
    return np.vstack(parts), [range(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


def test_the_first_picks_visit_every_group_before_a_second_pick_in_any() -> None:
    points, blobs = _region_and_outliers()
    none = np.zeros(len(points), bool)

    def blob_of(picks: np.ndarray) -> list[int]:
        return [next(b for b, r in enumerate(blobs) if p in r) for p in picks]

    # 5 clusters (the blobs) in 3 groups (the region, and each far blob): the region once,
    # then the far blobs, then the rest of the region, biggest first.
    picks, scores = typical_picks(points, none, 5, lookahead=5, groups=3)
    assert blob_of(picks) == [0, 3, 4, 1, 2]
    assert np.all(np.diff(scores) <= 0)
    # One cluster per group: TypiClust's own order, biggest first.
    plain, _ = typical_picks(points, none, 5, lookahead=5, groups=5)
    assert blob_of(plain) == [0, 1, 2, 3, 4]
    assert sorted(picks.tolist()) == sorted(plain.tolist())  # the same images, in another order
    with pytest.raises(ValueError, match="groups must be >= 1"):
        typical_picks(points, none, 5, groups=0)


def test_a_labeled_group_waits_until_every_group_has_one() -> None:
    points, blobs = _region_and_outliers()
    labeled = np.zeros(len(points), bool)
    labeled[blobs[1][0]] = True  # a label in the region's second blob
    picks, _ = typical_picks(points, labeled, 4, lookahead=4, groups=3)
    first_two = {next(b for b, r in enumerate(blobs) if p in r) for p in picks[:2]}
    assert first_two == {3, 4}  # the far blobs before the rest of the labeled region


def test_cluster_groups_join_near_clusters() -> None:
    points, blobs = _region_and_outliers()
    assign = np.zeros(len(points), np.int64)
    for c, r in enumerate(blobs):
        assign[list(r)] = c
    sizes = np.bincount(assign, minlength=6)  # cluster 5 is empty
    group = cluster_groups(points, assign, sizes, 3, seed=0)
    assert group.shape == (6,)
    assert group[0] == group[1] == group[2] and len({group[0], group[3], group[4]}) == 3
    assert group[5] == 0  # an empty cluster joins group 0
    # More groups than clusters: each cluster its own group.
    assert len(set(cluster_groups(points, assign, sizes, 10, seed=0)[:5].tolist())) == 5


def test_identical_points_tie_and_come_in_index_order() -> None:
    points = np.zeros((12, 2))
    labeled = np.zeros(12, bool)
    labeled[[0, 3]] = True
    picks, scores = typical_picks(points, labeled, 4, seed=7)
    assert picks.tolist() == [1, 2, 4, 5]
    assert np.all(np.diff(scores) <= 0)


def test_same_seed_same_picks_and_never_more_than_the_pool() -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(300, 2))
    labeled = np.zeros(300, bool)
    labeled[:290] = True
    probs = np.full((300, 10), 0.1)
    a = rank("typical", probs, None, labeled, 50, seed=3, features=points)
    b = rank("typical", probs, None, labeled, 50, seed=3, features=points)
    assert a.indices.tolist() == b.indices.tolist()
    assert sorted(a.indices.tolist()) == list(range(290, 300))
    assert a.strategy == "typical" and len(a.scores) == 10


def test_no_pick_asked_or_none_left() -> None:
    assert typical_picks(POINTS, np.zeros(len(POINTS), bool), 0)[0].tolist() == []
    assert typical_picks(POINTS, np.ones(len(POINTS), bool), 5)[0].tolist() == []


def test_typical_needs_the_images_features_not_the_latent() -> None:
    probs = np.full((4, 10), 0.1)
    with pytest.raises(ValueError, match="needs the images' features"):
        rank("typical", probs, np.zeros((4, 2)), np.zeros(4, bool), 2)
    with pytest.raises(ValueError, match="features must be"):
        rank("typical", probs, None, np.zeros(4, bool), 2, features=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="needs the latent"):
        rank("diverse", probs, None, np.zeros(4, bool), 2, features=np.zeros((4, 2)))


def test_kmeans_separates_far_blobs() -> None:
    assign = kmeans(POINTS, 3, np.random.default_rng(0))
    groups = [set(assign[a:b].tolist()) for a, b in ((0, 41), (41, 66), (66, 75))]
    assert all(len(g) == 1 for g in groups) and len(set.union(*groups)) == 3


def test_typicality_is_highest_at_the_centre_and_subsamples_big_clusters() -> None:
    blob = _blob((0, 0), 5)
    t = cluster_typicality(blob, np.random.default_rng(0))
    assert int(np.argmax(t)) == 0 and t.shape == (41,)
    big = np.random.default_rng(1).normal(size=(3000, 2))
    t_big = cluster_typicality(big, np.random.default_rng(0))
    # The densest point of a Gaussian sits near its mean, the sparsest far out.
    assert np.linalg.norm(big[int(np.argmax(t_big))]) < 1.0
    assert np.linalg.norm(big[int(np.argmin(t_big))]) > 2.5
    assert cluster_typicality(np.zeros((1, 2)), np.random.default_rng(0)).tolist() == [1.0]


def test_kmeans_fitted_on_a_sample_still_assigns_every_point(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(representative, "KMEANS_FIT", 30)
    assign = kmeans(POINTS, 3, np.random.default_rng(0))
    assert assign.shape == (len(POINTS),)
    groups = [set(assign[a:b].tolist()) for a, b in ((0, 41), (41, 66), (66, 75))]
    assert all(len(g) == 1 for g in groups) and len(set.union(*groups)) == 3


def test_a_memo_gives_the_same_picks_and_keeps_its_clusters_across_labels() -> None:
    rng = np.random.default_rng(3)
    points = rng.normal(size=(3000, 2)).astype(np.float32)  # the page's float32 view
    labeled = np.zeros(len(points), bool)
    memo = representative.ClusterMemo()
    fits = []
    for step in range(12):  # labels 1..12 with 50 picks: k = 60 up to 10 labels, then 70
        labeled[step * 11] = True
        with_memo = typical_picks(points, labeled, 50, seed=2, memo=memo)
        without = typical_picks(points, labeled, 50, seed=2)
        assert with_memo[0].tolist() == without[0].tolist()
        assert with_memo[1] == pytest.approx(without[1])
        assert not labeled[with_memo[0]].any()
        k = 60 if step + 1 <= 10 else 70
        fits.append(id(memo.clusters(points.astype(np.float64), k, 2).assign))
    assert len(set(fits[:10])) == 1  # one k-means for the first ten labels
    assert fits[10] != fits[0] and fits[11] == fits[10]  # k moved to 70: clustered once more
    moved = points + np.float32(0.5)  # new predictions: never the old clusters
    assert id(memo.clusters(moved.astype(np.float64), 70, 2).assign) != fits[-1]


def test_the_picks_are_one_order_whatever_n_asks_for() -> None:
    rng = np.random.default_rng(4)
    points = rng.normal(size=(2000, 5))
    labeled = np.zeros(len(points), bool)
    labeled[rng.permutation(len(points))[:30]] = True
    longest, scores = typical_picks(points, labeled, 80, seed=1)
    for n in (1, 5, 10, 20, 30, 50, 79):
        picks, head_scores = typical_picks(points, labeled, n, seed=1)
        assert picks.tolist() == longest[:n].tolist(), n
        assert head_scores == pytest.approx(scores[:n])


class DictStore:
    """A ClusterStore in memory (ssvae.io.queue_cache keeps them on disk)."""

    def __init__(self) -> None:
        self.saved: dict[tuple[bytes, int, int], representative.Clusters] = {}

    def load_clusters(self, digest: bytes, k: int, seed: int) -> representative.Clusters | None:
        return self.saved.get((digest, k, seed))

    def save_clusters(self, digest: bytes, clusters: representative.Clusters) -> None:
        self.saved[(digest, clusters.k, clusters.seed)] = clusters


def test_a_store_hands_the_clusters_to_the_next_process_and_changes_no_pick() -> None:
    points = np.random.default_rng(5).normal(size=(1500, 3))
    labeled = np.zeros(len(points), bool)
    labeled[:7] = True
    store = DictStore()
    first = representative.ClusterMemo(store=store)
    k = representative.cluster_count(7, len(points))
    clusters = first.clusters(points, k, 0)
    assert clusters.complete(points) and not clusters.complete(points)  # all, then nothing new
    first.save(points, clusters)
    again = representative.ClusterMemo(store=store)  # a restarted server
    with_store = typical_picks(points, labeled, 40, memo=again)
    assert again.fits == 0
    assert with_store[0].tolist() == typical_picks(points, labeled, 40)[0].tolist()


def test_a_pace_is_called_between_steps_and_its_exception_ends_the_work() -> None:
    points = np.random.default_rng(6).normal(size=(3000, 4))
    calls = []

    class Stop(Exception):
        pass

    def pace() -> None:
        calls.append(1)
        if len(calls) == 5:
            raise Stop

    with pytest.raises(Stop):
        typical_picks(points, np.zeros(len(points), bool), 20, pace=pace)
    assert len(calls) == 5
