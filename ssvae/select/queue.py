"""The labeling queue's head: `ssvae.select.ranking` over one model state's points, plus honesty.

The page (`GET /api/queue`) and `alctl suggest` (with or without a server) call
`queue_head` on the same cached points and the same labels, so they list the same samples
in the same order. A ranking by uncertainty means nothing before the model has trained
(every certainty about equal) or before its probabilities are known; then the head is
the seeded random order and `meaningful` is False with a note saying why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ssvae.select.checks import interleave_checks
from ssvae.select.points import Predictions2D
from ssvae.select.ranking import MODEL_FREE, rank
from ssvae.select.representative import ClusterMemo, Pace

UNTRAINED_NOTE = "train once to rank by uncertainty; random until then"
NO_PROBS_NOTE = "ranking once the model has loaded; random until then"
FLAT_SPREAD = 1e-6  # certainties closer than this carry no order
MAX_HEAD = 1000


@dataclass
class QueueHead:
    strategy: str  # the order actually used
    requested: str  # what was asked for
    meaningful: bool
    note: str | None
    pool: int  # unlabeled samples
    items: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "requested": self.requested,
            "meaningful": self.meaningful,
            "note": self.note,
            "pool": self.pool,
            "items": list(self.items),
        }


def queue_head(
    points: Predictions2D,
    labels: np.ndarray,
    strategy: str,
    n: int,
    *,
    trained: bool,
    seed: int = 0,
    memo: ClusterMemo | None = None,
    features: np.ndarray | None = None,
    pace: Pace | None = None,
) -> QueueHead:
    """The next `n` unlabeled samples to label (labels: int [N], -1 = unlabeled).

    "diverse" measures distance in the page's 2-D view (the latent itself for a 2-D
    latent), so the page, the CLI and the cache agree without storing the full latent.
    "typical" clusters `features`, the images' own (ssvae.data.pixel_features): it needs no
    model, so it ranks before the first training too. Every CHECK_EVERY-th item is a random
    check sample instead ("check": true), whatever the strategy: the labels the certainty
    is calibrated on and the blind accuracy is measured on (ssvae.select.checks).
    """
    labeled = np.asarray(labels) >= 0
    note = None
    if strategy not in MODEL_FREE:  # those rank by the images: meaningful from the start
        if points.probs is None:
            note = NO_PROBS_NOTE
        elif not trained or float(np.ptp(points.certainty)) < FLAT_SPREAD:
            note = UNTRAINED_NOTE
    used = "random" if note else strategy
    probs = points.probs if points.probs is not None else np.full((len(labeled), 2), 0.5)
    ranking = rank(used, probs, points.xy, labeled, n, seed, memo, features, pace)
    # Every CHECK_EVERY-th place is a random check sample (ssvae.select.checks).
    order, checks = interleave_checks(ranking.indices, labeled, n)
    score = dict(zip(ranking.indices.tolist(), ranking.scores.tolist(), strict=True))
    items = [
        {
            "serial": int(i),
            "pred": int(points.pred[i]),
            "certainty": float(points.certainty[i]),
            "score": float(score.get(int(i), 0.0)),
            "check": bool(c),
        }
        for i, c in zip(order, checks, strict=True)
    ]
    return QueueHead(used, strategy, note is None, note, int((~labeled).sum()), items)
