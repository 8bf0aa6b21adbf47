"""The prediction cache next to a checkpoint: the page's points without importing torch.

`<checkpoint dir>/points_cache.npz` holds the 2-D view, certainty, predicted class and
calibrated class probabilities (what the labeling queue ranks by) of every training image
plus the facts of the checkpoint it was computed from (size, mtime_ns, epochs, config,
history). `alctl serve` uses it only while those facts still match the checkpoint on disk,
so it can show the page before torch has loaded. Whoever writes a checkpoint (the server,
`scripts/train.py`, `alctl train --no-server`) refreshes it. A cache written before the
probabilities were stored still loads (`probs` None). numpy only.
"""

from __future__ import annotations

import errno
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ssvae.io.atomic import atomic_write
from ssvae.io.workspace import POINTS_CACHE_NAME
from ssvae.select.latent_view import LatentView
from ssvae.select.points import Predictions2D

CACHE_NAME = POINTS_CACHE_NAME
CACHE_FORMAT = 1


@dataclass
class CachedPoints:
    predictions: Predictions2D
    meta: dict[str, Any] = field(default_factory=dict)


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
    """The cached points when they belong to this dataset and checkpoint file, else None.

    Never raises for what is at `path`: truncated, garbage, a directory, a pipe or the
    wrong arrays all mean "no cache", and the caller recomputes (the next save rewrites it).
    """
    stamp = checkpoint_stamp(checkpoint)
    if stamp is None or not Path(path).is_file():  # a pipe there would block np.load
        return None
    try:
        cached = _read(path)
        return cached if _fits(cached, dataset, n_samples, stamp) else None
    except Exception:  # zip, zlib, npy, JSON and shape errors alike: it is only a cache
        return None


def _read(path: Path) -> CachedPoints:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        probs = data["probs"] if "probs" in data.files else None
        view = None
        if "view_mean" in data:
            view = LatentView.from_arrays(data["view_mean"], data["view_components"])
        predictions = Predictions2D(data["xy"], data["certainty"], data["pred"], view, probs=probs)
    if not isinstance(meta, dict):
        raise ValueError("meta is not a JSON object")
    return CachedPoints(predictions, meta)


def _fits(cached: CachedPoints, dataset: str, n_samples: int, stamp: dict[str, int]) -> bool:
    meta, predictions = cached.meta, cached.predictions
    latent_dim = (meta.get("config") or {}).get("latent_dim", 2)
    if predictions.view is None and latent_dim > 2:
        return False  # written before the view's axes were kept: the decoder needs them
    return (
        meta.get("format") == CACHE_FORMAT
        and meta.get("dataset") == dataset
        and meta.get("checkpoint") == stamp
        and len(predictions.pred) == n_samples == len(predictions.xy)
        and len(predictions.certainty) == n_samples
        and (predictions.probs is None or len(predictions.probs) == n_samples)
    )


def save_cache(path: Path, predictions: Predictions2D, meta: dict[str, Any]) -> None:
    """Write atomically (temp + fsync + replace); `meta` must hold dataset and checkpoint.

    An empty directory in the cache's place (nothing of anyone's in it) is removed first; any
    other directory stays, and the OSError names the cache's path, not the temp file's.
    """
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        try:
            path.rmdir()
        except OSError as exc:
            raise IsADirectoryError(
                errno.EISDIR, "a directory is in the way of the points cache", str(path)
            ) from exc
    extra = {} if predictions.probs is None else {"probs": predictions.probs}
    view = predictions.view
    axes = {} if view is None else {"view_mean": view.mean, "view_components": view.components}
    with atomic_write(path, perms=0o644) as handle:
        np.savez(
            handle,
            xy=predictions.xy,
            certainty=predictions.certainty,
            pred=predictions.pred,
            meta=np.array(json.dumps({"format": CACHE_FORMAT, **meta})),
            **extra,
            **axes,
        )


def cache_meta(
    dataset: str, checkpoint: Path, trainer: Any, test_accuracy: float | None
) -> dict[str, Any] | None:
    """What a cache records of the checkpoint file and the trainer that wrote it (duck-typed:
    an InteractiveTrainer, without importing torch here); None when there is no file yet."""
    stamp = checkpoint_stamp(checkpoint)
    if stamp is None:
        return None
    return {
        "dataset": dataset,
        "checkpoint": stamp,
        "epochs_trained": trainer.epochs_trained,
        "test_accuracy": test_accuracy,
        "config": trainer.config.to_dict(),
        "history": [dict(r) for r in trainer.history],
        "sessions": [dict(s) for s in trainer.sessions],
    }


def cache_path_for(checkpoint: Path) -> Path:
    return Path(checkpoint).parent / CACHE_NAME
