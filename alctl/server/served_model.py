"""ServedModel: the model the page shows, and what the checkpoint file holds.

These facts change together, so one object owns them under one lock (`_lock`): the loaded
model (a ModelState, None until it has loaded), the checkpoint's epochs and test accuracy,
how many trained epochs exist only in memory after a save that failed, the trainer's records
before the model has loaded (from the points cache, or a fresh config), and the checkpoint
file's stamp as this server last read or wrote it (a file with another stamp was saved by
another program). The page's points come from the model's frozen view: a session's end swaps
the view and the points under `_lock`, and the decoder and the evaluation read both under it,
so no answer mixes two models.

Lock order: `_lock` is taken before `LatentPoints._lock` and never held while torch runs.
torch is imported by `load()` only (through ModelState), in the thread that loads the model.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alctl.server.memory import release_free_memory
from alctl.server.points import LatentPoints, Mapping
from ssvae.config import SSVAEConfig
from ssvae.io.points_cache import checkpoint_stamp
from ssvae.records.sessions import TrainerSnapshot
from ssvae.train.threads import ThreadGovernor

if TYPE_CHECKING:
    from alctl.server.model_state import ModelState
    from ssvae.nn.model import SSVAE
    from ssvae.runs.pipeline import SessionOutcome
    from ssvae.select.points import Predictions2D


class SessionError(Exception):
    """A request the session refuses; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class ServedModel:
    """The loaded model, its load state, the checkpoint facts and the file's stamp."""

    def __init__(self, checkpoint: Path, points: LatentPoints) -> None:
        self.checkpoint = checkpoint
        self.points = points
        self._lock = threading.Lock()
        self._model: ModelState | None = None
        # Set once loading has ended, loaded or not; `error` says why not (written once, by
        # the loading thread, before `ready` is set).
        self.ready = threading.Event()
        self.error: str | None = None
        self._checkpoint: dict[str, Any] = {"epochs_trained": 0, "test_accuracy": None}
        self._unsaved: dict[str, Any] | None = None
        self._records = TrainerSnapshot.of(SSVAEConfig())
        self._stamp = checkpoint_stamp(checkpoint)

    @property
    def model(self) -> ModelState | None:
        """The loaded model; read without the lock (one reference, replaced whole)."""
        return self._model

    @property
    def stamp(self) -> dict[str, int] | None:
        """The checkpoint file as this server last read or wrote it."""
        with self._lock:
            return self._stamp

    def records(self) -> TrainerSnapshot:
        """Config, epochs, history and sessions: the trainer's, or the cache's until it loads."""
        model = self._model
        if model is not None:
            return model.trainer.snapshot()
        with self._lock:
            return self._records

    def take_cache(self, records: TrainerSnapshot, epochs: int, accuracy: Any) -> None:
        """Records and checkpoint facts from a points cache that fits the checkpoint."""
        with self._lock:
            self._records = records
            self._checkpoint = {"epochs_trained": epochs, "test_accuracy": accuracy}

    def load(self, dataset: str, threads: ThreadGovernor) -> None:
        """Load the checkpoint (or a fresh model); CheckpointError when it cannot be used."""
        from alctl.server.model_state import ModelState  # imports torch: off the fast path

        stamp = checkpoint_stamp(self.checkpoint)  # before the read: a save meanwhile shows as new
        model, ckpt = ModelState.open(self.checkpoint, dataset, threads=threads)
        with self._lock:
            self._model = model
            self._stamp = stamp
            self._unsaved = None
            self._checkpoint = {
                "epochs_trained": model.trainer.epochs_trained,
                "test_accuracy": ckpt.test_accuracy if ckpt is not None else None,
            }
        self.ready.set()
        release_free_memory()

    def file_seen(self) -> None:
        """Take the checkpoint file as it is now as known (a rollback wrote it, or it could
        not be loaded and is reported once, not every second)."""
        stamp = checkpoint_stamp(self.checkpoint)
        with self._lock:
            self._stamp = stamp

    def require(self, wait_s: float) -> ModelState:
        """The model, waiting up to `wait_s` while it loads; SessionError (503) without one."""
        self.ready.wait(wait_s)
        model = self._model
        if model is None:
            if self.error:
                raise SessionError(f"the model could not be loaded: {self.error}", 503)
            raise SessionError("model loading", 503)
        return model

    def status(self) -> dict[str, Any]:
        """`{state: loading | ready | failed, error, device}` (device: the state until loaded)."""
        with self._lock:
            model = self._model
        state = "ready" if model is not None else ("failed" if self.error else "loading")
        device = model.device if model is not None else state
        return {"state": state, "error": self.error, "device": device}

    def facts(self) -> dict[str, Any]:
        """`{epochs_trained, test_accuracy}` of the checkpoint file, and `unsaved`."""
        with self._lock:
            return {**self._checkpoint, "unsaved": self._unsaved}

    def cache_facts(self) -> dict[str, Any]:
        """What a points cache records of the checkpoint: epochs and test accuracy."""
        with self._lock:
            return dict(self._checkpoint)

    def trained(self) -> bool:
        """Whether the checkpoint holds at least one trained epoch."""
        with self._lock:
            return int(self._checkpoint.get("epochs_trained") or 0) > 0

    def for_evaluation(self, model: ModelState) -> tuple[SSVAE, int, int]:
        """The page's view model, its points' version and the checkpoint's epochs, together."""
        with self._lock:
            epochs = int(self._checkpoint.get("epochs_trained") or 0)
            return model.view, self.points.info()["version"], epochs

    def for_decoding(self, model: ModelState) -> tuple[SSVAE, Mapping | None]:
        """The page's view model and the page -> latent map of its points, together."""
        with self._lock:
            return model.view, self.points.mapping()

    def show(
        self, model: ModelState, view: SSVAE, points: Predictions2D, outcome: SessionOutcome
    ) -> None:
        """After a session: the new view and points, and what the checkpoint now holds (or,
        when the save failed, how many epochs exist only in memory and why)."""
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
