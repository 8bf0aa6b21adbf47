"""The torch side of a server: the trainer's live model and a frozen copy that answers the page.

Importing this module imports torch (~3 s), so `alctl.server.served_model` imports it only in
the thread that loads the model. The frozen copy (`view`) is what produced the points on the
page; samples are decoded with it too, so a clicked point's reconstruction always matches
where the point is drawn, even while the trainer changes its own weights.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from ssvae.config import SSVAEConfig, default_config
from ssvae.io.checkpoint import Checkpoint, load_checkpoint
from ssvae.nn.decode import Decoded, decode_latent
from ssvae.nn.model import SSVAE, predict
from ssvae.select.points import Predictions2D
from ssvae.train.device import describe_device
from ssvae.train.threads import ThreadGovernor
from ssvae.train.trainer import InteractiveTrainer


class ModelState:
    """An InteractiveTrainer plus an eval-mode copy of its model for inference."""

    def __init__(self, trainer: InteractiveTrainer) -> None:
        self.trainer = trainer
        self.view = self._frozen_copy()

    @classmethod
    def open(
        cls,
        checkpoint: Path,
        dataset: str,
        config: SSVAEConfig | None = None,
        threads: ThreadGovernor | None = None,
    ) -> tuple[ModelState, Checkpoint | None]:
        """The checkpoint's model (CheckpointError if unusable), or a fresh one if none."""
        ckpt = load_checkpoint(checkpoint, dataset=dataset)
        if ckpt is None:
            return cls(InteractiveTrainer(config or default_config(dataset), threads=threads)), None
        return cls(InteractiveTrainer.from_checkpoint(ckpt, threads=threads)), ckpt

    @property
    def device(self) -> str:
        return describe_device(self.trainer.device, self.trainer.threads.in_use)

    def _frozen_copy(self) -> SSVAE:
        view = copy.deepcopy(self.trainer.model).eval()
        view.requires_grad_(False)
        return view

    def snapshot_view(self) -> SSVAE:
        """A frozen copy of the trainer's current weights (call only between sessions)."""
        return self._frozen_copy()

    def predict_points(self, images: np.ndarray, view: SSVAE | None = None) -> Predictions2D:
        out = predict(view if view is not None else self.view, images, reconstruct=False)
        return Predictions2D.of(out)

    def classify(self, images: np.ndarray, view: SSVAE | None = None) -> np.ndarray:
        """Predicted classes (int64 [N]) of `images`, from `view` (default: the page's model)."""
        if len(images) == 0:
            return np.zeros(0, dtype=np.int64)
        out = predict(view if view is not None else self.view, images, reconstruct=False)
        return out.pred_class

    def sample(self, image: np.ndarray) -> tuple[list[float], np.ndarray]:
        """(latent mean, reconstruction uint8 [28, 28]) of one image, from the view model."""
        view = self.view  # one reference: a refresh mid-call must not mix two models
        out = predict(view, image[None], reconstruct=True)
        assert out.recon is not None
        return [float(v) for v in out.latent[0]], out.recon[0]

    def decode(self, latent: np.ndarray, view: SSVAE) -> Decoded:
        """Images (and the classifier's reading) at latent points, in one forward pass.

        `view` is a frozen copy the trainer never touches, so this neither waits for nor
        disturbs a running session; the batch is small (<= 1,024 points, a few ms).
        """
        return decode_latent(view, latent)
