"""The scatter's data: the `/api/points` binary layout and the prediction cache.

The cache (`artifacts/<dataset>/points_cache.npz`) lets `alctl serve` show the page before
torch is even imported: it holds the 2-D view, certainty and predicted class of every
training image plus the facts of the checkpoint it was computed from (size, mtime_ns,
epochs), and is only used while those facts still match the checkpoint on disk.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ssvae.atomic import atomic_write

CACHE_NAME = "points_cache.npz"
CACHE_FORMAT = 1


@dataclass
class Predictions2D:
    """What the page needs per point, from one model state."""

    xy: np.ndarray  # float32 [N, 2], the model's 2-D view of the latent space
    certainty: np.ndarray  # float32 [N], max softmax
    pred: np.ndarray  # int8 [N]

    def __post_init__(self) -> None:
        self.xy = np.ascontiguousarray(self.xy, dtype=np.float32).reshape(-1, 2)
        self.certainty = np.ascontiguousarray(self.certainty, dtype=np.float32)
        self.pred = np.ascontiguousarray(self.pred, dtype=np.int8)


@dataclass
class CachedPoints:
    predictions: Predictions2D
    meta: dict[str, Any] = field(default_factory=dict)


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


def checkpoint_stamp(path: Path) -> dict[str, int] | None:
    """Size and mtime_ns of the checkpoint, or None when there is none."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def load_cache(
    path: Path, *, dataset: str, n_samples: int, checkpoint: Path
) -> CachedPoints | None:
    """The cached points when they belong to this dataset and checkpoint file, else None."""
    stamp = checkpoint_stamp(checkpoint)
    if stamp is None:
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            predictions = Predictions2D(data["xy"], data["certainty"], data["pred"])
    except (OSError, ValueError, KeyError):
        return None  # missing or unreadable: recompute, it is only a cache
    matches = (
        meta.get("format") == CACHE_FORMAT
        and meta.get("dataset") == dataset
        and meta.get("checkpoint") == stamp
        and len(predictions.pred) == n_samples == len(predictions.xy)
    )
    return CachedPoints(predictions, meta) if matches else None


def save_cache(path: Path, predictions: Predictions2D, meta: dict[str, Any]) -> None:
    """Write atomically (temp + fsync + replace); `meta` must hold dataset and checkpoint."""
    with atomic_write(path, perms=0o644) as handle:
        np.savez(
            handle,
            xy=predictions.xy,
            certainty=predictions.certainty,
            pred=predictions.pred,
            meta=np.array(json.dumps({"format": CACHE_FORMAT, **meta})),
        )


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
