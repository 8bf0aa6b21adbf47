"""ModelLoader: how the served model and the page's points come to be.

At start-up the page is served from the points cache (no torch needed) while the model loads
in a background thread; with no cache that fits the checkpoint the start-up loads the model
and computes the points first. A rollback, or a checkpoint another program saved, loads the
model again and recomputes the points. What is loaded lives in ServedModel (its lock) and
LatentPoints (its own); this object only fills them, and writes the points cache after
computing, so the next start is fast.
"""

from __future__ import annotations

import threading
from pathlib import Path

from alctl.server.events import EventBus
from alctl.server.labeling_queue import LabelingQueue
from alctl.server.points import LatentPoints
from alctl.server.served_model import ServedModel
from ssvae.config import SSVAEConfig
from ssvae.data.datasets import Dataset
from ssvae.io.points_cache import cache_meta, load_cache, save_cache
from ssvae.records.sessions import TrainerSnapshot
from ssvae.train.threads import ThreadGovernor


class ModelLoader:
    """Fills ServedModel and LatentPoints from the cache, the checkpoint or the model."""

    def __init__(
        self,
        dataset: Dataset,
        cache_path: Path,
        served: ServedModel,
        points: LatentPoints,
        labeling_queue: LabelingQueue,
        bus: EventBus,
        threads: ThreadGovernor,
    ) -> None:
        self.dataset, self.cache_path, self.served = dataset, cache_path, served
        self.points, self.labeling_queue, self.bus = points, labeling_queue, bus
        self.threads = threads

    def use_cache(self) -> bool:
        """Take points, history and checkpoint facts from the cache if it fits the checkpoint."""
        cached = load_cache(
            self.cache_path,
            dataset=self.dataset.name,
            n_samples=self.dataset.n_train,
            checkpoint=self.served.checkpoint,
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
        epochs = int(meta.get("epochs_trained", 0))
        self.served.take_cache(records, epochs, meta.get("test_accuracy"))
        self.points.set(cached.predictions)
        self.labeling_queue.warm()
        return True

    def load(self) -> None:
        """Load the checkpoint (or a fresh model); CheckpointError when it cannot be used."""
        self.served.load(self.dataset.name, self.threads)

    def load_in_background(self) -> threading.Thread:
        """Load the model while the page is already served from the cache."""

        def load() -> None:
            try:
                self.load()
                self._complete_cached_points()
            except Exception as exc:
                self.served.error = " ".join(str(exc).split()) or type(exc).__name__
                self.bus.publish(
                    "error", {"message": f"the model could not be loaded: {self.served.error}"}
                )
            finally:
                self.served.ready.set()
                # A page took "loading" from its snapshot: tell it that this fact changed.
                self.bus.publish("model", self.served.status())

        thread = threading.Thread(target=load, name="alctl-model-load", daemon=True)
        thread.start()
        return thread

    def compute_points(self) -> str | None:
        """Predict every training image with the loaded model and cache the result.

        Returns what kept the cache from being written, in words (the page still gets its
        points; the next start computes them again), or None.
        """
        model = self.served.require(0.0)
        self.points.set(model.predict_points(self.dataset.train_images))
        self.labeling_queue.warm()
        try:
            self._write_cache()
        except OSError as exc:
            message = f"the points cache was not written ({exc}); the next start recomputes it"
            self.bus.publish("error", {"message": message})
            return message
        return None

    def _complete_cached_points(self) -> None:
        """A cache written before the queue existed has no probabilities: rank from the model."""
        cached = self.points.predictions
        if cached is not None and cached.probs is None:
            self.compute_points()
            self.bus.publish("latent_refreshed", self.points.info())

    def _write_cache(self) -> None:
        model = self.served.model
        points = self.points.predictions
        facts = self.served.cache_facts()
        if points is None or model is None:
            return
        # The history as the trainer kept it (and the checkpoint holds).
        meta = cache_meta(
            self.dataset.name, self.served.checkpoint, model.trainer, facts["test_accuracy"]
        )
        if meta is not None:  # None: a fresh, unsaved model, nothing to tie a cache to
            save_cache(self.cache_path, points, {**meta, **facts})
