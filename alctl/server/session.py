"""WorkspaceSession: the one object that owns a served workspace's live state.

It owns the dataset, the labels (LabelState), the model (ModelState, loaded lazily so
torch is imported off the start-up path), the points shown on the page, and the training
runner. `_lock` guards the model, the points and the checkpoint facts; LabelState and
TrainingRunner each guard their own state. Nothing here blocks on torch while holding a
lock, and nothing here runs on the event loop except dictionary work.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from alctl.decode_request import DecodeRequest
from alctl.images import b64_pixels, png_bytes
from alctl.server.cpu_demand import BackgroundJobs, ServerDemand
from alctl.server.decoding import answer
from alctl.server.events import EventBus
from alctl.server.label_state import LabelState
from alctl.server.labeling_queue import LabelingQueue
from alctl.server.memory import AfterBurst, release_free_memory
from alctl.server.pacing import Pacer
from alctl.server.points import LatentPoints, Mapping
from alctl.server.report_file import ReportFile
from alctl.server.split_evaluation import SplitEvaluation
from alctl.server.training_thread import SessionEnd, TrainingBusy, TrainingRunner
from ssvae.config import SSVAEConfig
from ssvae.data.datasets import Dataset
from ssvae.data.pixel_features import RECIPE, queue_features
from ssvae.io.checkpoint_integrity import backup_problem
from ssvae.io.checkpoint_lock import CheckpointLock
from ssvae.io.labels import LabelStore
from ssvae.io.points_cache import cache_meta, checkpoint_stamp, load_cache, save_cache
from ssvae.io.queue_cache import QueueCache
from ssvae.io.workspace import Workspace
from ssvae.records.sessions import TrainerSnapshot, evaluation_curve, now_iso
from ssvae.select.latent_view import LatentView
from ssvae.train.threads import ThreadGovernor

if TYPE_CHECKING:
    from alctl.server.model_state import ModelState
    from ssvae.records.events import TrainingCallback
    from ssvae.runs.pipeline import SessionOutcome

MODEL_WAIT_S = 5.0  # how long a sample request waits for a model still loading


class SessionError(Exception):
    """A request the session refuses; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class WorkspaceSession:
    """Dataset, labels, model, points and training of one workspace + dataset."""

    def __init__(
        self, workspace: Workspace, dataset: Dataset, bus: EventBus, threads: int | None = None
    ) -> None:
        self.workspace, self.dataset, self.bus = workspace, dataset, bus
        # The trainer's thread count: `threads` (--threads), else OMP_NUM_THREADS, else the
        # policy, which hears of connected pages and of the background jobs counted here.
        self.jobs = BackgroundJobs()
        self.threads = ThreadGovernor.for_process(ServerDemand(bus, self.jobs).now, threads)
        self.n_samples = dataset.n_train
        self.pid, self.started_at = os.getpid(), now_iso()
        # Unique per server process: a page that sees it change knows its token, versions and
        # session numbers belong to a server that is gone.
        self.instance = secrets.token_hex(8)
        self.labels = LabelState(LabelStore(workspace.labels_csv, self.n_samples), bus)
        self.training = TrainingRunner(bus, self.records)
        self.cache_path = workspace.points_cache
        # Set when the server begins to stop: long computations end at their next step, and
        # a session's save skips the loss-curve picture (start-up redraws it).
        self.stopping = threading.Event()
        self.pacer = Pacer(self.stopping, self.training.idle_event)
        self.model_wait_s = MODEL_WAIT_S
        self.points = LatentPoints(dataset.train_targets)
        self._lock = threading.Lock()
        self._model: ModelState | None = None
        self._model_ready = threading.Event()
        self._model_error: str | None = None
        # What the checkpoint file holds (epochs, test accuracy) and, after a save that
        # failed, how many trained epochs exist only in memory and why.
        self._checkpoint: dict[str, Any] = {"epochs_trained": 0, "test_accuracy": None}
        self._unsaved: dict[str, Any] | None = None
        # The trainer's records before the model has loaded (from the cache, or a fresh
        # config); the trainer itself once it has.
        self._records = TrainerSnapshot.of(SSVAEConfig())
        # Start and rollback exclude each other inside this server (the checkpoint's file
        # lock excludes every other process): a session never starts on a model a rollback
        # is replacing, a rollback never lands while a session is being started.
        self._exclusive = threading.Lock()
        self.test_split = SplitEvaluation(dataset)
        self.report = ReportFile(workspace, dataset, self.jobs)
        queue_cache = QueueCache(workspace.queue_dir, dataset.train_images, queue_features, RECIPE)
        self.labeling_queue = LabelingQueue(
            self.points, self.labels, self._trained, queue_cache, self.pacer, self.jobs
        )
        self._stamp = checkpoint_stamp(workspace.checkpoint)  # the file as we last saw it
        self.after_burst = AfterBurst()  # memory is released once heavy requests pause

    # -- start-up ------------------------------------------------------------------------

    def use_cache(self) -> bool:
        """Take points, history and checkpoint facts from the cache if it fits the checkpoint."""
        cached = load_cache(
            self.cache_path,
            dataset=self.dataset.name,
            n_samples=self.n_samples,
            checkpoint=self.workspace.checkpoint,
        )
        if cached is None:
            return False
        meta = cached.meta
        try:
            config = SSVAEConfig.from_dict(meta["config"])
        except (KeyError, TypeError, ValueError):
            return False
        records = TrainerSnapshot.of(
            config, meta.get("epochs_trained", 0), meta.get("history", []), meta.get("sessions")
        )
        with self._lock:
            self._records = records
            self._checkpoint = {
                "epochs_trained": int(meta.get("epochs_trained", 0)),
                "test_accuracy": meta.get("test_accuracy"),
            }
        self.points.set(cached.predictions)
        self.labeling_queue.warm()
        return True

    def records(self) -> TrainerSnapshot:
        """Config, epochs, history and sessions: the trainer's, or the cache's until it loads."""
        model = self._model
        if model is not None:
            return model.trainer.snapshot()
        with self._lock:
            return self._records

    def load_model(self) -> None:
        """Load the checkpoint (or a fresh model); CheckpointError when it cannot be used."""
        from alctl.server.model_state import ModelState  # imports torch: off the fast path

        stamp = checkpoint_stamp(self.workspace.checkpoint)
        model, ckpt = ModelState.open(
            self.workspace.checkpoint, self.dataset.name, threads=self.threads
        )
        with self._lock:
            self._model = model
            self._stamp = stamp
            self._unsaved = None
            self._checkpoint = {
                "epochs_trained": model.trainer.epochs_trained,
                "test_accuracy": ckpt.test_accuracy if ckpt is not None else None,
            }
        self._model_ready.set()
        release_free_memory()

    def load_model_in_background(self) -> threading.Thread:
        """Load the model while the page is already served from the cache."""

        def load() -> None:
            try:
                self.load_model()
                self._complete_cached_points()
            except Exception as exc:
                self._model_error = " ".join(str(exc).split()) or type(exc).__name__
                self.bus.publish(
                    "error", {"message": f"the model could not be loaded: {self._model_error}"}
                )
            finally:
                self._model_ready.set()
                # A page took "loading" from its snapshot: tell it that this fact changed.
                self.bus.publish("model", self.model_status())

        thread = threading.Thread(target=load, name="alctl-model-load", daemon=True)
        thread.start()
        return thread

    def _complete_cached_points(self) -> None:
        """A cache written before the queue existed has no probabilities: rank from the model."""
        cached = self.points.predictions
        if cached is not None and cached.probs is None:
            self.compute_points()
            self.bus.publish("latent_refreshed", self.points.info())

    def compute_points(self) -> str | None:
        """Predict every training image with the loaded model and cache the result.

        Returns what kept the cache from being written, in words (the page still gets its
        points; the next start computes them again), or None.
        """
        model = self._require_model(0.0)
        self.points.set(model.predict_points(self.dataset.train_images))
        self.labeling_queue.warm()
        try:
            self._write_cache()
        except OSError as exc:
            message = f"the points cache was not written ({exc}); the next start recomputes it"
            self.bus.publish("error", {"message": message})
            return message
        return None

    # -- state for the API ---------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        checkpoint = self.workspace.checkpoint
        records = self.records()
        with self._lock:
            facts = {**self._checkpoint, "unsaved": self._unsaved}
        model_status = self.model_status()
        return {
            "dataset": self.dataset.name,
            "dataset_source": self.dataset.source,
            "n_samples": self.n_samples,
            "class_names": list(self.dataset.class_names),
            "labels": self.labels.stats(),
            "checkpoint": {
                "path": str(checkpoint),
                "exists": checkpoint.exists(),
                "backup_warning": backup_problem(checkpoint),
                **facts,
            },
            "training": self.training.status(),
            "hparams": records.hparams(),
            "latent": self.points.info(),
            # Did it get better: one point per evaluated session, saved with the sessions.
            "evaluations": evaluation_curve(records.sessions),
            "device": model_status["device"],
            "threads": self.threads.describe(),
            "model": {"state": model_status["state"], "error": model_status["error"]},
            "server": {
                "pid": self.pid,
                "started_at": self.started_at,
                "workspace": str(self.workspace.root),
                "instance": self.instance,
            },
        }

    def model_status(self) -> dict[str, Any]:
        """`{state: loading | ready | failed, error, device}` (device: the state until loaded)."""
        with self._lock:
            model = self._model
        state = "ready" if model is not None else ("failed" if self._model_error else "loading")
        device = model.device if model is not None else state
        return {"state": state, "error": self._model_error, "device": device}

    def points_payload(self) -> tuple[bytes, int]:
        """The `/api/points` body and the latent version it shows."""
        return self.points.payload(self.labels.array())

    def queue(self, strategy: str, n: int) -> dict[str, Any]:
        """`/api/queue`: the next `n` unlabeled samples to label, by `strategy`."""
        return self.labeling_queue.head(strategy, n)

    def evaluation(self) -> dict[str, Any]:
        """`/api/evaluation`: the test split's confusion matrix and per-class accuracy, from the
        weights the page shows (a frozen copy: a running session is neither waited for nor
        disturbed)."""
        model = self._require_model(self.model_wait_s)
        if len(self.dataset.test_targets) == 0:
            raise SessionError(f"{self.dataset.name} has no test split to evaluate on", 409)
        with self._lock:  # the view and the points' version change together (_after)
            view = model.view
            version = self.points.info()["version"]
            epochs = int(self._checkpoint.get("epochs_trained") or 0)
        if epochs == 0:
            raise SessionError(
                "the model has not been trained yet: train once (Start training or "
                "`alctl train`), then evaluate",
                409,
            )
        answer = self.test_split.get(version, lambda images: model.classify(images, view))
        return {**answer, "epochs_trained": epochs}

    def sample(self, serial: int) -> dict[str, Any]:
        """Everything the sample panel shows; blocks up to MODEL_WAIT_S while the model loads."""
        model = self._require_model(self.model_wait_s)
        image = self.dataset.train_images[serial]
        latent, recon = model.sample(image)
        points = self.points.predictions
        assert points is not None
        return {
            "serial": serial,
            "truth": int(self.dataset.train_targets[serial]),
            "pred": int(points.pred[serial]),
            "certainty": float(points.certainty[serial]),
            "label": self.labels.get(serial),
            "latent": latent,
            "original": b64_pixels(image),
            "recon": b64_pixels(recon),
        }

    def decode(self, request: DecodeRequest) -> dict[str, Any]:
        """`/api/decode`: images at points of the plane, from the model the page shows."""
        model = self._require_model(self.model_wait_s)
        with self._lock:
            view_model = model.view
            mapping = self.points.mapping()
        if mapping is None:
            raise SessionError("no points yet: the model's view is still being computed", 503)
        d = view_model.config.latent_dim
        view = mapping.view if mapping.view.latent_dim == d else LatentView.axes(d)
        page_map = mapping.page
        page = request.space == "page"
        view_xy = page_map.to_view(request.points) if page else request.points
        latent = view.unproject(view_xy)
        started = time.perf_counter()
        with self.jobs.running():
            decoded = model.decode(latent, view_model)
        decode_ms = (time.perf_counter() - started) * 1000
        extras = {
            "version": mapping.version,
            "latent_dim": d,
            "other_components": "at the mean" if d > 2 else None,
            "prediction_note": decoded.note,
            "transform": Mapping(mapping.version, page_map, view).to_json(),
            "decode_ms": decode_ms,
        }
        return answer(
            decoded.images, decoded.pred, decoded.certainty, request, view_xy, latent, extras
        )

    def sample_png(self, serial: int, kind: str) -> bytes:
        image = self.dataset.train_images[serial]
        if kind == "recon":
            image = self._require_model(self.model_wait_s).sample(image)[1]
        return png_bytes(image)

    def set_label(
        self, serial: int, label: int | None, source: str, ticket: tuple[str, int] | None = None
    ) -> dict[str, Any]:
        """Label (or, with None, unlabel) one image; durable when this returns."""
        out = self.labels.update({serial: label}, source, ticket)
        previous = out["previous"][serial]
        return {"serial": serial, "label": label, "previous": previous, "stats": out["stats"]}

    def update_labels(
        self, changes: dict[int, int | None], source: str, ticket: tuple[str, int] | None = None
    ) -> dict[str, Any]:
        out = self.labels.update(changes, source, ticket)
        return {"changed": len(out["changes"]), "stats": out["stats"]}

    def labels_csv(self) -> str:
        return self.labels.as_csv()

    def labels_json(self) -> dict[str, Any]:
        return self.labels.as_json()

    def history(self) -> dict[str, Any]:
        """`/api/history`: epoch records and session entries."""
        return self.training.history()

    def event_stream(self, *, page: bool = False) -> AsyncIterator[dict[str, str]]:
        """A new SSE subscription; its first event is the status snapshot. `page`: a
        dashboard page (counted by the trainer's thread policy while connected)."""
        return self.bus.stream(self.status, page=page)

    def start_training(self, epochs: int | None, overrides: dict[str, Any]) -> dict[str, Any]:
        """Start a session (`epochs` None: as many as last time); 409 while one runs or saves,
        while a rollback runs, or while another program holds the checkpoint."""
        if epochs is None:
            epochs = self.training.default_epochs()
        if self._model_error:
            raise SessionError(
                f"training is unavailable: the model could not be loaded ({self._model_error})", 503
            )
        if not self._exclusive.acquire(blocking=False):
            raise SessionError("a rollback is in progress; start training once it is done", 409)
        try:
            if not self.training.idle:
                raise TrainingBusy(self._busy_message())
            lock = CheckpointLock(
                self.workspace.checkpoint, f"alctl serve (pid {self.pid}): a training session"
            )
            lock.acquire()  # CheckpointBusy (409) names who holds it
            try:
                job = self._train_job(lock)
                return self.training.start(epochs, overrides, job)  # TrainingBusy: 409
            except BaseException:
                lock.release()
                raise
        except ValueError as exc:
            raise SessionError(str(exc), 400) from exc
        finally:
            self._exclusive.release()

    def exclusive(self, what: str) -> Any:
        """Hold off training starts for a rollback (409 if one is starting or running)."""
        session = self

        class _Held:
            def __enter__(self) -> None:
                if not session._exclusive.acquire(blocking=False):
                    raise SessionError(f"{what} is refused: a training session is starting", 409)
                if not session.training.idle:
                    session._exclusive.release()
                    raise TrainingBusy(f"{what} is refused: {session._busy_message()}")

            def __exit__(self, *exc: object) -> None:
                session._exclusive.release()

        return _Held()

    def _busy_message(self) -> str:
        state = self.training.status()
        doing = "being saved" if state["state"] == "saving" else "already running"
        return (
            f"training session {state['session']} is {doing}; wait for it "
            "(or stop it: POST /api/train/stop) first"
        )

    def stop_training(self) -> dict[str, Any]:
        return self.training.stop()  # NotTraining: 409

    def checkpoint_written(self) -> None:
        """The checkpoint file was replaced on purpose (a rollback): not an outside edit."""
        self._stamp = checkpoint_stamp(self.workspace.checkpoint)

    def begin_shutdown(self) -> None:
        """The server is stopping (a signal came): end the event streams, ask a running
        session to stop after its batch, and end every long computation at its next step;
        none of it waits."""
        self.stopping.set()
        self.bus.close()
        self.training.request_stop()

    def shutdown(self, timeout: float = 60.0) -> None:
        """Stop training cooperatively and wait until its results are saved; end the
        background work."""
        self.begin_shutdown()
        self.training.shutdown(timeout)
        # Not waited for: it ends at its next step, and nothing is lost if the process ends
        # first (it only computes caches, each file replaced whole or not at all).
        self.labeling_queue.close()

    # -- the training job: runs in the runner's thread ------------------------------------

    def _train_job(self, lock: CheckpointLock) -> Any:
        def job(
            epochs: int, overrides: dict[str, Any], stop: threading.Event, listener: Any
        ) -> SessionEnd:
            try:
                return self._train(epochs, overrides, stop, listener)
            finally:
                lock.release()  # after the save: nothing can land on top of it

        return job

    def _train(
        self,
        epochs: int,
        overrides: dict[str, Any],
        stop: threading.Event,
        listener: TrainingCallback,
    ) -> SessionEnd:
        """Run one session through the library's pipeline, then show what it made.

        Raises when the session cannot start (no model, unreadable labels); the runner
        reports that as a failed session.
        """
        from alctl.report.loss_plot import loss_plot_writer
        from ssvae.runs.pipeline import SessionFiles, checkpoint_changed, run_session

        while not self._model_ready.wait(0.2):
            if stop.is_set():
                raise SessionError("stopped before the model finished loading")
        if self._model is None:
            raise SessionError(f"the model could not be loaded: {self._model_error}", 503)
        if checkpoint_changed(self.workspace.checkpoint, self._stamp):
            self._adopt_outside_checkpoint()  # we hold its lock: the file is complete
        model = self._model
        assert model is not None
        labels = self.labels.store.as_array()
        outcome = run_session(
            model.trainer,
            self.dataset,
            labels,
            SessionFiles.of(self.workspace),
            epochs=epochs,
            overrides=overrides,
            callbacks=[listener],
            stop_event=stop,
            expected_stamp=self._stamp,
            # The server stopping: the picture waits for start-up (alctl.server.run).
            after_save=[loss_plot_writer(self.workspace.loss_plot, self.stopping.is_set)],
        )
        for message in outcome.warnings:
            self.bus.publish("error", {"message": f"after training session: {message}"})
        if outcome.points is None:  # no epoch kept: the weights are as they were
            return SessionEnd(outcome.to_dict())
        self._show(model, outcome)
        return SessionEnd(outcome.to_dict(), then=self._publish_points)

    def _show(self, model: ModelState, outcome: SessionOutcome) -> None:
        """The page's model, points and checkpoint facts after a session."""
        from ssvae.select.points import Predictions2D

        view = model.snapshot_view()
        points = Predictions2D.of(outcome.points)
        accuracy = (outcome.evaluation or {}).get("test_accuracy")
        with self._lock:  # the decoder reads the view and the points' map together
            model.view = view
            self.points.set(points)
            if outcome.saved:
                self._stamp = outcome.stamp
                self._checkpoint = {
                    "epochs_trained": model.trainer.epochs_trained,
                    "test_accuracy": accuracy,
                }
                self._unsaved = None
            else:
                saved = int(self._checkpoint.get("epochs_trained") or 0)
                self._unsaved = {
                    "epochs": model.trainer.epochs_trained - saved,
                    "error": outcome.error,
                }
        self.labeling_queue.warm()
        if not self.stopping.is_set():  # a stop spares it: the process ends in a moment
            release_free_memory()

    def _publish_points(self) -> None:
        self.bus.publish("latent_refreshed", self.points.info())

    def check_checkpoint(self) -> bool:
        """Show a checkpoint another program saved while this server was idle (train in one,
        look in the other); called about once a second. False when nothing changed, or when
        now is not the time (a session, a rollback, or the writer still holds the file)."""
        from ssvae.io.checkpoint_lock import Busy, LockUnavailable
        from ssvae.runs.pipeline import checkpoint_changed

        if self._model is None or not self.training.idle:
            return False
        if not checkpoint_changed(self.workspace.checkpoint, self._stamp):
            return False
        if not self._exclusive.acquire(blocking=False):
            return False
        try:
            lock = CheckpointLock(
                self.workspace.checkpoint, f"alctl serve (pid {self.pid}): loading a checkpoint"
            )
            try:
                lock.acquire()
            except (Busy, LockUnavailable):
                return False  # its writer is not done yet: the next check
            try:
                if not checkpoint_changed(self.workspace.checkpoint, self._stamp):
                    return False
                self._adopt_outside_checkpoint()
            finally:
                lock.release()
        finally:
            self._exclusive.release()
        return True

    def _adopt_outside_checkpoint(self) -> None:
        """Another program (scripts/train.py, `alctl train --no-server`) saved the checkpoint
        while this server was idle: show it, and train on from it, never over it. Call with
        the checkpoint's lock held."""
        from ssvae.io.checkpoint import CheckpointError

        path = self.workspace.checkpoint
        try:
            self.load_model()
        except CheckpointError as exc:
            self._stamp = checkpoint_stamp(path)  # told once, not every second
            self.bus.publish(
                "error", {"message": f"{exc}; the page keeps showing the model it had"}
            )
            return
        self.compute_points()
        epochs = self.status()["checkpoint"]["epochs_trained"]
        self.bus.publish(
            "notice",
            {"message": f"{path} was saved by another program ({epochs} epochs): showing it"},
        )
        self._publish_points()

    # -- internals -----------------------------------------------------------------------

    def _trained(self) -> bool:
        with self._lock:
            return int(self._checkpoint.get("epochs_trained") or 0) > 0

    def _require_model(self, wait_s: float) -> ModelState:
        self._model_ready.wait(wait_s)
        model = self._model
        if model is None:
            if self._model_error:
                raise SessionError(f"the model could not be loaded: {self._model_error}", 503)
            raise SessionError("model loading", 503)
        return model

    def _write_cache(self) -> None:
        model = self._model
        points = self.points.predictions
        with self._lock:
            facts = dict(self._checkpoint)
        if points is None or model is None:
            return
        # The history as the trainer kept it (and the checkpoint holds).
        meta = cache_meta(
            self.dataset.name, self.workspace.checkpoint, model.trainer, facts["test_accuracy"]
        )
        if meta is not None:  # None: a fresh, unsaved model, nothing to tie a cache to
            save_cache(self.cache_path, points, {**meta, **facts})
