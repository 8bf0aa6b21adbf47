"""The scatter's data: the `/api/points` binary layout and the points the page shows.

The prediction cache's format lives in `ssvae.io.points_cache` (the scripts write it too).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from ssvae.select.latent_view import LatentView
from ssvae.select.points import Predictions2D


@dataclass(frozen=True)
class PageMap:
    """`/api/points` coordinates <-> the model's 2-D view: `page = (xy - centre) / half`.

    Computed in float64; the page's float32 coordinates come back to within float32
    rounding (about 1e-7 of `half`).
    """

    centre: tuple[float, float] = (0.0, 0.0)
    half: float = 1.0

    def to_page(self, xy: np.ndarray) -> np.ndarray:
        return (np.asarray(xy, dtype=np.float64) - self.centre) / self.half

    def to_view(self, page: np.ndarray) -> np.ndarray:
        return np.asarray(page, dtype=np.float64) * self.half + self.centre

    def to_json(self) -> dict[str, Any]:
        return {"centre": list(self.centre), "half": self.half}


def fit_page_map(xy: np.ndarray) -> PageMap:
    """Centred on the finite points' box, its longer side spanning [-1, 1] (aspect kept)."""
    finite = np.isfinite(xy).all(axis=1)
    if not finite.any():
        return PageMap()
    lo = xy[finite].min(axis=0).astype(np.float64)
    hi = xy[finite].max(axis=0).astype(np.float64)
    half = float(max(hi[0] - lo[0], hi[1] - lo[1])) / 2 or 1.0
    return PageMap((float(lo[0] + hi[0]) / 2, float(lo[1] + hi[1]) / 2), half)


def normalise(xy: np.ndarray) -> tuple[np.ndarray, list[float], PageMap]:
    """Map points into [-1, 1], centred, aspect kept; also [xmin, xmax, ymin, ymax] and the map."""
    page_map = fit_page_map(xy)
    finite = np.isfinite(xy).all(axis=1)
    if not finite.any():
        return np.zeros_like(xy, dtype=np.float32), [-1.0, 1.0, -1.0, 1.0], page_map
    lo, hi = xy[finite].min(axis=0), xy[finite].max(axis=0)
    out = page_map.to_page(xy).astype(np.float32)
    out[~finite] = 0.0  # a diverged model must not poison the page's buffers
    return out, [float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])], page_map


@dataclass(frozen=True)
class Mapping:
    """How a point of the page becomes a latent point, for one version of the points."""

    version: int
    page: PageMap
    view: LatentView

    def page_to_latent(self, page: np.ndarray) -> np.ndarray:
        return self.view.unproject(self.page.to_view(page))

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "page_to_view": self.page.to_json(),
            "view_to_latent": self.view.to_json(),
        }


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
        self._page_map = PageMap()
        self._version = 0

    def set(self, predictions: Predictions2D) -> dict[str, Any]:
        """Show new predictions; returns the new {version, bounds}."""
        xy, bounds, page_map = normalise(predictions.xy)
        no_labels = np.empty(0, np.int8)
        head = points_payload(xy, predictions.certainty, predictions.pred, self._truth, no_labels)
        with self._lock:
            self._predictions, self._head, self._bounds = predictions, head, bounds
            self._page_map = page_map
            self._version += 1
            return self._info()

    def info(self) -> dict[str, Any]:
        with self._lock:
            return self._info()

    def _info(self) -> dict[str, Any]:
        mapping = self._mapping()
        transform = mapping.to_json() if mapping is not None else None
        return {"version": self._version, "bounds": list(self._bounds), "transform": transform}

    def mapping(self) -> Mapping | None:
        """The page -> latent map of the points shown now; None before there are any."""
        with self._lock:
            return self._mapping()

    def _mapping(self) -> Mapping | None:
        predictions = self._predictions
        if predictions is None:
            return None
        view = predictions.view
        if view is None:  # a 2-D (or 1-D) latent's cache: the view is the latent's own axes
            view = LatentView.axes(2)
        return Mapping(self._version, self._page_map, view)

    def payload(self, labels: np.ndarray) -> tuple[bytes, int]:
        """The `/api/points` body with these user labels, and its latent version."""
        with self._lock:
            head, version = self._head, self._version
        return head + np.ascontiguousarray(labels, dtype=np.int8).tobytes(), version

    @property
    def predictions(self) -> Predictions2D | None:
        return self._predictions
