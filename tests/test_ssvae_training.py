"""Trainer / InteractiveTrainer: continuation, callbacks, stop, failure, learning."""

from __future__ import annotations

import json
import math
import threading

import numpy as np
import pytest
import torch

from ssvae.config import SSVAEConfig
from ssvae.nn.model import evaluate_accuracy
from ssvae.records.events import (
    BatchProgress,
    EpochRecord,
    TrainingCallback,
    TrainResult,
    TrainStart,
)
from ssvae.train.batches import validation_split
from ssvae.train.trainer import InteractiveTrainer
from tests.datagen import synthetic_digits

SMALL = SSVAEConfig(hidden_dims=(64, 32), batch_size=64, labeled_batch_size=16)


# Model tests run single-threaded: steadier timings and no fight with other processes.
pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    return synthetic_digits(200, seed=3)


def some_labels(targets: np.ndarray, n: int) -> np.ndarray:
    labels = np.full(len(targets), -1, dtype=np.int64)
    labels[:n] = targets[:n]
    return labels


class Recorder(TrainingCallback):
    def __init__(self) -> None:
        self.events: list[object] = []

    def on_train_start(self, event: TrainStart) -> None:
        self.events.append(event)

    def on_batch_end(self, event: BatchProgress) -> None:
        self.events.append(event)

    def on_epoch_end(self, event: EpochRecord) -> None:
        self.events.append(event)

    def on_train_end(self, event: TrainResult) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


def test_ten_epochs_then_more_is_a_continuation(digits: tuple[np.ndarray, np.ndarray]) -> None:
    images, targets = digits
    labels = some_labels(targets, 30)
    # A constant rate: the one a session's override sets is the one every epoch records.
    trainer = InteractiveTrainer(SMALL.replace(lr_schedule="constant"), device="cpu")
    first = trainer.train(images, labels, epochs=10)
    assert (first.status, first.epochs_run, first.global_epoch) == ("completed", 10, 10)
    step_after_first = _adam_step(trainer)
    assert step_after_first == 10 * 3  # 180 training rows / 64 per batch -> 3 batches
    second = trainer.train(images, labels, epochs=4, learning_rate=3e-4, kl_weight=0.5)
    assert (second.session, second.epochs_run, second.global_epoch) == (2, 4, 14)
    assert trainer.epochs_trained == 14 and _adam_step(trainer) == 14 * 3
    assert all(group["lr"] == 3e-4 for group in trainer.optimizer.param_groups)
    assert trainer.config.kl_weight == 0.5 and trainer.config.learning_rate == 3e-4
    assert [r["global_epoch"] for r in trainer.history] == list(range(1, 15))
    assert [r["session"] for r in trainer.history] == [1] * 10 + [2] * 4
    assert (
        trainer.history[-1]["learning_rate"] == 3e-4 and trainer.history[0]["learning_rate"] == 1e-3
    )


def _adam_step(trainer: InteractiveTrainer) -> int:
    steps = {int(s["step"]) for s in trainer.optimizer.state.values()}
    assert len(steps) == 1
    return steps.pop()


def test_callbacks_see_the_whole_session(digits: tuple[np.ndarray, np.ndarray]) -> None:
    images, targets = digits
    recorder = Recorder()
    trainer = InteractiveTrainer(SMALL, device="cpu")
    result = trainer.train(images, some_labels(targets, 20), epochs=2, callbacks=[recorder])
    start, *_, end = recorder.events
    assert isinstance(start, TrainStart) and isinstance(end, TrainResult) and end == result
    assert (start.epochs, start.start_epoch, start.batches_per_epoch) == (2, 0, 3)
    assert 0 < start.n_labeled <= 20 and start.config == SMALL.to_dict()
    batches = recorder.of(BatchProgress)
    assert [(b.epoch, b.batch) for b in batches] == [(e, b) for e in (1, 2) for b in (1, 2, 3)]
    assert batches[-1].eta_s == 0.0 and all(b.loss > 0 for b in batches)
    records = recorder.of(EpochRecord)
    assert [r.global_epoch for r in records] == [1, 2]
    assert (
        set(records[0].train)
        == set(records[0].val)
        == {
            "loss",
            "reconstruction_loss",
            "kl_loss",
            "classification_loss",
            "accuracy",
        }
    )
    for event in recorder.events:
        json.dumps(event.to_dict())  # plain data, ready for SSE


