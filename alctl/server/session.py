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

from alctl.images import b64_pixels, png_bytes
from alctl.server.decoding import DecodeRequest, answer
from alctl.server.events import EventBus
from alctl.server.label_state import LabelState
from alctl.server.labeling_queue import LabelingQueue
from alctl.server.memory import release_free_memory
from alctl.server.pacing import Pacer
from alctl.server.points import LatentPoints, Mapping
from alctl.server.report_file import ReportFile
from alctl.server.split_evaluation import SplitEvaluation
from alctl.server.training_thread import TrainingRunner
from ssvae.config import SSVAEConfig
from ssvae.data.datasets import Dataset
from ssvae.data.pixel_features import RECIPE, queue_features
from ssvae.io.labels import LabelStore
from ssvae.io.points_cache import CACHE_NAME, cache_meta, checkpoint_stamp, load_cache, save_cache
from ssvae.io.queue_cache import QueueCache
from ssvae.io.workspace import Workspace
from ssvae.records.sessions import evaluation_curve, now_iso
from ssvae.select.latent_view import LatentView

if TYPE_CHECKING:
    import numpy as np

    from alctl.server.model_state import ModelState
    from ssvae.records.events import TrainingCallback, TrainResult

MODEL_WAIT_S = 5.0  # how long a sample request waits for a model still loading


