"""Check samples: a fixed random subset, every CHECK_EVERY-th label the queue asks for."""

from __future__ import annotations

import numpy as np

from ssvae.select.checks import CHECK_EVERY, CHECK_SHARE, check_mask, check_order, interleave_checks


def test_candidates_are_a_fixed_random_share_of_the_images() -> None:
    order = check_order(60_000)
    assert len(order) == int(np.ceil(60_000 * CHECK_SHARE)) == len(set(order.tolist()))
    assert np.array_equal(order, check_order(60_000))  # a function of n alone
    assert check_mask(60_000).sum() == len(order) and check_mask(60_000)[order].all()
    # Random, not a block: spread over the whole index range.
    assert order.min() < 6_000 and order.max() > 54_000
    assert len(check_order(10)) == 1 and len(check_order(0)) == 0


def _label_the_head(n: int, labels_to_give: int) -> tuple[list[int], list[bool]]:
    """Label the queue's first item and ask again, as the page does."""
    labeled = np.zeros(n, bool)
    given, flags = [], []
    for _ in range(labels_to_give):
        picks = np.flatnonzero(~labeled)[:50]  # any strategy's order
        order, checks = interleave_checks(picks, labeled, 50)
        given.append(int(order[0]))
        flags.append(bool(checks[0]))
        labeled[order[0]] = True
    return given, flags


def test_the_cadence_counts_the_labels_given_not_the_place_in_one_answer() -> None:
    given, flags = _label_the_head(5_000, 100)
    assert len(set(given)) == 100
    mask = check_mask(5_000)
    cadence = [i for i in range(100) if (i + 1) % CHECK_EVERY == 0]
    assert all(flags[i] and mask[given[i]] for i in cadence)
    # The checks come in the candidates' order; the other places keep the strategy's order.
    rank = {int(c): r for r, c in enumerate(check_order(5_000))}
    asked = [rank[given[i]] for i in cadence]
    assert asked == sorted(asked)
    others = [given[i] for i in range(100) if i not in cadence]
    assert others == sorted(others)  # the strategy here: by index


def test_a_pick_that_is_a_candidate_counts_and_nothing_repeats() -> None:
    n = 1_000
    labeled = np.zeros(n, bool)
    first = check_order(n)[0]
    picks = np.array([first, *[i for i in range(n) if i != first][:9]])
    order, checks = interleave_checks(picks, labeled, 10)
    assert order[0] == first and checks[0]
    assert len(set(order.tolist())) == 10
    assert checks.sum() == 3  # the pick, and the next candidates at the 5th and 10th places
    assert not check_mask(n)[order[~checks]].any()


def test_when_the_candidates_run_out_the_picks_fill_their_places() -> None:
    n = 40  # one candidate
    labeled = check_mask(n).copy()  # ... already labeled
    picks = np.flatnonzero(~labeled)
    order, checks = interleave_checks(picks, labeled, 12)
    assert np.array_equal(order, picks[:12]) and not checks.any()
