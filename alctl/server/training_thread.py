"""TrainingRunner: the one background training thread, its status, history and events.

The worker thread calls InteractiveTrainer.train(); the trainer's callbacks become SSE
events through the EventBus (thread-safe), never touching HTTP objects. Batch progress is
throttled to at most 4/s, and `tick()` (called ~10/s by the app) repeats the last one when
batches are slow, so a page hears from a running session at least twice a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from alctl.server.events import EventBus
from ssvae.config import SESSION_FIELDS, SSVAEConfig
from ssvae.records.events import (
    BatchProgress,
    EpochRecord,
    TrainingCallback,
    TrainResult,
    TrainStart,
)
from ssvae.records.sessions import (
    close_session,
    from_records,
    last_number,
    last_result,
    open_session,
    record_evaluation,
)

# The owner's training job: (epochs, overrides, stop event, the runner as callback).
Job = Callable[[int, dict[str, Any], threading.Event, TrainingCallback], None]
PROGRESS_MIN_GAP_S = 0.25  # at most 4 progress events a second from batches
PROGRESS_MAX_GAP_S = 0.4  # tick() repeats the last one after this long (>= 2/s)


def idle_status(last_result: dict[str, Any] | None) -> dict[str, Any]:
    """`/api/status`'s `training` block when no session runs."""
    return {
        "state": "idle",
        "session": None,
        "epoch": 0,
        "epochs": 0,
        "batch": 0,
        "batches": 0,
        "eta_s": None,
        "last_result": last_result,
    }


class TrainingBusy(Exception):
    """A session is running."""

    status = 409


class NotTraining(Exception):
    """Nothing to stop."""

    status = 409