class SessionError(Exception):
    """A request the session refuses; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class WorkspaceSession:
    """Dataset, labels, model, points and training of one workspace + dataset."""

    def __init__(self, workspace: Workspace, dataset: Dataset, bus: EventBus) -> None:
        self.workspace, self.dataset, self.bus = workspace, dataset, bus
        self.n_samples = dataset.n_train
        self.pid, self.started_at = os.getpid(), now_iso()
        # Unique per server process: a page that sees it change knows its token, versions and
        # session numbers belong to a server that is gone.
        self.instance = secrets.token_hex(8)
        self.labels = LabelState(LabelStore(workspace.labels_csv, self.n_samples), bus)
        self.training = TrainingRunner(bus)
        # Set when the server begins to stop: long computations end at their next step.
        self.stopping = threading.Event()
        self.pacer = Pacer(self.stopping, self.training.idle)
        self.cache_path = workspace.artifacts_dir / CACHE_NAME
        self.model_wait_s = MODEL_WAIT_S
        self.points = LatentPoints(dataset.train_targets)
        self._lock = threading.Lock()
        self._model: ModelState | None = None
        self._model_ready = threading.Event()
        self._model_error: str | None = None
        self._checkpoint: dict[str, Any] = {"epochs_trained": 0, "test_accuracy": None}
        self.test_split = SplitEvaluation(dataset)
        self.report = ReportFile(workspace, dataset)
        queue_cache = QueueCache(workspace.queue_dir, dataset.train_images, queue_features, RECIPE)
        self.labeling_queue = LabelingQueue(
            self.points, self.labels, self._trained, queue_cache, self.pacer
        )
        self._stamp = checkpoint_stamp(workspace.checkpoint)  # the file as we last saw it

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
        self.training.seed(config, meta.get("history", []), meta.get("sessions"))
        with self._lock:
            self._checkpoint = {
                "epochs_trained": int(meta.get("epochs_trained", 0)),
                "test_accuracy": meta.get("test_accuracy"),
            }
        self.points.set(cached.predictions)
        self.labeling_queue.warm()
        return True

    def load_model(self, *, seed: bool = True) -> None:
        """Load the checkpoint (or a fresh model); CheckpointError when it cannot be used."""
        from alctl.server.model_state import ModelState  # imports torch: off the fast path

        model, ckpt = ModelState.open(self.workspace.checkpoint, self.dataset.name)
        if seed:
            trainer = model.trainer
            self.training.seed(trainer.config, trainer.history, trainer.sessions)
            with self._lock:
                self._checkpoint = {
                    "epochs_trained": model.trainer.epochs_trained,
                    "test_accuracy": ckpt.test_accuracy if ckpt is not None else None,
                }
        with self._lock:
            self._model = model
        self._model_ready.set()
        release_free_memory()

    def load_model_in_background(self) -> threading.Thread:
        """Load the model while the page is already served from the cache."""

        def load() -> None:
            try:
                self.load_model(seed=False)
                self._complete_cached_points()
            except Exception as exc:
                self._model_error = " ".join(str(exc).split()) or type(exc).__name__
                self.bus.publish(
                    "error", {"message": f"the model could not be loaded: {self._model_error}"}
                )
            finally:
                self._model_ready.set()

        thread = threading.Thread(target=load, name="alctl-model-load", daemon=True)
        thread.start()
        return thread

    def _complete_cached_points(self) -> None:
        """A cache written before the queue existed has no probabilities: rank from the model."""
        cached = self.points.predictions
        if cached is not None and cached.probs is None:
            self.compute_points()
            self.bus.publish("latent_refreshed", self.points.info())

    def compute_points(self) -> None:
        """Predict every training image with the loaded model and cache the result."""
        model = self._require_model(0.0)
        self.points.set(model.predict_points(self.dataset.train_images))
        self.labeling_queue.warm()
        self._write_cache()

    # -- state for the API ---------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        checkpoint = self.workspace.checkpoint
        with self._lock:
            model = self._model
            facts = dict(self._checkpoint)
        state = "ready" if model is not None else ("failed" if self._model_error else "loading")
        return {
            "dataset": self.dataset.name,
            "dataset_source": self.dataset.source,
            "n_samples": self.n_samples,
            "class_names": list(self.dataset.class_names),
            "labels": self.labels.stats(),
            "checkpoint": {"path": str(checkpoint), "exists": checkpoint.exists(), **facts},
            "training": self.training.status(),
            "hparams": self.training.hparams(),
            "latent": self.points.info(),
            # Did it get better: one point per evaluated session, saved with the sessions.
            "evaluations": evaluation_curve(self.training.sessions()),
            "device": model.device if model is not None else state,
            "model": {"state": state, "error": self._model_error},
            "server": {
                "pid": self.pid,
                "started_at": self.started_at,
                "workspace": str(self.workspace.root),
                "instance": self.instance,
            },
        }

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

    def event_stream(self) -> AsyncIterator[dict[str, str]]:
        """A new SSE subscription; its first event is the status snapshot."""
        return self.bus.stream(self.status)

    def start_training(self, epochs: int | None, overrides: dict[str, Any]) -> dict[str, Any]:
        """Start a session (`epochs` None: as many as last time); 409 while one runs."""
        if epochs is None:
            epochs = self.training.default_epochs()
        if self._model_error:
            raise SessionError(
                f"training is unavailable: the model could not be loaded ({self._model_error})", 503
            )
        try:
            return self.training.start(epochs, overrides, self._train)  # TrainingBusy: 409
        except ValueError as exc:
            raise SessionError(str(exc), 400) from exc

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

    def _train(
        self,
        epochs: int,
        overrides: dict[str, Any],
        stop: threading.Event,
        listener: TrainingCallback,
    ) -> None:
        """Train one session with `listener` hearing the trainer, then save what it made.

        Raises when the session cannot start (no model, unreadable labels); the runner
        reports that as a failed session.
        """
        while not self._model_ready.wait(0.2):
            if stop.is_set():
                raise SessionError("stopped before the model finished loading")
        model = self._model
        if model is None:
            raise SessionError(f"the model could not be loaded: {self._model_error}", 503)
        labels = self.labels.store.as_array()
        result = model.trainer.train(
            self.dataset.train_images,
            labels,
            epochs=epochs,
            callbacks=[listener],
            stop_event=stop,
            **overrides,
        )
        # A stopped session has changed weights even without a complete epoch.
        if result.status != "failed" or result.epochs_run > 0:
            what = f"after training session {result.session}"
            self._report(
                what, "refresh the predictions", lambda: self._after(model, result, labels, what)
            )

    def _after(self, model: ModelState, result: TrainResult, labels: np.ndarray, what: str) -> None:
        from ssvae.records.sessions import record_evaluation
        from ssvae.train.evaluation import session_evaluation

        view = model.snapshot_view()
        points = model.predict_points(self.dataset.train_images, view)
        test_pred = model.classify(self.dataset.test_images, view)
        ds = self.dataset
        evaluation = session_evaluation(test_pred, ds.test_targets, points.pred, labels)
        trainer = model.trainer
        # Into the entries before they are saved: the curve survives restarts.
        record_evaluation(trainer.sessions, result.session, evaluation)
        self.training.record_evaluation(result.session, evaluation)
        accuracy = evaluation["test_accuracy"]
        saved = self._report(
            what, "save the checkpoint", lambda: self._save_checkpoint(model, accuracy)
        )
        records = [r for r in trainer.history if r.get("session") == result.session]
        if records and saved:
            from ssvae.io.history import record_session

            self._report(
                what,
                "write the history CSV and loss-curve PNG",
                lambda: record_session(
                    self.workspace.history_csv,
                    self.workspace.loss_plot,
                    records,
                    trainer.history,
                    trainer.sessions,
                    plot=not self.stopping.is_set(),  # the server is stopping: see record_session
                ),
            )
        with self._lock:  # the decoder reads the view and the points' map together
            model.view = view
            self._checkpoint = {
                "epochs_trained": model.trainer.epochs_trained,
                "test_accuracy": accuracy,
            }
            latent = self.points.set(points)
        self.labeling_queue.warm()
        if saved:
            self._report(what, "write the prediction cache", self._write_cache)
        self.bus.publish("latent_refreshed", latent)
        if not self.stopping.is_set():  # a stop spares it: the process ends in a moment
            release_free_memory()

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

    def _save_checkpoint(self, model: ModelState, accuracy: float | None) -> None:
        path = self.workspace.checkpoint
        kept = model.save(path, self.dataset.name, accuracy, expected=self._stamp)
        self._stamp = checkpoint_stamp(path)
        if kept is not None:
            message = (
                f"{path} was changed by another program while the server ran; "
                f"kept that file as {kept.name} and saved the server's model"
            )
            self.bus.publish("error", {"message": message})

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

    def _report(self, what: str, action: str, work: Any) -> bool:
        try:
            work()
        except Exception as exc:
            self.bus.publish("error", {"message": f"{what}: could not {action}: {exc}"})
            return False
        return True
