"""The scatter's data: the `/api/points` binary layout and the points the page shows.

The prediction cache's format lives in `ssvae.points_cache` (the scripts write it too).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ssvae.points_cache import Predictions2D


def normalise(xy: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Map points into [-1, 1], centred, aspect kept; also return [xmin, xmax, ymin, ymax]."""
    finite = np.isfinite(xy).all(axis=1)
    if not finite.any():
        return np.zeros_like(xy, dtype=np.float32), [-1.0, 1.0, -1.0, 1.0]
    lo, hi = xy[finite].min(axis=0), xy[finite].max(axis=0)
    centre = (lo + hi) / 2
    half = float(max(hi[0] - lo[0], hi[1] - lo[1])) / 2 or 1.0
    out = ((xy - centre) / half).astype(np.float32)
    out[~finite] = 0.0  # a diverged model must not poison the page's buffers
    return out, [float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])]


def points_payload(
    xy_norm: np.ndarray,
    certainty: np.ndarray,
    pred: np.ndarray,
    truth: np.ndarray,
    labels: np.ndarray,
) -> bytes:
    """The `/api/points` body: xy float32[2N], certainty float32[N], pred, truth, label int8[N]."""
    parts = (
        np.ascontiguousarray(xy_norm, dtype="<f4"),
        np.ascontiguousarray(certainty, dtype="<f4"),
        np.ascontiguousarray(pred, dtype=np.int8),
        np.ascontiguousarray(truth, dtype=np.int8),
        np.ascontiguousarray(labels, dtype=np.int8),
    )
    return b"".join(p.tobytes() for p in parts)


class LatentPoints:
    """The points on the page, from one model state; thread-safe. `version` counts changes."""

    def __init__(self, truth: np.ndarray) -> None:
        self._lock = threading.Lock()
        self._truth = np.asarray(truth).astype(np.int8)
        self._predictions: Predictions2D | None = None
        self._head = b""  # the payload without its last column, the user labels
        self._bounds = [-1.0, 1.0, -1.0, 1.0]
        self._version = 0

    def set(self, predictions: Predictions2D) -> dict[str, Any]:
        """Show new predictions; returns the new {version, bounds}."""
        xy, bounds = normalise(predictions.xy)
        no_labels = np.empty(0, np.int8)
        head = points_payload(xy, predictions.certainty, predictions.pred, self._truth, no_labels)
        with self._lock:
            self._predictions, self._head, self._bounds = predictions, head, bounds
            self._version += 1
            return {"version": self._version, "bounds": list(bounds)}

    def info(self) -> dict[str, Any]:
        with self._lock:
            return {"version": self._version, "bounds": list(self._bounds)}

    def payload(self, labels: np.ndarray) -> tuple[bytes, int]:
        """The `/api/points` body with these user labels, and its latent version."""
        with self._lock:
            head, version = self._head, self._version
        return head + np.ascontiguousarray(labels, dtype=np.int8).tobytes(), version

    @property
    def predictions(self) -> Predictions2D | None:
        return self._predictions
