"""TrainingRunner: the one background training thread, its live status and its events.

The worker thread runs the session's job (`training_job.run_one_session`: the library's session
pipeline); the trainer's callbacks become SSE events through the EventBus (thread-safe),
never touching HTTP objects. The runner keeps only what is live — the state, the epoch and
batch, the progress throttle — and reads config, history and sessions from the trainer's
snapshot (`records`): the trainer is their one owner, nothing here mirrors it.

States: `idle` → `running` (→ `stopping` after a stop request) → `saving` (the loop has
ended, `train_ended` is out; the session is evaluated and saved) → `idle`, then
`session_saved`. `idle` means the save is done: a rollback, a report or the next session
started on `session_saved` never meets a half-saved session.

Batch progress is throttled to at most 4/s, and `tick()` (called ~10/s by the app) repeats
the last one when batches are slow, so a page hears from a running session at least twice a
second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from alctl.server.events import EventBus
from ssvae.records.events import (
    BatchProgress,
    EpochRecord,
    TrainingCallback,
    TrainResult,
    TrainStart,
)
from ssvae.records.sessions import TrainerSnapshot, last_result, session_hparams


@dataclass
class SessionEnd:
    """What a job hands back: `session_saved`'s data, and what to do once that is out."""

    data: dict[str, Any]
    then: Callable[[], None] | None = None


# The owner's training job: (epochs, overrides, stop event, the runner as callback).
Job = Callable[[int, dict[str, Any], threading.Event, TrainingCallback], SessionEnd]
PROGRESS_MIN_GAP_S = 0.25  # at most 4 progress events a second from batches
PROGRESS_MAX_GAP_S = 0.4  # tick() repeats the last one after this long (>= 2/s)


def idle_status(last: dict[str, Any] | None) -> dict[str, Any]:
    """`/api/status`'s `training` block when no session runs."""
    return {
        "state": "idle",
        "session": None,
        "epoch": 0,
        "epochs": 0,
        "batch": 0,
        "batches": 0,
        "eta_s": None,
        "last_result": last,
    }


class TrainingBusy(Exception):
    """A session is running or saving."""

    status = 409


class NotTraining(Exception):
    """Nothing to stop."""

    status = 409


