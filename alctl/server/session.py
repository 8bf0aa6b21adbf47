"""WorkspaceSession: the one object that owns a served workspace's live state.

It composes the parts, each the one owner of its state and lock, and keeps the methods the
routes, the start-up and the tests call:

- LabelState (`label_state.py`): the labels, `_io`;
- ServedModel (`served_model.py`): the model (loaded lazily so torch is imported off the
  start-up path), the checkpoint facts and the file's stamp, `_lock`; the view model and the
  points are swapped together under it;
- LatentPoints (`points.py`): the points shown on the page, `_lock`;
- TrainingRunner (`training_thread.py`): the live training status and its thread, `_lock`;
- StartGate (`start_gate.py`): a start, a rollback and adopting an outside checkpoint, one at
  a time in this server (the checkpoint's file lock orders them across processes);
- ModelLoader (`model_loading.py`), ModelAnswers (`model_answers.py`), the training job
  (`training_job.py`) and outside checkpoints (`outside_checkpoint.py`) act on those parts
  and keep no state of their own.

Nothing here blocks on torch while holding a lock, and nothing here runs on the event loop
except dictionary work.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager
from typing import Any

from alctl.decode_request import DecodeRequest
from alctl.server.cpu_demand import BackgroundJobs, ServerDemand
from alctl.server.events import EventBus
from alctl.server.label_state import LabelState
from alctl.server.labeling_queue import LabelingQueue
from alctl.server.memory import AfterBurst
from alctl.server.model_answers import ModelAnswers
from alctl.server.model_loading import ModelLoader
from alctl.server.outside_checkpoint import check_checkpoint
from alctl.server.pacing import Pacer
from alctl.server.points import LatentPoints
from alctl.server.report_file import ReportFile
from alctl.server.served_model import ServedModel, SessionError
from alctl.server.start_gate import StartGate
from alctl.server.training_job import training_job
from alctl.server.training_thread import TrainingRunner
from ssvae.data.datasets import Dataset
from ssvae.data.pixel_features import RECIPE, queue_features
from ssvae.io.checkpoint_integrity import backup_problem
from ssvae.io.checkpoint_lock import CheckpointLock
from ssvae.io.labels import LabelStore
from ssvae.io.queue_cache import QueueCache
from ssvae.io.workspace import Workspace
from ssvae.records.sessions import TrainerSnapshot, evaluation_curve, now_iso
from ssvae.train.threads import ThreadGovernor

__all__ = ["MODEL_WAIT_S", "SessionError", "WorkspaceSession"]

MODEL_WAIT_S = 5.0  # how long a sample request waits for a model still loading


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
        self.points = LatentPoints(dataset.train_targets)
        self.served = ServedModel(workspace.checkpoint, self.points)
        self.training = TrainingRunner(bus, self.served.records)
        self.gate = StartGate(self.training)
        self.cache_path = workspace.points_cache
        # Set when the server begins to stop: long computations end at their next step, and
        # a session's save skips the loss-curve picture (start-up redraws it).
        self.stopping = threading.Event()
        self.pacer = Pacer(self.stopping, self.training.idle_event)
        self.model_wait_s = MODEL_WAIT_S
        self.report = ReportFile(workspace, dataset, self.jobs)
        queue_cache = QueueCache(workspace.queue_dir, dataset.train_images, queue_features, RECIPE)
        self.labeling_queue = LabelingQueue(
            self.points, self.labels, self.served.trained, queue_cache, self.pacer, self.jobs
        )
        self.loader = ModelLoader(
            dataset,
            self.cache_path,
            self.served,
            self.points,
            self.labeling_queue,
            bus,
            self.threads,
        )
        self.answers = ModelAnswers(dataset, self.served, self.points, self.labels, self.jobs)
        self.after_burst = AfterBurst()  # memory is released once heavy requests pause

    # -- start-up ------------------------------------------------------------------------

    def use_cache(self) -> bool:
        """Take points, history and checkpoint facts from the cache if it fits the checkpoint."""
        return self.loader.use_cache()

    def records(self) -> TrainerSnapshot:
        """Config, epochs, history and sessions: the trainer's, or the cache's until it loads."""
        return self.served.records()

    def load_model(self) -> None:
        """Load the checkpoint (or a fresh model); CheckpointError when it cannot be used."""
        self.loader.load()

    def load_model_in_background(self) -> threading.Thread:
        """Load the model while the page is already served from the cache."""
        return self.loader.load_in_background()

    def compute_points(self) -> str | None:
        """Predict every training image with the loaded model and cache the result; what kept
        the cache from being written, in words, or None."""
        return self.loader.compute_points()

    # -- state for the API ---------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        checkpoint = self.workspace.checkpoint
        records = self.records()
        facts = self.served.facts()
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
        return self.served.status()

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
        return self.answers.evaluation(self.model_wait_s)

    def sample(self, serial: int) -> dict[str, Any]:
        """Everything the sample panel shows; blocks up to MODEL_WAIT_S while the model loads."""
        return self.answers.sample(serial, self.model_wait_s)

    def decode(self, request: DecodeRequest) -> dict[str, Any]:
        """`/api/decode`: images at points of the plane, from the model the page shows."""
        return self.answers.decode(request, self.model_wait_s)

    def sample_png(self, serial: int, kind: str) -> bytes:
        return self.answers.sample_png(serial, kind, self.model_wait_s)

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

    def event_stream(
        self, *, page: bool = False, progress_every_s: float = 0.0
    ) -> AsyncIterator[dict[str, str]]:
        """A new SSE subscription; its first event is the status snapshot. `page`: a
        dashboard page (counted by the trainer's thread policy while connected);
        `progress_every_s`: batch progress at most this often."""
        return self.bus.stream(self.status, page=page, progress_every_s=progress_every_s)

    def publish_points(self) -> None:
        """Tell every page that the points changed (it fetches them again)."""
        self.bus.publish("latent_refreshed", self.points.info())

    # -- training, rollback, checkpoints ------------------------------------------------

    def start_training(self, epochs: int | None, overrides: dict[str, Any]) -> dict[str, Any]:
        """Start a session (`epochs` None: as many as last time); 409 while one runs or saves,
        while a rollback runs, or while another program holds the checkpoint."""
        if epochs is None:
            epochs = self.training.default_epochs()
        if self.served.error:
            raise SessionError(
                f"training is unavailable: the model could not be loaded ({self.served.error})", 503
            )
        try:
            with self.gate.starting():  # 409 during a rollback, or while a session runs
                lock = CheckpointLock(
                    self.workspace.checkpoint, f"alctl serve (pid {self.pid}): a training session"
                )
                lock.acquire()  # CheckpointBusy (409) names who holds it
                try:
                    job = training_job(self, lock)  # the job releases the lock after its save
                    return self.training.start(epochs, overrides, job)  # TrainingBusy: 409
                except BaseException:
                    lock.release()
                    raise
        except ValueError as exc:  # overrides the schema refuses
            raise SessionError(str(exc), 400) from exc

    def exclusive(self, what: str) -> AbstractContextManager[None]:
        """Hold off training starts for a rollback (409 if one is starting or running)."""
        return self.gate.exclusive(what)

    def stop_training(self) -> dict[str, Any]:
        return self.training.stop()  # NotTraining: 409

    def check_checkpoint(self) -> bool:
        """Show a checkpoint another program saved while this server was idle (train in one,
        look in the other); called about once a second (outside_checkpoint.py)."""
        return check_checkpoint(self)

    def checkpoint_written(self) -> None:
        """The checkpoint file was replaced on purpose (a rollback): not an outside edit."""
        self.served.file_seen()

    # -- stopping ------------------------------------------------------------------------

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
