"""`/api/decode`'s answer: the decoded images and where they lie, as one JSON object.

The request is checked by alctl.decode_request, which `alctl decode` calls too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from alctl.decode_request import DecodeRequest
from alctl.images import b64_pixels


def answer(
    images: np.ndarray,
    pred: np.ndarray | None,
    certainty: np.ndarray | None,
    request: DecodeRequest,
    view_xy: np.ndarray,
    latent: np.ndarray,
    extras: dict[str, Any],
) -> dict[str, Any]:
    """The JSON answer: pixels packed as one base64 string of N×784 bytes, row-major."""
    out: dict[str, Any] = {
        "n": int(images.shape[0]),
        "size": [int(images.shape[1]), int(images.shape[2])],
        "grid": request.grid,
        "space": request.space,
        "images": b64_pixels(images),
        "pred": None if pred is None else [int(v) for v in pred],
        "certainty": None if certainty is None else [float(v) for v in certainty],
        "view": view_xy.astype(float).tolist(),
        "latent": latent.astype(float).tolist() if len(latent) <= 16 else None,
    }
    out.update(extras)
    return out
