"""TrainingRunner: the one background training thread, its status, history and events.

The worker thread calls InteractiveTrainer.train(); the trainer's callbacks become SSE
events through the EventBus (thread-safe), never touching HTTP objects. Batch progress is
throttled to at most 4/s, and `tick()` (called ~10/s by the app) repeats the last one when
batches are slow, so a page hears from a running session at least twice a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from alctl.server.events import EventBus
from alctl.server.train_status import idle_status, now_iso, session_entry, sessions_from_records
from ssvae.callbacks import BatchProgress, EpochRecord, TrainingCallback, TrainResult, TrainStart
from ssvae.config import SSVAEConfig

if TYPE_CHECKING:
    from alctl.server.model_state import ModelState

HPARAMS = ("recon_weight", "kl_weight", "label_weight", "learning_rate", "batch_size")
PROGRESS_MIN_GAP_S = 0.25  # at most 4 progress events a second from batches
PROGRESS_MAX_GAP_S = 0.4  # tick() repeats the last one after this long (>= 2/s)


class TrainingBusy(Exception):
    """A session is running."""

    status = 409


class NotTraining(Exception):
    """Nothing to stop."""

    status = 409


class TrainingHost(Protocol):
    """What the runner needs from the session that owns it."""

    def wait_model(self, stop: threading.Event) -> ModelState | str: ...

    def training_labels(self) -> np.ndarray: ...

    def after_session(self, model: ModelState, result: TrainResult) -> None: ...


class TrainingRunner(TrainingCallback):
    """Owns training status, history and the worker thread; `_lock` guards all of it.

    It is also the trainer's callback: one session runs at a time, so the hooks know
    which session they belong to from the status.
    """

    def __init__(self, bus: EventBus, images: np.ndarray, host: TrainingHost) -> None:
        self.bus, self.images, self.host = bus, images, host
        self._lock = threading.Lock()
        self._config = SSVAEConfig()
        self._epochs = self._config.max_epochs
        self._clean = (self._config, self._epochs)
        self._records: list[dict[str, Any]] = []
        self._sessions: list[dict[str, Any]] = []
        self._next_session = 1
        self._status = idle_status(None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_progress: dict[str, Any] | None = None
        self._last_progress_at = 0.0  # when the trainer reported it
        self._last_publish = 0.0

    def seed(
        self, config: SSVAEConfig, records: list[dict[str, Any]], sessions: list[dict] | None
    ) -> None:
        """Start from a checkpoint's config and history (sessions rebuilt when not given)."""
        with self._lock:
            self._config = config
            self._epochs = config.max_epochs
            self._records = [dict(r) for r in records]
            self._sessions = (
                [dict(s) for s in sessions] if sessions else sessions_from_records(records)
            )
            asked = [
                s["hparams"].get("epochs")
                for s in self._sessions
                if s.get("hparams") and s.get("status") != "failed"
            ]
            self._epochs = next((e for e in reversed(asked) if e), self._epochs)
            numbers = [int(r.get("session", 0)) for r in self._records]
            numbers += [int(s.get("session", 0)) for s in self._sessions]
            self._next_session = max(numbers, default=0) + 1

    def hparams(self) -> dict[str, Any]:
        with self._lock:
            return self._hparams_unlocked()

    def _hparams_unlocked(self) -> dict[str, Any]:
        return {"epochs": self._epochs, **{k: getattr(self._config, k) for k in HPARAMS}}

    def default_epochs(self) -> int:
        return self._epochs

    def status(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._status)

    def history(self) -> dict[str, Any]:
        with self._lock:
            return {"records": list(self._records), "sessions": [dict(s) for s in self._sessions]}

    def start(self, epochs: int, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """Start a session in the background; ValueError for bad values, TrainingBusy if running."""
        with self._lock:
            if self._status["state"] != "idle":
                raise TrainingBusy(
                    f"training session {self._status['session']} is already running; "
                    "wait for it or stop it (POST /api/train/stop) first"
                )
            config = self._config.replace(**overrides)  # ValueError names the field
            number = self._next_session
            self._clean = (self._config, self._epochs)  # restored if this session fails
            self._config, self._epochs = config, epochs
            hparams = self._hparams_unlocked()
            self._sessions.append(session_entry(number, None, now_iso(), hparams, "running"))
            self._status = {
                **idle_status(None),
                "state": "running",
                "session": number,
                "epochs": epochs,
            }
            self._last_progress = None
            self._stop = threading.Event()
            previous = self._thread
            self._thread = threading.Thread(
                target=self._work,
                args=(number, epochs, dict(overrides), self._stop, previous),
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

    def shutdown(self, timeout: float = 60.0) -> None:
        """Stop a running session cooperatively and wait for it to save its work."""
        with self._lock:
            self._stop.set()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    # -- worker thread -------------------------------------------------------------------

    def _work(
        self,
        number: int,
        epochs: int,
        overrides: dict[str, Any],
        stop: threading.Event,
        previous: threading.Thread | None,
    ) -> None:
        if previous is not None:
            previous.join()  # the previous session may still be saving its results
        started = time.perf_counter()
        model = self.host.wait_model(stop)
        if isinstance(model, str):
            status = "stopped" if stop.is_set() else "failed"
            self._finish(TrainResult(number, status, 0, 0, model, 0.0), number)
            return
        # The trainer numbers sessions too (its numbers go into the checkpoint's history);
        # ours also count sessions that ended before any epoch, so ours may be ahead.
        model.trainer.session = max(model.trainer.session, number - 1)
        number = self._renumber(number, model.trainer.session + 1)
        try:
            labels = self.host.training_labels()
            result = model.trainer.train(
                self.images,
                labels,
                epochs=epochs,
                callbacks=[self],
                stop_event=stop,
                **overrides,
            )
        except Exception as exc:  # e.g. an unreadable label file: the session fails, we live on
            seconds = time.perf_counter() - started
            epochs_done = model.trainer.epochs_trained
            result = TrainResult(
                number, "failed", 0, epochs_done, f"{type(exc).__name__}: {exc}", seconds
            )
        self._finish(result, number)
        # A stopped session has changed weights even without a complete epoch.
        if result.status != "failed" or result.epochs_run > 0:
            self.host.after_session(model, result)

    def _renumber(self, planned: int, actual: int) -> int:
        if planned != actual:
            with self._lock:
                self._entry(planned)["session"] = actual
                self._status["session"] = actual
        return actual

    def _entry(self, number: int) -> dict[str, Any]:
        return next(s for s in reversed(self._sessions) if s["session"] == number)

    def _finish(self, result: TrainResult, number: int) -> None:
        data = {**result.to_dict(), "session": number}
        with self._lock:
            entry = self._entry(number)
            entry.update(status=result.status, epochs_run=result.epochs_run, error=result.error)
            if result.status == "failed":  # only clean sessions' settings carry over
                self._config, self._epochs = self._clean
            self._status = idle_status(data)
            self._last_progress = None
            self._next_session = max(self._next_session, number + 1)
            self.bus.publish("train_ended", data)

    # -- TrainingCallback: called by the trainer in the worker thread ---------------------

    def on_train_start(self, event: TrainStart) -> None:
        with self._lock:
            number = self._status["session"]
            self._status.update(batches=event.batches_per_epoch, epoch=0, batch=0)
            self._entry(number)["start_global_epoch"] = event.start_epoch
            hparams = {"epochs": event.epochs, **{k: event.config.get(k) for k in HPARAMS}}
            data = {
                "session": number,
                "epochs": event.epochs,
                "start_epoch": event.start_epoch,
                "hparams": hparams,
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
            # `time` (unix seconds) lets a client measure how late the event reached it.
            record = {**event.to_dict(), "session": self._status["session"], "time": time.time()}
            self._records.append(record)
            self.bus.publish("train_epoch", record)
