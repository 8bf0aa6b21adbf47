"""`alctl decode`: what the decoder draws at a point of the latent plane, or a manifold grid.

X Y are coordinates of the model's 2-D view: the latent itself when latent_dim is 2, else
the first two principal components (every other component at the data's mean) — the axes
of the report's scatters, not the page's [-1, 1] coordinates. A grid spans the square around
the training points in that view (the report's manifold figure is the same grid). With a
server, the server decodes (`POST /api/decode`, `"space": "view"`, on the model its page
shows); without one the checkpoint is loaded here.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from alctl.decode_request import grid_body, parse_body, point_body
from alctl.errors import CliError

if TYPE_CHECKING:
    from alctl.cli.offline import Files
    from alctl.cli.server_client import LiveServer

SHADES = " .:-=+*#%@"
MODEL_WAIT_S = 120.0  # a server that just started loads torch and its model in the background


@dataclass
class DecodedPoints:
    images: np.ndarray  # uint8 [N, 28, 28]
    pred: list[int] | None
    certainty: list[float] | None
    note: str | None
    view: np.ndarray  # [N, 2], the points decoded, in view coordinates
    latent: list[list[float]] | None
    class_names: list[str]
    bounds: list[float] | None = None  # a grid's [x0, x1, y0, y1] in the view, grids only


def ascii_image(image: np.ndarray) -> str:
    """A 28×28 image as 14 lines of text (two pixel rows per line)."""
    rows = image.reshape(14, 2, 28).mean(axis=1)
    index = (rows / 256 * len(SHADES)).astype(int).clip(0, len(SHADES) - 1)
    return "\n".join("".join(SHADES[i] for i in row) for row in index)


def request_body(
    xy: tuple[float, float] | None, grid: int | None, bounds: list[float] | None
) -> dict[str, Any]:
    """What `/api/decode` is sent for a point or a grid (checked the same way here offline)."""
    if grid is not None:
        assert bounds is not None
        return grid_body(bounds, grid)
    assert xy is not None
    return point_body(*xy)


def _ask(client: Any, body: dict, wait_s: float = MODEL_WAIT_S) -> dict:
    """POST /api/decode, waiting while a server that just started is still loading its model."""
    from alctl.cli.server_client import ServerError

    deadline = time.monotonic() + wait_s
    while True:
        try:
            return client.request("POST", "/api/decode", body)
        except ServerError as exc:
            if exc.status != 503 or "loading" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(0.5)


def decode_via_server(
    server: LiveServer, xy: tuple[float, float] | None, grid: int | None
) -> DecodedPoints:
    status = server.status
    from ssvae.nn.decode import square_extent

    bounds = square_extent(status["latent"]["bounds"]) if grid is not None else None
    answer = _ask(server.client, request_body(xy, grid, bounds))
    raw = np.frombuffer(base64.b64decode(answer["images"]), np.uint8)
    return DecodedPoints(
        raw.reshape(answer["n"], 28, 28),
        answer["pred"],
        answer["certainty"],
        answer["prediction_note"],
        np.asarray(answer["view"]),
        answer["latent"],
        list(status["class_names"]),
        bounds,
    )


def decode_offline(
    files: Files, data_dir: Path | None, xy: tuple[float, float] | None, grid: int | None
) -> DecodedPoints:
    """Load the checkpoint and decode here; the view's axes and extent come from the points
    cache when it matches the checkpoint, else from encoding the training set."""
    from ssvae.data.datasets import CLASS_NAMES, load_dataset
    from ssvae.io.checkpoint import load_checkpoint
    from ssvae.io.points_cache import cache_path_for, load_cache
    from ssvae.nn.decode import decode_latent, square_extent
    from ssvae.nn.restore import build_model
    from ssvae.select.latent_view import LatentView

    checkpoint = files.workspace.checkpoint
    ckpt = load_checkpoint(checkpoint, dataset=files.dataset)
    if ckpt is None:
        raise CliError(f"no checkpoint at {checkpoint}: train first (`alctl train`)")
    model, config = build_model(ckpt)
    cached = load_cache(
        cache_path_for(checkpoint),
        dataset=files.dataset,
        n_samples=files.n_samples,
        checkpoint=checkpoint,
    )
    if cached is not None:
        predictions = cached.predictions
    else:
        from ssvae.nn.model import predict
        from ssvae.select.points import Predictions2D

        data = load_dataset(files.dataset, data_dir)
        predictions = Predictions2D.of(predict(model, data.train_images, reconstruct=False))
    view = predictions.view
    if view is None or view.latent_dim != config.latent_dim:
        view = LatentView.axes(config.latent_dim)
    bounds = None
    if grid is not None:
        lo, hi = predictions.xy.min(axis=0), predictions.xy.max(axis=0)
        bounds = square_extent([float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])])
    # The server's own check of the body it would have been sent (alctl.decode_request).
    points = parse_body(request_body(xy, grid, bounds)).points
    latent = view.unproject(points)
    decoded = decode_latent(model, latent)
    return DecodedPoints(
        decoded.images,
        None if decoded.pred is None else [int(v) for v in decoded.pred],
        None if decoded.certainty is None else [float(v) for v in decoded.certainty],
        decoded.note,
        points,
        latent.astype(float).tolist() if len(latent) <= 16 else None,
        list(CLASS_NAMES[files.dataset]),
        bounds,
    )
