"""WorkspaceSession and its parts, in-process: labels, points, the cache, the training thread."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from alctl.server.events import EventBus, dumps
from alctl.server.label_state import LabelState
from alctl.server.points import normalise, points_payload
from alctl.server.session import SessionError, WorkspaceSession
from alctl.server.training_thread import NotTraining, TrainingBusy
from ssvae.io.labels import LabelStore
from ssvae.io.points_cache import checkpoint_stamp, load_cache, save_cache
from ssvae.select.points import Predictions2D
from tests.thread_server import make_session
from tests.waiting import wait_for


class Recorder:
    """A real event loop in a thread with one subscriber that records every event."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.events: list[tuple[str, dict]] = []
        self.loop = asyncio.new_event_loop()
        self._arrived = threading.Condition()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(bus,), daemon=True)
        self._thread.start()
        assert self._ready.wait(5)

    def _run(self, bus: EventBus) -> None:
        async def consume() -> None:
            bus.attach(asyncio.get_running_loop())
            stream = bus.stream(dict)
            await anext(stream)
            self._ready.set()
            async for message in stream:
                with self._arrived:
                    self.events.append((message["event"], json.loads(message["data"])))
                    self._arrived.notify_all()

        self.loop.run_until_complete(consume())

    def wait_for(self, name: str, timeout: float = 60.0) -> dict:
        def first() -> tuple[dict] | None:  # a tuple: an event's data may be an empty dict
            return next(((data,) for event, data in self.events if event == name), None)

        with self._arrived:
            found = self._arrived.wait_for(first, timeout)
        if found is None:
            raise AssertionError(f"no {name!r} event; got {self.names()}")
        return found[0]

    def settle(self) -> None:
        """Return once every event published before this call has arrived: the bus keeps
        one order, so they all come before this marker."""
        marker = f"marker-{len(self.events)}-{id(self)}"
        self.bus.publish("test_marker", {"marker": marker})
        with self._arrived:
            arrived = self._arrived.wait_for(
                lambda: any(d.get("marker") == marker for e, d in self.events), 30
            )
            assert arrived, f"the marker event never arrived; got {self.names()}"
            self.events[:] = [(e, d) for e, d in self.events if e != "test_marker"]

    def names(self) -> list[str]:
        return [e for e, _ in self.events]


def test_normalise_centres_into_unit_square_keeping_aspect() -> None:
    xy = np.array([[0, 0], [4, 2], [2, 1], [np.nan, 1]], dtype=np.float32)
    out, bounds, _ = normalise(xy)
    assert bounds == [0.0, 4.0, 0.0, 2.0]
    np.testing.assert_allclose(out[:3], [[-1, -0.5], [1, 0.5], [0, 0]])
    assert out[3].tolist() == [0.0, 0.0]  # a non-finite point is parked, never NaN


def test_points_payload_layout() -> None:
    xy = np.array([[0.5, -0.5], [1, -1]], dtype=np.float32)
    body = points_payload(
        xy, np.array([0.9, 0.1]), np.array([3, 7]), np.array([1, 2]), np.array([-1, 5])
    )
    n = 2
    assert len(body) == 15 * n  # 8N + 4N + N + N + N
    assert np.frombuffer(body[: 8 * n], "<f4").tolist() == [0.5, -0.5, 1.0, -1.0]
    np.testing.assert_allclose(np.frombuffer(body[8 * n : 12 * n], "<f4"), [0.9, 0.1], rtol=1e-6)
    assert np.frombuffer(body[12 * n :], np.int8).tolist() == [3, 7, 1, 2, -1, 5]


