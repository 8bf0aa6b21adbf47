"""Ranking strategies on known probability vectors, ties included."""

from __future__ import annotations

import numpy as np
import pytest

from ssvae.select.ranking import (
    DIVERSE_CANDIDATES,
    STRATEGIES,
    k_center,
    rank,
    uncertainty_scores,
)

# Sample 0 sure, 1 torn between two classes, 2 spread over all, 3 equal to 1 (a tie).
PROBS = np.array(
    [
        [0.97, 0.01, 0.01, 0.01],
        [0.50, 0.48, 0.01, 0.01],
        [0.40, 0.20, 0.20, 0.20],
        [0.50, 0.48, 0.01, 0.01],
    ]
)
NONE_LABELED = np.zeros(4, bool)


def test_least_confidence_scores_and_order_with_tie_to_smaller_index() -> None:
    out = rank("least_confidence", PROBS, None, NONE_LABELED, 4)
    assert out.indices.tolist() == [2, 1, 3, 0]
    assert out.scores == pytest.approx([0.60, 0.50, 0.50, 0.03])


def test_margin_prefers_the_two_way_split() -> None:
    out = rank("margin", PROBS, None, NONE_LABELED, 4)
    assert out.indices.tolist() == [1, 3, 2, 0]
    assert out.scores == pytest.approx([-0.02, -0.02, -0.20, -0.96])


def test_entropy_prefers_the_spread_sample() -> None:
    out = rank("entropy", PROBS, None, NONE_LABELED, 2)
    expected = -np.sum(PROBS[2] * np.log(PROBS[2]))
    assert out.indices.tolist() == [2, 1]
    assert out.scores[0] == pytest.approx(expected)


def test_uniform_probabilities_tie_everywhere_and_keep_index_order() -> None:
    probs = np.full((5, 10), 0.1)
    for strategy in ("least_confidence", "margin", "entropy"):
        out = rank(strategy, probs, None, np.zeros(5, bool), 5)
        assert out.indices.tolist() == [0, 1, 2, 3, 4], strategy


def test_labeled_samples_are_never_returned() -> None:
    labeled = np.array([False, True, True, False])
    for strategy in STRATEGIES:
        out = rank(strategy, PROBS, np.eye(4)[:, :2], labeled, 10, features=np.eye(4))
        assert sorted(out.indices.tolist()) == [0, 3], strategy


def test_random_is_seeded_and_covers_the_pool() -> None:
    probs = np.full((50, 10), 0.1)
    labeled = np.zeros(50, bool)
    labeled[:10] = True
    a = rank("random", probs, None, labeled, 40, seed=3).indices
    b = rank("random", probs, None, labeled, 40, seed=3).indices
    c = rank("random", probs, None, labeled, 40, seed=4).indices
    assert a.tolist() == b.tolist() != c.tolist()
    assert sorted(a.tolist()) == list(range(10, 50))


def test_diverse_spreads_picks_over_the_latent() -> None:
    # 20 near-duplicates at (0, 0) are the most uncertain; 5 slightly surer points far away.
    latent = np.vstack([np.zeros((20, 2)) + 1e-3 * np.arange(20)[:, None], 10 * np.eye(5, 2)])
    latent[20:, 1] += np.arange(5) * 10
    probs = np.vstack([np.full((20, 10), 0.1), np.tile([0.2] + [0.8 / 9] * 9, (5, 1))])
    plain = rank("least_confidence", probs, latent, np.zeros(25, bool), 5).indices
    spread = rank("diverse", probs, latent, np.zeros(25, bool), 5).indices
    assert set(plain.tolist()) <= set(range(20))
    assert spread[0] == 0  # the most uncertain comes first
    assert len(set(spread.tolist()) & set(range(20))) == 1  # one of the duplicates, not five


def test_k_center_avoids_labeled_anchors_and_breaks_ties_by_priority() -> None:
    points = np.array([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [5.0, 0.0]])
    # Anchor at 5: candidate 3 sits on it, so after 0 the farthest are 1 and 2 (tie -> 1).
    assert k_center(points, np.array([0, 1, 2, 3]), np.array([3]), 2).tolist() == [0, 1]


def test_scores_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown strategy"):
        rank("best", PROBS, None, NONE_LABELED, 2)
    with pytest.raises(ValueError, match="labeled_mask"):
        rank("margin", PROBS, None, np.zeros(3, bool), 2)
    with pytest.raises(ValueError, match="needs the latent"):
        rank("diverse", PROBS, None, NONE_LABELED, 2)
    with pytest.raises(ValueError, match="at least 2 classes"):
        uncertainty_scores("margin", np.ones((3, 1)))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_is_one_order_and_n_only_cuts_it(strategy: str) -> None:
    rng = np.random.default_rng(8)
    n_points = 3000
    logits = rng.normal(size=(n_points, 10)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    latent = rng.normal(size=(n_points, 2))
    features = rng.normal(size=(n_points, 6))
    labeled = np.zeros(n_points, bool)
    labeled[rng.permutation(n_points)[:40]] = True
    longest = DIVERSE_CANDIDATES + 20  # "diverse" past its candidates, too
    full = rank(strategy, probs, latent, labeled, longest, seed=2, features=features)
    for n in (1, 5, 10, 20, 50, 100, DIVERSE_CANDIDATES + 1):
        head = rank(strategy, probs, latent, labeled, n, seed=2, features=features)
        assert head.indices.tolist() == full.indices[:n].tolist(), n
    assert len(set(full.indices.tolist())) == longest and not labeled[full.indices].any()