class TrainingRunner(TrainingCallback):
    """Owns training status, history and the worker thread; `_lock` guards all of it.

    It only listens: `start()` runs the owner's job in the worker thread, the job hands this
    runner to the trainer as its callback, and status, history and events follow what the
    trainer reports. The session number is the trainer's (the next after the last one
    seen); nothing here counts sessions of its own.
    """

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._lock = threading.Lock()
        self._config = SSVAEConfig()
        self._epochs = self._config.max_epochs
        self._clean = (self._config, self._epochs)
        self._records: list[dict[str, Any]] = []
        self._sessions: list[dict[str, Any]] = []
        self._last_session = 0
        self._status = idle_status(None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False  # the server is stopping: no session starts any more
        # Set while no worker thread runs (a session's training, then its saving): background
        # work waits on it (alctl.server.pacing).
        self.idle = threading.Event()
        self.idle.set()
        self._last_progress: dict[str, Any] | None = None
        self._last_progress_at = 0.0  # when the trainer reported it
        self._last_publish = 0.0

    def seed(
        self, config: SSVAEConfig, records: list[dict[str, Any]], sessions: list[dict] | None
    ) -> None:
        """Start from a checkpoint's config, history and sessions (rebuilt when not given)."""
        with self._lock:
            self._config = config
            self._epochs = config.max_epochs
            self._records = [dict(r) for r in records]
            self._sessions = [dict(s) for s in sessions] if sessions else from_records(records)
            asked = [  # only clean sessions' settings carry over
                s["hparams"].get("epochs")
                for s in self._sessions
                if s.get("hparams") and s.get("status") != "failed"
            ]
            self._epochs = next((e for e in reversed(asked) if e), self._epochs)
            self._last_session = last_number(self._sessions, self._records)
            if self._status["state"] == "idle":  # a reloaded page shows how the last one ended
                self._status = idle_status(last_result(self._sessions))

    def hparams(self) -> dict[str, Any]:
        with self._lock:
            return self._hparams_unlocked()

    def _hparams_unlocked(self) -> dict[str, Any]:
        return {"epochs": self._epochs, **{k: getattr(self._config, k) for k in SESSION_FIELDS}}

    def default_epochs(self) -> int:
        return self._epochs

    def status(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._status)

    def history(self) -> dict[str, Any]:
        with self._lock:
            return {"records": list(self._records), "sessions": [dict(s) for s in self._sessions]}

    def sessions(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(s) for s in self._sessions]

    def record_evaluation(self, number: int, evaluation: Mapping[str, Any]) -> None:
        """How session `number`'s weights did (the trainer's entry gets the same fields)."""
        with self._lock:
            record_evaluation(self._sessions, number, evaluation)

    def start(self, epochs: int, overrides: Mapping[str, Any], job: Job) -> dict[str, Any]:
        """Run `job` in the background; ValueError for bad values, TrainingBusy if running.

        `job(epochs, overrides, stop, listener)` trains with `listener` (this runner) as the
        trainer's callback; an exception from it ends the session as "failed".
        """
        with self._lock:
            if self._closed:
                raise TrainingBusy("the server is stopping; start the session once it is back")
            if self._status["state"] != "idle":
                raise TrainingBusy(
                    f"training session {self._status['session']} is already running; "
                    "wait for it or stop it (POST /api/train/stop) first"
                )
            config = self._config.replace(**overrides)  # ValueError names the field
            number = self._last_session + 1  # what the trainer will call it
            self._clean = (self._config, self._epochs)  # restored if this session fails
            self._config, self._epochs = config, epochs
            hparams = self._hparams_unlocked()
            self._status = {
                **idle_status(None),
                "state": "running",
                "session": number,
                "epochs": epochs,
            }
            self._last_progress = None
            self._stop = threading.Event()
            self.idle.clear()
            previous = self._thread
            self._thread = threading.Thread(
                target=self._work,
                args=(job, number, epochs, dict(overrides), self._stop, previous),
                name=f"alctl-train-{number}",
                daemon=True,
            )
            self._thread.start()
        return {"session": number, "epochs": epochs, "hparams": hparams}

    def stop(self) -> dict[str, Any]:
        with self._lock:
            if self._status["state"] == "idle":
                raise NotTraining("no training session is running")
            self._stop.set()
            self._status["state"] = "stopping"
        return {"stopping": True}

    def tick(self) -> None:
        """Repeat the last progress event when batches are slower than PROGRESS_MAX_GAP_S."""
        with self._lock:
            last = self._last_progress
            if self._status["state"] == "idle" or last is None:
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
        previous: threading.Thread | None,
    ) -> None:
        try:
            self._run_job(job, number, overrides, epochs, stop, previous)
        finally:
            with self._lock:
                if self._thread is threading.current_thread():  # no newer session waits
                    self.idle.set()

    def _run_job(
        self,
        job: Job,
        number: int,
        overrides: dict[str, Any],
        epochs: int,
        stop: threading.Event,
        previous: threading.Thread | None,
    ) -> None:
        if previous is not None:
            previous.join()  # the previous session may still be saving its results
        started = time.perf_counter()
        try:
            job(epochs, overrides, stop, self)
        except Exception as exc:  # e.g. no model, unreadable labels: the session fails, we live on
            with self._lock:
                running = self._status["state"] != "idle"
            if running:  # the trainer never reported an end: report it for it
                status = "stopped" if stop.is_set() else "failed"
                message = " ".join(str(exc).split()) or type(exc).__name__
                seconds = time.perf_counter() - started
                self.on_train_end(TrainResult(number, status, 0, 0, message, seconds))
            else:
                self.bus.publish("error", {"message": f"after training session: {exc}"})

    # -- TrainingCallback: called by the trainer in the worker thread ---------------------

    def on_train_start(self, event: TrainStart) -> None:
        with self._lock:
            entry = open_session(event)
            self._sessions.append(entry)
            self._last_session = max(self._last_session, event.session)
            self._status.update(
                session=event.session, batches=event.batches_per_epoch, epoch=0, batch=0
            )
            data = {
                "session": event.session,
                "epochs": event.epochs,
                "start_epoch": event.start_epoch,
                "hparams": entry["hparams"],
                "batches": event.batches_per_epoch,
                "n_labeled": event.n_labeled,
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
        with self._lock:
            record = event.to_dict()
            self._records.append(record)
            # `time` (unix seconds) lets a client measure how late the event reached it.
            self.bus.publish("train_epoch", {**record, "time": time.time()})

    def on_train_end(self, event: TrainResult) -> None:
        with self._lock:
            entry = next((s for s in self._sessions if s["session"] == event.session), None)
            if entry is not None:
                close_session(entry, event)
            if event.status == "failed":  # only clean sessions' settings carry over
                self._config, self._epochs = self._clean
            data = event.to_dict()
            self._status = idle_status(data)
            self._last_progress = None
            self.bus.publish("train_ended", data)