class TrainingRunner(TrainingCallback):
    """Owns the live training status and the worker thread; `_lock` guards both."""

    def __init__(self, bus: EventBus, records: Callable[[], TrainerSnapshot]) -> None:
        self.bus = bus
        self.records = records  # the trainer's snapshot (or the cache's, before it loads)
        self._lock = threading.Lock()
        self._status = idle_status(None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False  # the server is stopping: no session starts any more
        # Set while the state is `idle` (no session trains or saves): background work waits
        # on it (alctl.server.pacing).
        self.idle_event = threading.Event()
        self.idle_event.set()
        self._last_progress: dict[str, Any] | None = None
        self._last_progress_at = 0.0  # when the trainer reported it
        self._last_publish = 0.0

    def hparams(self) -> dict[str, Any]:
        """The next session's settings (during a session: the running one's)."""
        return self.records().hparams()

    def default_epochs(self) -> int:
        return self.records().default_epochs()

    def status(self) -> dict[str, Any]:
        with self._lock:
            status = dict(self._status)
        if status["state"] == "idle" and status["last_result"] is None:
            # A reloaded page or a restarted server shows how the last session ended.
            status["last_result"] = last_result(self.records().sessions)
        return status

    @property
    def idle(self) -> bool:
        with self._lock:
            return self._status["state"] == "idle"

    def history(self) -> dict[str, Any]:
        snapshot = self.records()
        return {"records": snapshot.history, "sessions": snapshot.sessions}

    def sessions(self) -> list[dict[str, Any]]:
        return self.records().sessions

    def start(self, epochs: int, overrides: Mapping[str, Any], job: Job) -> dict[str, Any]:
        """Run `job` in the background; ValueError for bad values, TrainingBusy if running.

        `job(epochs, overrides, stop, listener)` trains with `listener` (this runner) as the
        trainer's callback; an exception from it ends the session as "failed".
        """
        snapshot = self.records()
        config = snapshot.config.replace(**overrides)  # ValueError names the field
        with self._lock:
            if self._closed:
                raise TrainingBusy("the server is stopping; start the session once it is back")
            if self._status["state"] != "idle":
                doing = "being saved" if self._status["state"] == "saving" else "already running"
                raise TrainingBusy(
                    f"training session {self._status['session']} is {doing}; "
                    "wait for it or stop it (POST /api/train/stop) first"
                )
            number = snapshot.last_session + 1  # what the trainer will call it
            hparams = {**snapshot.hparams(), "epochs": epochs}
            hparams.update({k: getattr(config, k) for k in overrides})
            self._status = {
                **idle_status(None),
                "state": "running",
                "session": number,
                "epochs": epochs,
            }
            self._last_progress = None
            self._stop = threading.Event()
            self.idle_event.clear()
            self._thread = threading.Thread(
                target=self._work,
                args=(job, number, epochs, dict(overrides), self._stop),
                name=f"alctl-train-{number}",
                daemon=True,
            )
            self._thread.start()
        return {"session": number, "epochs": epochs, "hparams": hparams}

    def stop(self) -> dict[str, Any]:
        with self._lock:
            if self._status["state"] not in ("running", "stopping"):
                raise NotTraining(
                    "no training session is running"
                    if self._status["state"] == "idle"
                    else "the session has ended and is being saved"
                )
            self._stop.set()
            self._status["state"] = "stopping"
        return {"stopping": True}

    def tick(self) -> None:
        """Repeat the last progress event when batches are slower than PROGRESS_MAX_GAP_S."""
        with self._lock:
            last = self._last_progress
            if self._status["state"] not in ("running", "stopping") or last is None:
                return
            now = time.monotonic()
            if now - self._last_publish < PROGRESS_MAX_GAP_S:
                return
            # Elapsed moves on while a slow batch runs; the ETA is the last estimate, aged.
            age = now - self._last_progress_at
            repeat = {
                **last,
                "elapsed_s": last["elapsed_s"] + age,
                "eta_s": max(0.0, last["eta_s"] - age),
            }
            self._publish_progress(repeat)

    def request_stop(self) -> None:
        """The server is stopping: a running session stops after its current batch (and
        saves), and none starts any more; no wait."""
        with self._lock:
            self._closed = True
            self._stop.set()

    def shutdown(self, timeout: float = 60.0) -> None:
        """Stop a running session cooperatively and wait for it to save its work."""
        self.request_stop()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    # -- worker thread -------------------------------------------------------------------

    def _work(
        self,
        job: Job,
        number: int,
        epochs: int,
        overrides: dict[str, Any],
        stop: threading.Event,
    ) -> None:
        started = time.perf_counter()
        end: SessionEnd | None = None
        try:
            end = job(epochs, overrides, stop, self)
        except Exception as exc:  # e.g. no model, unreadable labels: the session fails, we live on
            message = " ".join(str(exc).split()) or type(exc).__name__
            with self._lock:
                loop_ended = self._status["state"] == "saving"
            if not loop_ended:  # the trainer never reported an end: report it for it
                status = "stopped" if stop.is_set() else "failed"
                seconds = time.perf_counter() - started
                self.on_train_end(TrainResult(number, status, 0, 0, message, seconds))
            end = SessionEnd(
                {"session": number, "status": "failed", "saved": False, "save_error": None}
            )
        finally:
            data = end.data if end is not None else {"session": number, "saved": False}
            with self._lock:
                last = {
                    **(self._status.get("last_result") or {}),
                    "saved": bool(data.get("saved")),
                    "save_error": data.get("save_error"),
                    "evaluation": data.get("evaluation"),
                }
                self._status = idle_status(last)
                self._last_progress = None
                self.idle_event.set()
                self.bus.publish("session_saved", data)
        if end is not None and end.then is not None:
            end.then()

    # -- TrainingCallback: called by the trainer in the worker thread ---------------------

    def on_train_start(self, event: TrainStart) -> None:
        with self._lock:
            self._status.update(
                session=event.session, batches=event.batches_per_epoch, epoch=0, batch=0
            )
            data = {
                "session": event.session,
                "epochs": event.epochs,
                "start_epoch": event.start_epoch,
                "hparams": session_hparams(event.epochs, event.config),
                "batches": event.batches_per_epoch,
                "n_labeled": event.n_labeled,
                # With the number, what tells this session from another of the same number
                # (a page that outlived a crash sees the next session take the lost one's).
                "started_at": event.started_at,
                "threads": event.threads,
            }
            self.bus.publish("train_started", data)

    def on_batch_end(self, event: BatchProgress) -> None:
        with self._lock:
            data = {**event.to_dict(), "session": self._status["session"]}
            self._status.update(
                epoch=event.epoch, batch=event.batch, batches=event.batches, eta_s=event.eta_s
            )
            self._last_progress, self._last_progress_at = data, time.monotonic()
            if self._last_progress_at - self._last_publish >= PROGRESS_MIN_GAP_S:
                self._publish_progress(data)

    def _publish_progress(self, data: dict[str, Any]) -> None:
        self._last_publish = time.monotonic()
        self.bus.publish("train_progress", data)

    def on_epoch_end(self, event: EpochRecord) -> None:
        # `time` (unix seconds) lets a client measure how late the event reached it.
        self.bus.publish("train_epoch", {**event.to_dict(), "time": time.time()})

    def on_train_end(self, event: TrainResult) -> None:
        with self._lock:
            data = event.to_dict()
            self._status = {**self._status, "state": "saving", "last_result": data}
            self._last_progress = None
            self.bus.publish("train_ended", data)
