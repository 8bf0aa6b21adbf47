"""ModelAnswers: what the page asks of the model it shows (a sample, a decode, an evaluation).

Every answer comes from the model's frozen view (`ModelState.view`, the copy that drew the
page's points), never from the trainer's own weights: a running session is neither waited
for nor disturbed, and a clicked point's reconstruction matches where the point is drawn.
It keeps no state of its own besides the test split's cached report (SplitEvaluation, its
own lock); the view and the points are read together under ServedModel's lock. Each answer
waits up to `wait_s` for a model that is still loading, then refuses (503).
"""

from __future__ import annotations

import time
from typing import Any

from alctl.decode_request import DecodeRequest
from alctl.images import b64_pixels, png_bytes
from alctl.server.cpu_demand import BackgroundJobs
from alctl.server.decoding import answer
from alctl.server.label_state import LabelState
from alctl.server.points import LatentPoints, Mapping
from alctl.server.served_model import ServedModel, SessionError
from alctl.server.split_evaluation import SplitEvaluation
from ssvae.data.datasets import Dataset
from ssvae.select.latent_view import LatentView


class ModelAnswers:
    """The sample panel, `/api/decode` and `/api/evaluation`, from the page's model."""

    def __init__(
        self,
        dataset: Dataset,
        served: ServedModel,
        points: LatentPoints,
        labels: LabelState,
        jobs: BackgroundJobs,
    ) -> None:
        self.dataset, self.served, self.points, self.labels = dataset, served, points, labels
        self.jobs = jobs  # a decode counts as background work for the trainer's thread policy
        self.test_split = SplitEvaluation(dataset)

    def sample(self, serial: int, wait_s: float) -> dict[str, Any]:
        """Everything the sample panel shows about one training image."""
        model = self.served.require(wait_s)
        image = self.dataset.train_images[serial]
        latent, recon = model.sample(image)
        points = self.points.predictions
        assert points is not None
        return {
            "serial": serial,
            "truth": int(self.dataset.train_targets[serial]),
            "pred": int(points.pred[serial]),
            "certainty": float(points.certainty[serial]),
            "label": self.labels.get(serial),
            "latent": latent,
            "original": b64_pixels(image),
            "recon": b64_pixels(recon),
        }

    def sample_png(self, serial: int, kind: str, wait_s: float) -> bytes:
        """One training image as PNG: the original, or (`kind` "recon") its reconstruction."""
        image = self.dataset.train_images[serial]
        if kind == "recon":
            image = self.served.require(wait_s).sample(image)[1]
        return png_bytes(image)

    def decode(self, request: DecodeRequest, wait_s: float) -> dict[str, Any]:
        """`/api/decode`: images at points of the plane."""
        model = self.served.require(wait_s)
        view_model, mapping = self.served.for_decoding(model)
        if mapping is None:
            raise SessionError("no points yet: the model's view is still being computed", 503)
        d = view_model.config.latent_dim
        view = mapping.view if mapping.view.latent_dim == d else LatentView.axes(d)
        page_map = mapping.page
        page = request.space == "page"
        view_xy = page_map.to_view(request.points) if page else request.points
        latent = view.unproject(view_xy)
        started = time.perf_counter()
        with self.jobs.running():
            decoded = model.decode(latent, view_model)
        decode_ms = (time.perf_counter() - started) * 1000
        extras = {
            "version": mapping.version,
            "latent_dim": d,
            "other_components": "at the mean" if d > 2 else None,
            "prediction_note": decoded.note,
            "transform": Mapping(mapping.version, page_map, view).to_json(),
            "decode_ms": decode_ms,
        }
        return answer(
            decoded.images, decoded.pred, decoded.certainty, request, view_xy, latent, extras
        )

    def evaluation(self, wait_s: float) -> dict[str, Any]:
        """`/api/evaluation`: the test split's confusion matrix and per-class accuracy."""
        model = self.served.require(wait_s)
        if len(self.dataset.test_targets) == 0:
            raise SessionError(f"{self.dataset.name} has no test split to evaluate on", 409)
        view, version, epochs = self.served.for_evaluation(model)
        if epochs == 0:
            raise SessionError(
                "the model has not been trained yet: train once (Start training or "
                "`alctl train`), then evaluate",
                409,
            )
        report = self.test_split.get(version, lambda images: model.classify(images, view))
        return {**report, "epochs_trained": epochs}
