"""The server's queue (alctl.server.labeling_queue): its background work yields to a training
session and to a stop, and what it computed once is not computed again after a restart."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from alctl.server.cpu_demand import BackgroundJobs
from alctl.server.labeling_queue import LabelingQueue
from alctl.server.pacing import Pacer, Stopping
from ssvae.data import pixel_features
from ssvae.data.pixel_features import RECIPE, queue_features
from ssvae.io.queue_cache import QueueCache
from ssvae.select.representative import cluster_count
from tests.datagen import seed_labels
from tests.thread_server import make_session, thread_server
from tests.waiting import wait_for


class WatchedEvent(threading.Event):
    """An Event that remembers that someone waited on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waited = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.waited.set()
        return super().wait(timeout)


class CountingFeatures:
    """The features, counting its calls and the background jobs running at each."""

    def __init__(self, jobs: BackgroundJobs) -> None:
        self.calls, self.jobs, self.jobs_seen = 0, jobs, []

    def __call__(self, images: np.ndarray, pace: Any = None) -> np.ndarray:
        self.calls += 1
        self.jobs_seen.append(self.jobs.count)
        return queue_features(images, pace)


class PausedQueue:
    """A second queue over a session's points and labels, with its own cache, whose warm-up
    was asked for while a "session" runs (`idle` clear) and has reached its first step."""

    def __init__(self, session: Any, folder: Path) -> None:
        self.stopping, self.idle = threading.Event(), WatchedEvent()
        self.jobs = BackgroundJobs()
        self.compute = CountingFeatures(self.jobs)
        cache = QueueCache(folder, session.dataset.train_images, self.compute, RECIPE)
        pacer = Pacer(self.stopping, self.idle)
        self.queue = LabelingQueue(
            session.points, session.labels, lambda: True, cache, pacer, self.jobs
        )
        self.queue.warm()
        assert self.idle.waited.wait(30)  # the warm-up waits at its first step

    def stop(self) -> None:
        self.stopping.set()
        self.queue.close(30)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> Any:
    """One served workspace for the module: the tests add their own queues over it."""
    workspace = tmp_path_factory.mktemp("queue-ws")
    seed_labels(workspace, 12)
    made = make_session(workspace, tiny_data_dir)
    yield made
    made.shutdown()


def test_the_warm_up_waits_for_a_running_session_and_then_runs(
    session: Any, tmp_path: Path
) -> None:
    paused = PausedQueue(session, tmp_path / "q")
    assert paused.compute.calls == 0 and paused.queue.cache.cached_features() is None
    paused.idle.set()  # the session ended
    wait_for(lambda: (tmp_path / "q" / "features.npz").exists(), what="the warm-up")
    k = cluster_count(12, session.n_samples)
    wait_for(lambda: paused.queue.cache.clusters_path(k, 0).exists(), what="clusters on disk")
    assert paused.compute.calls == 1
    paused.stop()


def test_the_warm_up_is_a_background_job_while_it_computes_not_while_paused(
    session: Any, tmp_path: Path
) -> None:
    paused = PausedQueue(session, tmp_path / "q")
    # Paused for a session: the trainer's thread policy must not leave it a core.
    assert paused.jobs.count == 0
    paused.idle.set()
    wait_for(lambda: paused.compute.calls == 1, what="the warm-up's features")
    k = cluster_count(12, session.n_samples)
    wait_for(lambda: paused.queue.cache.clusters_path(k, 0).exists(), what="clusters on disk")
    assert paused.compute.jobs_seen == [1]  # counted while it computed
    paused.stop()
    assert paused.jobs.count == 0


def test_a_request_does_not_wait_for_a_paused_warm_up(session: Any, tmp_path: Path) -> None:
    paused = PausedQueue(session, tmp_path / "q")
    head = paused.queue.head("typical", 5)  # what the user asked for runs now
    assert head["strategy"] == "typical" and len(head["items"]) == 5
    paused.stop()


def test_a_stop_ends_the_warm_up_and_a_request_being_computed(session: Any, tmp_path: Path) -> None:
    paused = PausedQueue(session, tmp_path / "q")
    paused.stop()
    worker = paused.queue._worker
    assert worker is not None and not worker.is_alive()
    with pytest.raises(Stopping):  # nothing known yet: computing it stops at its first step
        paused.queue.head("typical", 5)


def test_a_restarted_server_ranks_typical_without_computing_anything(
    session: Any, tiny_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = session.queue("typical", 20)
    cache = session.labeling_queue.cache
    k = cluster_count(12, session.n_samples)
    wait_for(lambda: cache.clusters_path(k, 0).exists(), what="the warm-up's clusters on disk")

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("computed the features again")

    monkeypatch.setattr(pixel_features, "pixel_pca", refuse)
    restarted = make_session(session.workspace.root, tiny_data_dir)
    try:
        again = restarted.queue("typical", 20)
        assert restarted.labeling_queue.clusters.fits == 0
    finally:
        restarted.shutdown()
    assert [i["serial"] for i in again["items"]] == [i["serial"] for i in first["items"]]


def test_a_queue_request_cut_short_by_a_stop_answers_503(
    workspace: Path, tiny_data_dir: Path
) -> None:
    seed_labels(workspace, 3)
    session = make_session(workspace, tiny_data_dir)
    session.stopping.set()  # as a signal does, before the features were ever computed
    session.labeling_queue.cache = QueueCache(
        workspace / "elsewhere", session.dataset.train_images, queue_features, RECIPE
    )
    with thread_server(session) as server:
        answer = server.api("GET", "/api/queue?strategy=typical&n=5")
    assert answer.status == 503 and "stopping" in answer.json()["error"]
