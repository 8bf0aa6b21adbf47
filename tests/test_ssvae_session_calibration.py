"""A session calibrates its certainty on the check labels its weights have not trained on."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from ssvae.config import SSVAEConfig
from ssvae.io.checkpoint import load_checkpoint, save_checkpoint
from ssvae.nn.model import class_logits
from ssvae.records.events import BatchProgress, TrainingCallback
from ssvae.runs.pipeline import blind_check
from ssvae.select.checks import CALIBRATION_SET, check_order
from ssvae.train.batches import TrainingData
from ssvae.train.calibration import fit_temperature
from ssvae.train.trainer import InteractiveTrainer
from tests.datagen import synthetic_digits

pytestmark = pytest.mark.usefixtures("torch_one_thread")
# "late": fitted at CALIBRATE_AT, then the checks train (the default, "end", below).
CONFIG = SSVAEConfig(hidden_dims=(32, 16), batch_size=64, labeled_batch_size=16, calibration="late")
N = 750  # 15 check candidates


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    return synthetic_digits(N, seed=5)


def _labels(targets: np.ndarray, checks: int, others: int = 30) -> np.ndarray:
    labels = np.full(N, -1, np.int64)
    picked = check_order(N)[:checks]
    labels[picked] = targets[picked]
    rest = np.setdiff1d(np.arange(N), check_order(N))[:others]
    labels[rest] = targets[rest]
    return labels


def test_withheld_labels_read_unlabeled_until_released(digits: tuple) -> None:
    images, targets = digits
    labels = _labels(targets, 12)
    data = TrainingData.build(images, labels, val_split=0.1, seed=0, device=torch.device("cpu"))
    rows = check_order(N)[:12]
    data.withhold(rows)
    assert (data.labels[torch.from_numpy(rows)] == -1).all()
    assert not np.isin(rows, data.labeled_idx.numpy()).any() and len(data.labeled_idx) == 30
    assert (data.all_labels[torch.from_numpy(rows)] >= 0).all()
    # Batches read labels and labeled rows from these two: no withheld label trains.
    gen = torch.Generator().manual_seed(0)
    assert sum(int((b.y >= 0).sum()) for b in data.train_batches(64, 0, gen)) <= 30
    data.release()
    assert len(data.labeled_idx) == 42 and data.withheld is None


def test_a_session_calibrates_on_its_untrained_checks_then_trains_on_them(
    digits: tuple, tmp_path: Path
) -> None:
    images, targets = digits
    labels = _labels(targets, 12)
    trainer = InteractiveTrainer(CONFIG, "cpu")
    result = trainer.train(images, labels, epochs=3)
    assert result.temperature is not None and result.calibration_labels == 12
    assert trainer.model.temperature == result.temperature
    assert trainer.sessions[-1]["temperature"] == result.temperature
    assert trainer.sessions[-1]["calibration_labels"] == 12
    # Every label trained by the end of the session, the checks too.
    assert trainer.trained_labels == np.flatnonzero(labels >= 0).tolist()
    # Nothing new to calibrate on: the next session keeps the temperature it has.
    again = trainer.train(images, labels, epochs=1)
    assert again.temperature is None and trainer.model.temperature == result.temperature
    # What trained is saved with the weights.
    path = tmp_path / "m.ckpt"
    save_checkpoint(path, **trainer.checkpoint_payload("mnist"))
    ckpt = load_checkpoint(path)
    assert ckpt is not None and ckpt.trained_labels == trainer.trained_labels
    assert InteractiveTrainer.from_checkpoint(ckpt).trained_labels == trainer.trained_labels


def test_too_few_checks_change_nothing(digits: tuple) -> None:
    images, targets = digits
    labels = _labels(targets, 9)  # MIN_LABELS is 10
    trainer = InteractiveTrainer(CONFIG, "cpu")
    result = trainer.train(images, labels, epochs=1)
    assert result.temperature is None and trainer.model.temperature == 1.0
    assert trainer.trained_labels == np.flatnonzero(labels >= 0).tolist()


class _StopAt(TrainingCallback):
    def __init__(self, stop: threading.Event, batch: int) -> None:
        self.stop, self.batch = stop, batch

    def on_batch_end(self, event: BatchProgress) -> None:
        if event.batch >= self.batch:
            self.stop.set()


def test_a_session_stopped_before_the_switch_calibrates_and_its_checks_wait(
    digits: tuple,
) -> None:
    images, targets = digits
    labels = _labels(targets, 12)
    trainer = InteractiveTrainer(CONFIG, "cpu")
    stop = threading.Event()
    result = trainer.train(images, labels, epochs=3, callbacks=[_StopAt(stop, 2)], stop_event=stop)
    assert result.status == "stopped" and result.temperature is not None
    checks = set(check_order(N)[:12].tolist())
    assert trainer.trained_labels is not None and not checks & set(trainer.trained_labels)
    # They are still held out, so the next session calibrates on them again.
    assert trainer.train(images, labels, epochs=1).calibration_labels == 12


def test_weights_of_unknown_training_calibrate_from_their_next_session_on(
    digits: tuple,
) -> None:
    images, targets = digits
    labels = _labels(targets, 12)
    old = InteractiveTrainer(CONFIG, "cpu", trained_labels=None)  # a checkpoint that did not say
    assert old.train(images, labels, epochs=1).temperature is None
    assert old.trained_labels == np.flatnonzero(labels >= 0).tolist()
    more = _labels(targets, 15)
    assert old.train(images, more, epochs=1).calibration_labels == 0  # 3 new: too few


def test_calibration_at_the_end_fits_the_final_weights_on_checks_that_never_trained(
    digits: tuple,
) -> None:
    images, targets = digits
    labels = _labels(targets, 12)
    checks = check_order(N)[:12]
    trainer = InteractiveTrainer(CONFIG.replace(calibration="end"), "cpu")
    result = trainer.train(images, labels, epochs=2)
    assert result.calibration_labels == 12
    # The saved weights' own fit on the checks: nothing trained after it.
    logits = class_logits(trainer.model, images[checks])
    assert result.temperature == pytest.approx(fit_temperature(logits, targets[checks]))
    assert trainer.trained_labels is not None and not set(checks) & set(trainer.trained_labels)
    # Pressed again on the same labels: still honest, fitted afresh on the same checks.
    again = trainer.train(images, labels, epochs=1)
    assert again.calibration_labels == 12
    logits = class_logits(trainer.model, images[checks])
    assert again.temperature == pytest.approx(fit_temperature(logits, targets[checks]))


def test_calibrating_at_the_end_holds_out_the_newest_checks_and_trains_the_older(
    tmp_path: Path,
) -> None:
    n = 1500  # 30 check candidates: more than CALIBRATION_SET
    images, targets = synthetic_digits(n, seed=6)
    order = check_order(n)
    labels = np.full(n, -1, np.int64)
    labels[order] = targets[order]
    trainer = InteractiveTrainer(CONFIG.replace(calibration="end"), "cpu")
    assert trainer.train(images, labels, epochs=1).calibration_labels == CALIBRATION_SET
    held = sorted(order[-CALIBRATION_SET:].tolist())
    assert trainer.trained_labels == sorted(order[:-CALIBRATION_SET].tolist())
    assert trainer.sessions[-1]["held_out_labels"] == held
    # Given to the session, so no longer blind; saved with the session's entry.
    assert trainer.seen_labels == sorted(order.tolist())
    path = tmp_path / "m.ckpt"
    save_checkpoint(path, **trainer.checkpoint_payload("mnist"))
    ckpt = load_checkpoint(path)
    assert ckpt is not None
    assert InteractiveTrainer.from_checkpoint(ckpt).seen_labels == trainer.seen_labels


def test_the_blind_check_counts_only_labels_given_since_the_last_session(digits: tuple) -> None:
    images, targets = digits
    labels = _labels(targets, 12)
    trainer = InteractiveTrainer(CONFIG.replace(calibration="end"), "cpu")
    trainer.train(images, labels, epochs=1)
    more = _labels(targets, 12, others=40)  # 10 new labels, no new check
    blind = blind_check(trainer.model, images, more, trainer.seen_labels)
    assert sorted(blind.serials.tolist()) == sorted(np.flatnonzero((more >= 0) & (labels < 0)))
