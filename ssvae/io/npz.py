"""The predictions `.npz` that scripts/infer.py writes and scripts/view_latent.py reads.

Keys (names kept from the older tool, typo included): `input uint8[N,28,28]`,
`latent float32[N,d]`, `tsne float32[N,2]` (= view_2d(latent), not a t-SNE),
`labels int64[N]` (ground truth), `reconstruted uint8[N,28,28]`, `pred_classes int64[N]`,
`pred_certainty float32[N]`, plus `split` ("train" or "test") so a viewer knows whether
rows are label-CSV serials. numpy only.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ssvae.io.atomic import atomic_write

KEYS = ("input", "latent", "tsne", "labels", "reconstruted", "pred_classes", "pred_certainty")


def write_predictions_npz(path: str | os.PathLike[str], arrays: dict[str, np.ndarray]) -> None:
    """Write the npz atomically (temp file in the same directory, fsync, replace)."""
    missing = [k for k in KEYS if k not in arrays]
    if missing:
        raise ValueError(f"predictions npz needs keys {', '.join(missing)}")
    with atomic_write(path) as handle:
        np.savez(handle, **arrays)


def read_predictions_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Load and check the npz; ValueError naming the file when keys or shapes are wrong."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist; run scripts/infer.py first") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from exc
    missing = [k for k in KEYS if k not in arrays]
    if missing:
        raise ValueError(f"{path}: missing key(s) {', '.join(missing)}")
    n = len(arrays["input"])
    if arrays["input"].shape[1:] != (28, 28) or arrays["tsne"].shape != (n, 2):
        raise ValueError(f"{path}: input must be [N, 28, 28] and tsne [N, 2]")
    for key in KEYS:
        if len(arrays[key]) != n:
            raise ValueError(f"{path}: {key} has {len(arrays[key])} rows, input has {n}")
    if "split" not in arrays:
        arrays["split"] = np.array("train")  # the older tool only wrote the training split
    return arrays
