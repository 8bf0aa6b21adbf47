"""`alctl suggest`: the head of the labeling queue, from the server or from the files.

Offline it ranks the points the server would rank: the prediction cache when it belongs to
the checkpoint on disk (no torch), else the checkpoint's predictions. Both paths end in
`ssvae.select.queue.queue_head`, as `GET /api/queue` does, so the order is the page's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alctl.cli.offline import Files
    from ssvae.select.points import Predictions2D


def offline_queue(files: Files, strategy: str, n: int, data_dir: Any) -> dict[str, Any]:
    from ssvae.select.queue import queue_head
    from ssvae.select.representative import ClusterMemo

    labels = files.store().as_array()
    points, trained = _points(files, data_dir)
    features, memo = None, None
    if strategy == "typical":  # clusters the images themselves (ssvae.data.pixel_features)
        from ssvae.data.datasets import load_dataset
        from ssvae.data.pixel_features import RECIPE, queue_features
        from ssvae.io.queue_cache import QueueCache

        images = load_dataset(files.dataset, data_dir).train_images
        # The server's files: what it computed once is read back, and the order is its own.
        cache = QueueCache(files.workspace.queue_dir, images, queue_features, RECIPE)
        features, memo = cache.features(), ClusterMemo(store=cache)
    head = queue_head(points, labels, strategy, n, trained=trained, memo=memo, features=features)
    return head.to_dict()


def _points(files: Files, data_dir: Any) -> tuple[Predictions2D, bool]:
    """The points to rank and whether the model behind them has trained at all."""
    import numpy as np

    from ssvae.io.points_cache import cache_path_for, load_cache
    from ssvae.select.points import Predictions2D

    ws = files.workspace
    cached = load_cache(
        cache_path_for(ws.checkpoint),
        dataset=files.dataset,
        n_samples=files.n_samples,
        checkpoint=ws.checkpoint,
    )
    if cached is not None and cached.predictions.probs is not None:
        return cached.predictions, int(cached.meta.get("epochs_trained") or 0) > 0
    if not ws.checkpoint.exists():  # nothing trained: the random order, no predictions
        n = files.n_samples
        flat = Predictions2D(
            np.zeros((n, 2)), np.zeros(n), np.full(n, -1), probs=np.full((n, 2), 0.5)
        )
        return flat, False
    from ssvae.data.datasets import load_dataset
    from ssvae.io.checkpoint import load_checkpoint
    from ssvae.nn.model import predict
    from ssvae.nn.restore import build_model

    ckpt = load_checkpoint(ws.checkpoint, dataset=files.dataset)
    assert ckpt is not None
    model, _ = build_model(ckpt)
    images = load_dataset(files.dataset, data_dir).train_images
    out = predict(model, images, reconstruct=False)
    points = Predictions2D.of(out)
    return points, ckpt.epochs_trained > 0


def render(head: dict[str, Any]) -> str:
    lines = [f"queue: {head['pool']:,} unlabeled by {head['strategy']}"]
    if head.get("note"):
        lines.append(f"note: {head['note']}")
    lines.append(f"{'serial':>7}  {'pred':>4}  {'certainty':>9}  {'score':>8}")
    for item in head["items"]:
        pred = item["pred"] if item["pred"] >= 0 else "-"
        lines.append(
            f"{item['serial']:>7}  {pred:>4}  {item['certainty']:>9.3f}  {item['score']:>8.4f}"
        )
    return "\n".join(lines)
