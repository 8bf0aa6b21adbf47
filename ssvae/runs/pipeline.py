"""Whole runs on files: train a checkpoint from a label CSV, or write the predictions npz.

scripts/train.py and scripts/infer.py are argument parsing around these; `alctl`
can call them too when no server is running.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ssvae.config import default_config
from ssvae.data.datasets import Dataset
from ssvae.io.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ssvae.io.history import record_session
from ssvae.io.labels import LabelStore
from ssvae.io.npz import write_predictions_npz
from ssvae.io.points_cache import cache_meta, cache_path_for, save_cache
from ssvae.nn.model import Predictions, predict, view_2d
from ssvae.nn.restore import build_model
from ssvae.records.events import TrainingCallback, TrainResult
from ssvae.records.sessions import record_evaluation
from ssvae.select.points import Predictions2D
from ssvae.train.calibration import held_out_temperature
from ssvae.train.evaluation import session_evaluation
from ssvae.train.trainer import InteractiveTrainer


@dataclass
class TrainRun:
    """What one training run reads and writes."""

    dataset: Dataset
    weights: Path  # read when it exists (continuation), always written
    labels_csv: Path  # a missing file means "no labels yet"
    history_csv: Path
    loss_plot: Path
    explicit: dict[str, Any] = field(default_factory=dict)  # config fields the user gave
    epochs: int | None = None  # None: config.max_epochs
    device: str | None = None


@dataclass
class TrainOutcome:
    result: TrainResult
    test_accuracy: float | None
    n_labeled: int
    continued_from: int  # epochs in the checkpoint before this run
    saved: bool
    labeled_accuracy: float | None = None  # on the labels it trained on


def train_from_files(
    run: TrainRun,
    callbacks: Iterable[TrainingCallback] = (),
    stop_event: threading.Event | None = None,
) -> TrainOutcome:
    """Train (continuing the checkpoint when there is one) and write checkpoint + history + plot.

    Raises CheckpointError / LabelError / ValueError on bad input before training.
    The checkpoint is written when at least one epoch completed, also after a stop.
    """
    ds = run.dataset
    ckpt = load_checkpoint(run.weights, dataset=ds.name)
    if ckpt is None:
        trainer = InteractiveTrainer(default_config(ds.name).replace(**run.explicit), run.device)
    else:
        try:
            config = ckpt.config.replace(**run.explicit)
        except ValueError as exc:
            raise CheckpointError(run.weights, str(exc)) from exc
        trainer = InteractiveTrainer.from_checkpoint(ckpt, run.device, config=config)
    labels = LabelStore(run.labels_csv, ds.n_train).as_array()
    # Labels given since the checkpoint was trained are held out from its weights: the one
    # honest set to fit the certainty's temperature on (see ssvae.train.calibration).
    trained = None if ckpt is None else ckpt.trained_labels
    fitted = held_out_temperature(trainer.model, ds.train_images, labels, trained)
    before = len(trainer.history)
    continued_from = trainer.epochs_trained
    result = trainer.train(
        ds.train_images,
        labels,
        epochs=run.epochs or trainer.config.max_epochs,
        callbacks=callbacks,
        stop_event=stop_event,
    )
    if result.epochs_run == 0:
        return TrainOutcome(result, None, int((labels >= 0).sum()), continued_from, False)
    if fitted is not None and result.temperature is None:  # the session did not calibrate
        trainer.model.temperature = fitted
    test = trainer.predict(ds.test_images, reconstruct=False)
    train = trainer.predict(ds.train_images, reconstruct=False)
    evaluation = session_evaluation(test.pred_class, ds.test_targets, train.pred_class, labels)
    record_evaluation(trainer.sessions, result.session, evaluation)  # saved with the entries
    test_accuracy = evaluation["test_accuracy"]
    save_checkpoint(
        run.weights,
        **trainer.checkpoint_payload(ds.name, test_accuracy=test_accuracy),
    )
    record_session(
        run.history_csv, run.loss_plot, trainer.history[before:], trainer.history, trainer.sessions
    )
    _refresh_points_cache(run, trainer, train, test_accuracy)
    return TrainOutcome(
        result,
        test_accuracy,
        int((labels >= 0).sum()),
        continued_from,
        True,
        evaluation["labeled_accuracy"],
    )


def _refresh_points_cache(
    run: TrainRun, trainer: InteractiveTrainer, out: Predictions, accuracy: float | None
) -> None:
    """So that the next `alctl serve` starts warm (no encoding of the training images)."""
    meta = cache_meta(run.dataset.name, run.weights, trainer, accuracy)
    if meta is None:
        return
    with contextlib.suppress(OSError):  # only a cache: the server recomputes what it can't read
        save_cache(
            cache_path_for(run.weights),
            Predictions2D.of(out),
            meta,
        )


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
