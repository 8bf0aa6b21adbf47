"""Inference over a split into infer's npz (scripts/infer.py): the older tool's format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ssvae.data.datasets import Dataset
from ssvae.io.checkpoint import CheckpointError, load_checkpoint
from ssvae.io.npz import write_predictions_npz
from ssvae.nn.model import predict, view_2d
from ssvae.nn.restore import build_model


def infer_to_npz(
    dataset: Dataset,
    weights: Path,
    output: Path,
    *,
    split: str = "train",
    batch_size: int = 4096,
    device: str | None = None,
) -> dict[str, Any]:
    """Run the checkpoint over a split and write the predictions npz; returns a summary."""
    from ssvae.train.device import pick_device

    ckpt = load_checkpoint(weights, dataset=dataset.name)
    if ckpt is None:
        raise CheckpointError(weights, "does not exist; train first (python scripts/train.py)")
    model, _ = build_model(ckpt)
    model = model.to(pick_device(device))
    images, targets = dataset.split(split)
    out = predict(model, images, batch_size=batch_size)
    assert out.recon is not None
    write_predictions_npz(
        output,
        {
            "input": images,
            "latent": out.latent,
            "tsne": view_2d(out.latent),
            "labels": targets.astype(np.int64),
            "reconstruted": out.recon,
            "pred_classes": out.pred_class,
            "pred_certainty": out.certainty,
            "split": np.array(split),
        },
    )
    return {
        "n": len(images),
        "accuracy": float((out.pred_class == targets).mean()),
        "epochs_trained": ckpt.epochs_trained,
        "mean_certainty": float(out.certainty.mean()),
    }
