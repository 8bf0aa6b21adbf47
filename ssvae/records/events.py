"""Training hooks: the trainer calls these; the server turns them into SSE events, scripts print.

Everything here is plain data (no torch) so listeners never hold tensors.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from typing import Any, Literal, TextIO

from ssvae.records.formats import fixed, plural

METRIC_KEYS = ("loss", "reconstruction_loss", "kl_loss", "classification_loss", "accuracy")
Status = Literal["completed", "stopped", "early_stopped", "failed"]


class _Event:
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


@dataclass
class TrainStart(_Event):
    session: int
    epochs: int  # epochs asked for in this session
    start_epoch: int  # global epochs already trained before this session
    batches_per_epoch: int
    config: dict[str, Any]
    n_labeled: int  # labeled images used for training (outside the validation split)
    started_at: str = ""  # ISO 8601 UTC wall clock
    threads: int = 0  # torch threads the session starts with (0: not known)


@dataclass
class BatchProgress(_Event):
    session: int
    epoch: int  # 1-based within the session
    epochs: int
    batch: int  # 1-based within the epoch
    batches: int
    loss: float
    elapsed_s: float  # since the session started
    eta_s: float  # to the end of the whole session
    threads: int = 0  # the trainer's torch threads (0: not known; a short timing probe not shown)


@dataclass
class EpochRecord(_Event):
    session: int
    epoch: int  # 1-based within the session
    global_epoch: int  # epochs trained in total, this one included
    train: dict[str, float]  # METRIC_KEYS; NaN where undefined (no labeled rows)
    val: dict[str, float]
    seconds: float
    learning_rate: float


@dataclass
class TrainResult(_Event):
    session: int
    status: Status
    epochs_run: int  # complete epochs in this session
    global_epoch: int
    error: str | None
    seconds: float
    # The certainty's temperature this session fitted on its check labels (None: it had
    # too few the weights had not trained on, and kept the one it had), and on how many.
    temperature: float | None = None
    calibration_labels: int = 0


class TrainingCallback:
    """Override what you need; the trainer calls these from its own thread."""

    def on_train_start(self, event: TrainStart) -> None:
        pass

    def on_batch_end(self, event: BatchProgress) -> None:
        pass

    def on_epoch_end(self, event: EpochRecord) -> None:
        pass

    def on_train_end(self, event: TrainResult) -> None:
        pass


class EpochPrinter(TrainingCallback):
    """One line per epoch and one at the end, for scripts and the CLI."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def on_train_start(self, event: TrainStart) -> None:
        print(
            f"session {event.session}: {plural(event.epochs, 'epoch')} from epoch "
            f"{event.start_epoch}, {plural(event.batches_per_epoch, 'batch')} each, "
            f"{plural(event.n_labeled, 'labeled image')}"
            + (f", {plural(event.threads, 'torch thread')}" if event.threads else ""),
            file=self.stream,
            flush=True,
        )

    def on_epoch_end(self, event: EpochRecord) -> None:
        print(format_epoch(event), file=self.stream, flush=True)

    def on_train_end(self, event: TrainResult) -> None:
        tail = f": {event.error}" if event.error else ""
        print(
            f"{event.status} after {event.epochs_run} epoch(s) in {event.seconds:.1f} s "
            f"(global epoch {event.global_epoch}){tail}",
            file=self.stream,
            flush=True,
        )


def format_epoch(record: EpochRecord) -> str:
    """`epoch 3/10 (global 13)  train loss … | val loss … | 4.9 s`."""

    def part(metrics: dict[str, float]) -> str:
        return (
            f"loss {fixed(metrics['loss'])} rec {fixed(metrics['reconstruction_loss'])} "
            f"kl {fixed(metrics['kl_loss'])} cls {fixed(metrics['classification_loss'], 3)} "
            f"acc {fixed(metrics['accuracy'], 3)}"
        )

    return (
        f"epoch {record.epoch} (global {record.global_epoch})  train {part(record.train)} | "
        f"val {part(record.val)} | {record.seconds:.1f} s"
    )
