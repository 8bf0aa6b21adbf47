"""LabelingQueue: `/api/queue` over the server's points and labels, and the ranking kept warm.

"typical" clusters the images' pixel features (ssvae.data.pixel_features, computed once) over the
whole pool (about a second on 60k points) and the page asks again after every label, so the
clusters are memoised (ssvae.select.representative.ClusterMemo) and, when
the points change, ranked ahead in a background thread at the lowest CPU priority: the first
request after a refresh, or from a page opened during the next session, takes nothing from
the trainer.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from typing import Any

from alctl.server.cpu_demand import BackgroundJobs
from alctl.server.label_state import LabelState
from alctl.server.points import LatentPoints
from ssvae.data.pixel_features import PixelFeatures
from ssvae.select.representative import ClusterMemo

# The page holds this many of the queue's head (QUEUE_FETCH in static/js/queue.js): the
# ranking warmed when the points change is the one its first request asks for.
QUEUE_WARM_N = 50


class LabelingQueue:
    def __init__(
        self,
        points: LatentPoints,
        labels: LabelState,
        trained: Callable[[], bool],
        features: PixelFeatures,
        jobs: BackgroundJobs | None = None,
    ) -> None:
        self.points, self.labels, self.trained = points, labels, trained
        self.jobs = jobs or BackgroundJobs()  # the warm-up counts as one while it runs
        self.features = features  # what "typical" clusters: the images', not the model's
        self.clusters = ClusterMemo()  # "typical"'s clusters, kept between labels

    def head(self, strategy: str, n: int) -> dict[str, Any]:
        """The next `n` unlabeled samples to label, by `strategy` (ssvae.select.queue)."""
        from ssvae.select.queue import QueueHead, queue_head

        trained = self.trained()
        points = self.points.predictions
        labels = self.labels.array()
        if points is None:
            head = QueueHead("random", strategy, False, "the points are still loading", 0)
        else:
            features = self.features.get() if strategy == "typical" else None
            head = queue_head(
                points, labels, strategy, n, trained=trained, memo=self.clusters, features=features
            )
        return {**head.to_dict(), "latent_version": self.points.info()["version"]}

    def warm(self) -> threading.Thread:
        """Rank the current points for the default strategy in the background; a failure is
        left for the page's own request to report."""
        from ssvae.select.ranking import DEFAULT_STRATEGY

        def warm() -> None:
            # The lowest CPU priority for this thread alone (Linux schedules threads; elsewhere
            # it may not apply): a session started meanwhile keeps its cores.
            with contextlib.suppress(AttributeError, OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
            with contextlib.suppress(Exception), self.jobs.running():
                self.head(DEFAULT_STRATEGY, QUEUE_WARM_N)

        thread = threading.Thread(target=warm, name="alctl-queue-warm", daemon=True)
        thread.start()
        return thread
