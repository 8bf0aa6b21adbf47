"""`alctl train` without a server: the library's session pipeline, here, on the files.

`ssvae.runs.pipeline.train_on_files` (also behind scripts/train.py) holds the checkpoint's
lock (one trainer per workspace, whatever started it), continues the checkpoint, trains one
session and saves it like the server does. This module adds the CLI's progress display, the
loss-curve PNG and Ctrl+C: stop after the current batch and save the completed epochs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alctl.cli.offline import Files
from alctl.cli.progress import TrainProgress
from alctl.errors import exit_code
from ssvae.records.events import BatchProgress, EpochRecord, TrainingCallback, TrainStart
from ssvae.records.formats import plural


class ProgressCallback(TrainingCallback):
    """Trainer hooks -> the same event dicts the server streams -> TrainProgress."""

    def __init__(self, progress: TrainProgress) -> None:
        self.progress = progress

    def on_train_start(self, event: TrainStart) -> None:
        from ssvae.records.sessions import session_hparams

        hparams = session_hparams(event.epochs, event.config)  # as the server's train_started
        self.progress.started(
            {
                "session": event.session,
                "epochs": event.epochs,
                "start_epoch": event.start_epoch,
                "hparams": hparams,
                "batches": event.batches_per_epoch,
            }
        )

    def on_batch_end(self, event: BatchProgress) -> None:
        self.progress.progress(event.to_dict())

    def on_epoch_end(self, event: EpochRecord) -> None:
        self.progress.epoch(event.to_dict())


@contextlib.contextmanager
def stop_on_ctrl_c(stop: threading.Event, progress: TrainProgress) -> Iterator[None]:
    """While active, Ctrl+C sets `stop` instead of raising (the trainer checks it per batch)."""

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            progress.note("already stopping: the model is saved after the current batch")
        else:
            progress.note("stopping after the current batch; the model will be saved…")
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        yield  # signals only reach the main thread (e.g. inside a test runner thread)
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def train_direct(
    files: Files,
    epochs: int | None,
    hparams: dict[str, Any],
    *,
    data_dir: Path | None,
    progress: TrainProgress | None = None,
) -> int:
    """Train one session in this process and save it; returns the exit status."""
    from ssvae.config import SSVAEConfig

    SSVAEConfig().replace(**hparams)  # bad values fail here, before torch is loaded
    progress = progress or TrainProgress()
    from alctl.report.loss_plot import loss_plot_writer
    from ssvae.data.datasets import load_dataset
    from ssvae.io.checkpoint_integrity import backup_problem
    from ssvae.runs.pipeline import FilesRun, SessionFiles, train_on_files

    data = load_dataset(files.dataset, data_dir)
    progress.note(f"dataset: {data.name}, {plural(data.n_train, 'image')} ({data.source})")
    ws = files.workspace
    backup = backup_problem(ws.checkpoint)
    if backup:
        progress.note(f"warning: {backup}")
    run = FilesRun(
        dataset=data,
        files=SessionFiles.of(ws),
        labels_csv=ws.labels_csv,
        explicit=dict(hparams),
        epochs=epochs,
        what=f"`alctl train` (pid {os.getpid()})",
    )
    stop = threading.Event()
    with stop_on_ctrl_c(stop, progress):
        outcome = train_on_files(
            run, [ProgressCallback(progress)], stop, [loss_plot_writer(ws.loss_plot)]
        )
    progress.ended(outcome.result.to_dict())
    progress.saved(outcome.to_dict(), ws.checkpoint)
    return exit_code({**outcome.result.to_dict(), **outcome.to_dict()})