def test_cache_is_used_only_for_the_checkpoint_it_was_made_from(tmp_path: Path) -> None:
    ckpt, cache = tmp_path / "ssvae.ckpt", tmp_path / "points_cache.npz"
    ckpt.write_bytes(b"weights v1")
    points = Predictions2D(np.ones((3, 2)), np.full(3, 0.5), np.array([1, 2, 3]))
    save_cache(cache, points, {"dataset": "mnist", "checkpoint": checkpoint_stamp(ckpt)})
    loaded = load_cache(cache, dataset="mnist", n_samples=3, checkpoint=ckpt)
    assert loaded is not None and loaded.predictions.pred.tolist() == [1, 2, 3]
    assert load_cache(cache, dataset="fashion-mnist", n_samples=3, checkpoint=ckpt) is None
    assert load_cache(cache, dataset="mnist", n_samples=4, checkpoint=ckpt) is None
    ckpt.write_bytes(b"weights v2, longer")
    assert load_cache(cache, dataset="mnist", n_samples=3, checkpoint=ckpt) is None
    cache.write_bytes(b"garbage")
    assert load_cache(cache, dataset="mnist", n_samples=3, checkpoint=ckpt) is None


def test_label_writes_are_not_reported_as_outside_edits_but_outside_edits_are(
    tmp_path: Path,
) -> None:
    bus = EventBus()
    recorder = Recorder(bus)
    store = LabelStore(tmp_path / "labels.csv", 100)
    state = LabelState(store, bus)
    state.update({5: 3}, "page")
    assert state.check_file() is False  # our own write: nothing new
    # Another process writes, and the server's next write merges that edit in.
    LabelStore(tmp_path / "labels.csv", 100).set(7, 1)
    state.update({9: 2}, "cli")
    assert state.check_file() is True
    recorder.settle()
    labels = [(d["source"], d["changes"]) for e, d in recorder.events if e == "labels"]
    assert labels == [
        ("page", [{"serial": 5, "label": 3, "previous": None}]),
        ("cli", [{"serial": 9, "label": 2, "previous": None}]),
        ("file", [{"serial": 7, "label": 1, "previous": None}]),
    ]
    assert state.array()[[5, 7, 9]].tolist() == [3, 1, 2]
    assert state.stats()["per_class"][1:4] == [1, 1, 1]


def test_unreadable_label_file_is_reported_once_and_memory_kept(tmp_path: Path) -> None:
    bus = EventBus()
    recorder = Recorder(bus)
    store = LabelStore(tmp_path / "labels.csv", 100)
    state = LabelState(store, bus)
    state.update({1: 1}, "page")
    (tmp_path / "labels.csv").write_text("Serial,label\n1,banana\n")
    assert state.check_file() is False
    assert state.check_file() is False
    assert recorder.wait_for("error")["message"].startswith("the labels file cannot be read")
    recorder.settle()
    assert recorder.names().count("error") == 1
    assert state.get(1) == 1


@pytest.fixture()
def session(tiny_data_dir: Path, workspace: Path):
    session = make_session(workspace, tiny_data_dir)
    yield session
    session.shutdown()


def test_training_thread_runs_saves_and_refreshes(session: WorkspaceSession) -> None:
    recorder = Recorder(session.bus)
    first_version = session.status()["latent"]["version"]
    started = session.start_training(1, {"batch_size": 64, "learning_rate": 2e-3})
    assert started["session"] == 1 and started["hparams"]["learning_rate"] == 2e-3
    with pytest.raises(TrainingBusy, match="already running"):
        session.start_training(1, {})
    recorder.wait_for("latent_refreshed")
    status = session.status()
    assert status["training"]["state"] == "idle"
    assert status["training"]["last_result"]["status"] == "completed"
    assert status["latent"]["version"] == first_version + 1
    assert status["checkpoint"]["exists"] and status["checkpoint"]["epochs_trained"] == 1
    assert status["hparams"]["learning_rate"] == 2e-3  # kept for the next session
    history = session.training.history()
    assert [r["global_epoch"] for r in history["records"]] == [1]
    assert history["sessions"][0]["status"] == "completed"
    assert session.cache_path.is_file()


