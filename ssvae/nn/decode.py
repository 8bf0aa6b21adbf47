"""Decoding points of the latent space: images, and the classifier's reading where it can.

Every call is one forward pass over all the points given (the page's 400-tile manifold is
one batch, not 400). torch is imported by `decode_latent` only: the grid helpers serve the
CLI's server path, which never loads torch. The classifier is read off the latent only
when it reads the latent alone (`classifier_input == "mean"`); one that also reads the
encoder's features has nothing to read at a point where no image lies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ssvae.nn.model import SSVAE

IMAGE_SIDE = 28
NO_PREDICTION = (
    "no prediction off the data: this classifier reads the encoder's features too, "
    "and a point of the plane has no image to encode"
)


@dataclass
class Decoded:
    images: np.ndarray  # uint8 [N, 28, 28]
    pred: np.ndarray | None  # int64 [N], None when the classifier cannot read a bare latent
    certainty: np.ndarray | None  # float32 [N], max of softmax(logits / temperature)
    note: str | None = None  # why there is no prediction, when there is none


def reads_latent(model: SSVAE) -> bool:
    """True when the classifier's prediction at any latent point is defined."""
    return getattr(model.config, "classifier_input", "mean") == "mean"


def decode_latent(model: SSVAE, latent: np.ndarray) -> Decoded:
    """uint8 images (sigmoid of the decoder's logits) for float latent points [N, d]."""
    import torch

    z_np = np.asarray(latent, dtype=np.float32)
    d = model.config.latent_dim
    if z_np.ndim != 2 or z_np.shape[1] != d:
        raise ValueError(f"decode_latent wants [N, {d}], got shape {z_np.shape}")
    if not np.isfinite(z_np).all():
        raise ValueError("latent points must be finite")
    device = next(model.parameters()).device
    z = torch.from_numpy(np.ascontiguousarray(z_np)).to(device)
    was_training = model.training
    model.eval()
    pred = certainty = None
    try:
        with torch.no_grad():
            pixels = torch.sigmoid(model.decode(z)).mul_(255.0).round_().to(torch.uint8)
            images = pixels.reshape(-1, IMAGE_SIDE, IMAGE_SIDE).cpu().numpy()
            if reads_latent(model):
                probs = torch.softmax(model.classify(z) / model.temperature, dim=1)
                top, cls = probs.max(dim=1)
                pred, certainty = cls.cpu().numpy(), top.float().cpu().numpy()
    finally:
        model.train(was_training)
    return Decoded(images, pred, certainty, None if pred is not None else NO_PREDICTION)


def grid_points(
    x0: float, x1: float, y0: float, y1: float, n: int, ny: int | None = None
) -> np.ndarray:
    """float64 [ny*n, 2] cell centres of an n (columns) × ny (rows, default n) grid over
    [x0, x1] × [y0, y1], row-major with the first row at y1 (the top of a plot), so the
    decoded images tile like the plot."""
    ny = n if ny is None else ny
    if n < 1 or ny < 1:
        raise ValueError(f"a grid needs at least one column and row, got {n}×{ny}")
    xs = x0 + (np.arange(n) + 0.5) * (x1 - x0) / n
    ys = y1 - (np.arange(ny) + 0.5) * (y1 - y0) / ny
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def square_extent(bounds: list[float]) -> list[float]:
    """[x0, x1, y0, y1]: the square around a [xmin, xmax, ymin, ymax] box (its longer side),
    the extent an equal-aspect scatter of those points shows."""
    xmin, xmax, ymin, ymax = bounds
    half = max(xmax - xmin, ymax - ymin) / 2 or 1.0
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    return [cx - half, cx + half, cy - half, cy + half]


def tile(images: np.ndarray, n: int) -> np.ndarray:
    """uint8 [n*28, n*28]: the images of `grid_points(..., n)` laid out as the grid."""
    images = np.asarray(images, dtype=np.uint8)
    if images.shape != (n * n, IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(f"tile wants [{n * n}, 28, 28], got {images.shape}")
    side = n * IMAGE_SIDE
    return images.reshape(n, n, IMAGE_SIDE, IMAGE_SIDE).transpose(0, 2, 1, 3).reshape(side, side)
