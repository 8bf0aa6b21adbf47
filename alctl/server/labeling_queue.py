"""LabelingQueue: `/api/queue` over the server's points and labels, and the ranking kept warm.

"typical" clusters the images' features (ssvae.data.pixel_features). Both the features and
the clusters cost seconds of CPU and are kept: in memory (ssvae.select.representative's
ClusterMemo) and on disk (ssvae.io.queue_cache), so a restarted server ranks at once. What is
not known yet is computed ahead by one background thread whenever the points change and after
each request: the features, the clusters for today's labels and for the next step of labels
(nothing, when all of that is known). That thread yields (alctl.server.pacing): it pauses
while a training session runs and stops when the server stops, and counts as one of the
server's background jobs (alctl.server.cpu_demand) while it computes. A request never waits for it;
when it asks before the warm-up is done, it computes what it needs itself.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from alctl.server.cpu_demand import BackgroundJobs
from alctl.server.label_state import LabelState
from alctl.server.pacing import CountedPace, Pacer, Stopping
from alctl.server.points import LatentPoints
from ssvae.io.queue_cache import QueueCache
from ssvae.select.representative import K_STEP, ClusterMemo, cluster_count

SEED = 0  # the queue's seed: the page and `alctl suggest` rank with the same one


class LabelingQueue:
    def __init__(
        self,
        points: LatentPoints,
        labels: LabelState,
        trained: Callable[[], bool],
        cache: QueueCache,
        pacer: Pacer,
        jobs: BackgroundJobs | None = None,
    ) -> None:
        self.points, self.labels, self.trained = points, labels, trained
        # The warm-up counts as a background job while it computes (the trainer's thread
        # policy leaves it a core), not while it waits for a session to end.
        self.jobs = jobs or BackgroundJobs()
        self.cache = cache  # what "typical" clusters: the images' features, not the model's
        self.pacer = pacer
        self.clusters = ClusterMemo(store=cache)  # "typical"'s clusters, kept between labels
        self._wanted = threading.Event()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def head(self, strategy: str, n: int) -> dict[str, Any]:
        """The next `n` unlabeled samples to label, by `strategy` (ssvae.select.queue)."""
        from ssvae.select.queue import QueueHead, queue_head

        trained = self.trained()
        points = self.points.predictions
        labels = self.labels.array()
        if points is None:
            head = QueueHead("random", strategy, False, "the points are still loading", 0)
        else:
            pace = self.pacer.request
            features = self.cache.features(pace) if strategy == "typical" else None
            head = queue_head(
                points,
                labels,
                strategy,
                n,
                trained=trained,
                seed=SEED,
                memo=self.clusters,
                features=features,
                pace=pace,
            )
            self.warm()  # the labels may have moved on: the next clusters, ahead of time
        return {**head.to_dict(), "latent_version": self.points.info()["version"]}

    # -- the warm-up ---------------------------------------------------------------------

    def warm(self) -> None:
        """Compute ahead what the next requests will need, in the background."""
        self._wanted.set()
        with self._lock:
            if self._worker is None and not self.pacer.stopping.is_set():
                self._worker = threading.Thread(
                    target=self._run, name="alctl-queue-warm", daemon=True
                )
                self._worker.start()

    def close(self, wait_s: float = 0.0) -> None:
        """Once the server is stopping: the warm-up thread ends at its next step (a pace point
        or its idle wait); wait up to `wait_s` for that."""
        self._wanted.set()  # wakes an idle thread to see that it must end
        with self._lock:
            worker = self._worker
        if worker is not None and wait_s > 0:
            worker.join(wait_s)

    def _run(self) -> None:
        # Not at a low CPU priority (it pauses for training instead): at exit, the last of a
        # process's threads to end unmaps its memory, and a thread at nice 19 on a busy
        # machine took 4-7 s to do it, with the process already told to exit.
        while True:
            self._wanted.wait()
            if self.pacer.stopping.is_set():
                return
            self._wanted.clear()
            try:
                self._warm_once()
            except Stopping:
                return
            except Exception:  # the page's own request reports what fails
                continue

    def _warm_once(self) -> None:
        with CountedPace(self.pacer, self.jobs) as pace:
            pace()  # nothing while a session trains
            features = self.cache.features(pace)
            labeled = int((self.labels.array() >= 0).sum())
            # The clusters for today's labels, then for the next step of labels.
            for count in (labeled, labeled + K_STEP):
                k = cluster_count(count, len(features))
                clusters = self.clusters.clusters(features, k, SEED, pace)
                if clusters.complete(features, pace):
                    with contextlib.suppress(OSError):  # a read-only workspace: memory only
                        self.clusters.save(features, clusters)