def test_new_points_are_ranked_before_the_page_asks(session: WorkspaceSession) -> None:
    """The queue's default ranking is computed when the points change, so the page's first
    request after a refresh (or a page opened during the next session) finds it done."""
    recorder = Recorder(session.bus)
    session.start_training(1, {})
    recorder.wait_for("latent_refreshed")
    # The ranking runs in the background after the refresh and announces nothing: poll it.
    fits = wait_for(lambda: session.labeling_queue.clusters.fits, 30, "the queue's clusters")
    assert fits >= 1
    head = session.queue("typical", 50)
    assert head["strategy"] == "typical" and len(head["items"]) == 50
    assert session.labeling_queue.clusters.fits == fits  # the warm clusters served the request


def test_failed_session_is_reported_and_the_next_one_runs(session: WorkspaceSession) -> None:
    recorder = Recorder(session.bus)
    # Valid but absurd: the loss overflows to inf in the first batch.
    session.start_training(1, {"recon_weight": 1e38})
    ended = recorder.wait_for("train_ended")
    assert ended["status"] == "failed" and "loss" in ended["error"]
    assert not session.workspace.checkpoint.exists()  # nothing learned, nothing saved
    assert recorder.wait_for("session_saved")["saved"] is False
    recorder.events.clear()
    session.start_training(1, {"recon_weight": 1.0})
    assert recorder.wait_for("train_ended")["status"] == "completed"
    assert session.training.history()["sessions"][0]["status"] == "failed"


def test_stop_ends_a_session_cooperatively(session: WorkspaceSession) -> None:
    recorder = Recorder(session.bus)
    with pytest.raises(NotTraining):
        session.training.stop()
    session.start_training(200, {"batch_size": 16})
    recorder.wait_for("train_progress")
    assert session.training.stop() == {"stopping": True}
    assert session.status()["training"]["state"] in ("stopping", "idle")
    assert recorder.wait_for("train_ended")["status"] == "stopped"
    # Stopped inside its first epoch: a session keeps whole epochs only, so nothing changed
    # and nothing is saved (what the page then says is exactly what happened).
    saved = recorder.wait_for("session_saved")
    assert saved["status"] == "stopped" and saved["epochs_run"] == 0 and not saved["saved"]
    assert not session.workspace.checkpoint.exists()


def test_batch_progress_is_throttled(session: WorkspaceSession) -> None:
    recorder = Recorder(session.bus)
    session.start_training(2, {"batch_size": 4})
    recorder.wait_for("train_ended", timeout=120)
    # Hundreds of batches, but at most ~4 progress events a second (by the trainer's clock).
    elapsed = [d["elapsed_s"] for e, d in recorder.events if e == "train_progress"]
    assert len(elapsed) >= 2
    assert np.diff(elapsed).min() >= 0.2


def test_restart_uses_the_cache_and_loads_the_model_in_the_background(
    session: WorkspaceSession,
) -> None:
    recorder = Recorder(session.bus)
    session.start_training(1, {})
    recorder.wait_for("latent_refreshed")
    before = session.status()
    again = WorkspaceSession(session.workspace, session.dataset, EventBus())
    assert again.use_cache()
    status = again.status()
    assert status["model"]["state"] == "loading"
    assert status["checkpoint"]["epochs_trained"] == before["checkpoint"]["epochs_trained"]
    assert dumps(again.training.history()) == dumps(
        session.training.history()
    )  # NaN-safe comparison
    assert again.points_payload()[0] == session.points_payload()[0]
    again.model_wait_s = 0.05
    with pytest.raises(SessionError, match="model loading") as loading:
        again.sample(0)
    assert loading.value.status == 503
    heard = Recorder(again.bus)  # a page that took "loading" from its snapshot
    again.load_model_in_background().join(60)
    assert again.status()["model"]["state"] == "ready"
    # ...hears when that fact changes (its header would say "loading" for good otherwise).
    assert heard.wait_for("model") == {
        "state": "ready",
        "error": None,
        "device": again.status()["device"],
    }
    assert again.sample(0)["pred"] == session.sample(0)["pred"]