def test_cooperative_stop_between_batches(digits: tuple[np.ndarray, np.ndarray]) -> None:
    images, targets = digits
    stop = threading.Event()

    class StopInSecondEpoch(Recorder):
        def on_batch_end(self, event: BatchProgress) -> None:
            super().on_batch_end(event)
            if (event.epoch, event.batch) == (2, 1):
                stop.set()

    recorder = StopInSecondEpoch()
    trainer = InteractiveTrainer(SMALL, device="cpu")
    result = trainer.train(
        images, some_labels(targets, 10), epochs=5, callbacks=[recorder], stop_event=stop
    )
    assert (result.status, result.epochs_run, result.global_epoch) == ("stopped", 1, 1)
    assert len(recorder.of(BatchProgress)) == 3 + 1, "no batch may run after the stop"
    assert trainer.epochs_trained == 1
    stop.clear()
    assert (
        trainer.train(images, some_labels(targets, 10), epochs=1, stop_event=stop).status
        == "completed"
    )


def test_non_finite_loss_fails_and_the_trainer_stays_usable(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    images, targets = digits
    labels = some_labels(targets, 10)
    trainer = InteractiveTrainer(SMALL, device="cpu")
    trainer.train(images, labels, epochs=1)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    failed = trainer.train(images, labels, epochs=2, recon_weight=1e38)  # overflows to inf
    assert failed.status == "failed" and failed.epochs_run == 0 and failed.global_epoch == 1
    assert "loss became inf" in failed.error and "lower the learning rate" in failed.error
    after = trainer.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "weights must be rolled back"
    again = trainer.train(images, labels, epochs=1, recon_weight=1.0)
    assert again.status == "completed" and again.global_epoch == 2
    assert math.isfinite(trainer.history[-1]["train"]["loss"])


def test_an_exception_in_a_session_is_a_failed_result(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    images, targets = digits

    class Broken(TrainingCallback):
        def on_epoch_end(self, event: EpochRecord) -> None:
            if event.epoch == 2:
                raise OSError("disk full")

    trainer = InteractiveTrainer(SMALL, device="cpu")
    result = trainer.train(images, some_labels(targets, 10), epochs=3, callbacks=[Broken()])
    assert result.status == "failed" and "OSError: disk full" in result.error
    assert trainer.train(images, some_labels(targets, 10), epochs=1).status == "completed"


def test_early_stopping_keeps_the_last_weights(digits: tuple[np.ndarray, np.ndarray]) -> None:
    images, targets = digits
    trainer = InteractiveTrainer(SMALL.replace(learning_rate=1e-12, patience=2), device="cpu")
    result = trainer.train(images, some_labels(targets, 10), epochs=10)
    assert (result.status, result.epochs_run) == ("early_stopped", 3)
    assert trainer.epochs_trained == 3


def test_bad_arguments_change_nothing(digits: tuple[np.ndarray, np.ndarray]) -> None:
    images, targets = digits
    trainer = InteractiveTrainer(SMALL, device="cpu")
    labels = some_labels(targets, 10)
    with pytest.raises(ValueError, match="latent_dim"):
        trainer.train(images, labels, epochs=1, latent_dim=3)
    with pytest.raises(ValueError, match="learning_rate"):
        trainer.train(images, labels, epochs=1, learning_rate=-1.0)
    with pytest.raises(ValueError, match="epochs"):
        trainer.train(images, labels, epochs=0)
    with pytest.raises(ValueError, match="labels must be"):
        trainer.train(images, labels[:-1], epochs=1)
    with pytest.raises(ValueError, match=r"-1 .* or 0-9"):
        trainer.train(images, np.full(len(images), 11), epochs=1)
    with pytest.raises(ValueError, match="uint8"):
        trainer.train(images.astype(np.float32), labels, epochs=1)
    assert trainer.config == SMALL and trainer.session == 0 and trainer.epochs_trained == 0


def test_a_second_session_while_one_runs_is_refused(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    images, targets = digits
    inside, release = threading.Event(), threading.Event()

    class Hold(TrainingCallback):
        def on_batch_end(self, event: BatchProgress) -> None:
            inside.set()
            release.wait(10)

    trainer = InteractiveTrainer(SMALL, device="cpu")
    labels = some_labels(targets, 10)
    worker = threading.Thread(
        target=trainer.train, args=(images, labels), kwargs={"epochs": 1, "callbacks": [Hold()]}
    )
    worker.start()
    assert inside.wait(10) and trainer.is_training
    with pytest.raises(RuntimeError, match="already running"):
        trainer.train(images, labels, epochs=1)
    release.set()
    worker.join(10)
    assert not trainer.is_training and trainer.last_result.status == "completed"


def test_same_seed_same_run(digits: tuple[np.ndarray, np.ndarray]) -> None:
    images, targets = digits
    labels = some_labels(targets, 20)
    runs = []
    for _ in range(2):
        trainer = InteractiveTrainer(SMALL, device="cpu")
        trainer.train(images, labels, epochs=2)
        runs.append([r["train"]["loss"] for r in trainer.history])
    assert runs[0] == runs[1]


def test_validation_split_is_fixed_and_labels_in_it_train() -> None:
    train_a, val_a = validation_split(1000, 0.1, seed=0)
    train_b, val_b = validation_split(1000, 0.1, seed=0)
    assert np.array_equal(val_a, val_b) and np.array_equal(train_a, train_b) and len(val_a) == 100
    assert not set(train_a) & set(val_a) and len(train_a) + len(val_a) == 1000
    assert not np.array_equal(validation_split(1000, 0.1, seed=1)[1], val_a)

    images, targets = synthetic_digits(200, seed=4)
    _, val_idx = validation_split(200, SMALL.val_split, SMALL.seed)
    labels = np.full(200, -1, dtype=np.int64)
    labels[val_idx] = targets[val_idx]  # only validation rows are labeled
    recorder = Recorder()
    InteractiveTrainer(SMALL, device="cpu").train(images, labels, epochs=1, callbacks=[recorder])
    # Every label trains, validation images' labels too; validation measures no classification.
    assert recorder.of(TrainStart)[0].n_labeled == len(val_idx)
    record = recorder.of(EpochRecord)[0]
    assert 0.0 <= record.train["accuracy"] <= 1.0 and record.train["classification_loss"] > 0
    assert math.isnan(record.val["accuracy"]) and math.isnan(record.val["classification_loss"])
    assert math.isfinite(record.val["reconstruction_loss"])


def test_training_on_synthetic_digits_beats_chance() -> None:
    images, targets = synthetic_digits(600, seed=0)
    test_images, test_targets = synthetic_digits(200, seed=1)
    trainer = InteractiveTrainer(SSVAEConfig(batch_size=32), device="cpu")
    before = evaluate_accuracy(trainer.model, test_images, test_targets)
    result = trainer.train(images, some_labels(targets, 100), epochs=10)
    after = evaluate_accuracy(trainer.model, test_images, test_targets)
    assert result.status == "completed"
    assert after >= 0.6 and after > before + 0.3, f"accuracy {before:.2f} -> {after:.2f}"


def test_weight_decay_spares_biases(digits: tuple[np.ndarray, np.ndarray]) -> None:
    images, _ = digits
    trainer = InteractiveTrainer(SMALL.replace(weight_decay=0.5, learning_rate=1e-4))
    groups = trainer.optimizer.param_groups
    assert [g["weight_decay"] for g in groups] == [0.5, 0.0]
    assert all(p.ndim >= 2 for p in groups[0]["params"])
    assert all(p.ndim < 2 for p in groups[1]["params"]) and groups[1]["params"]
    trainer.train(images, np.full(len(images), -1), epochs=1, weight_decay=0.25)
    assert [g["weight_decay"] for g in trainer.optimizer.param_groups] == [0.25, 0.0]


def test_a_one_group_optimizer_state_still_loads(digits: tuple[np.ndarray, np.ndarray]) -> None:
    """Checkpoints written before the parameter groups hold one group; they continue."""
    images, _ = digits
    old = InteractiveTrainer(SMALL)
    params = list(old.model.parameters())
    one_group = torch.optim.AdamW(params, lr=SMALL.learning_rate)
    one_group.zero_grad()
    sum(p.sum() for p in params).backward()
    one_group.step()
    state = one_group.state_dict()
    trainer = InteractiveTrainer(SMALL, model=old.model, optimizer_state=state)
    by_param = {id(p): trainer.optimizer.state[p] for p in params}
    for i, p in enumerate(params):  # each parameter kept its own Adam moments
        assert torch.equal(by_param[id(p)]["exp_avg"], state["state"][i]["exp_avg"])
    assert trainer.train(images, np.full(len(images), -1), epochs=1).status == "completed"
