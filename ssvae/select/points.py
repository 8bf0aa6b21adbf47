"""Predictions2D: what the page, the queue and the cache need per training image, from one
model state: its place in the 2-D view, the predicted class, the certainty and the class
probabilities. numpy only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ssvae.select.latent_view import LatentView


@dataclass
class Predictions2D:
    """What the page needs per point, from one model state."""

    xy: np.ndarray  # float32 [N, 2], the model's 2-D view of the latent space
    certainty: np.ndarray  # float32 [N], max softmax
    pred: np.ndarray  # int8 [N]
    view: LatentView | None = None  # the map from the latent to `xy` (and back)
    # float32 [N, classes], calibrated; None from a cache written before the queue existed
    probs: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.xy = np.ascontiguousarray(self.xy, dtype=np.float32).reshape(-1, 2)
        self.certainty = np.ascontiguousarray(self.certainty, dtype=np.float32)
        self.pred = np.ascontiguousarray(self.pred, dtype=np.int8)
        if self.probs is not None:
            self.probs = np.ascontiguousarray(self.probs, dtype=np.float32)

    @classmethod
    def of(cls, out: Any) -> Predictions2D:
        """From `ssvae.nn.model.predict()`'s result (duck-typed: no torch import here)."""
        view = LatentView.fit(out.latent)
        return cls(view.project(out.latent), out.certainty, out.pred_class, view, out.probs)
