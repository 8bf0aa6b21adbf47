"""`alctl train` without a server: the library's session pipeline, here, on the files.

`ssvae.runs.pipeline.train_on_files` (also behind scripts/train.py) holds the checkpoint's
lock (one trainer per workspace, whatever started it), continues the checkpoint, trains one
session and saves it like the server does. This module adds the CLI's progress display, the
loss-curve PNG and Ctrl+C: stop after the current batch and save the completed epochs.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from alctl.cli.offline import Files
from alctl.cli.progress import TrainProgress
from alctl.cli.signals import stop_on_ctrl_c
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
                "threads": event.threads,
            }
        )

    def on_batch_end(self, event: BatchProgress) -> None:
        self.progress.progress(event.to_dict())

    def on_epoch_end(self, event: EpochRecord) -> None:
        self.progress.epoch(event.to_dict())


def train_direct(
    files: Files,
    epochs: int | None,
    hparams: dict[str, Any],
    *,
    data_dir: Path | None,
    progress: TrainProgress | None = None,
    threads: int | None = None,
) -> int:
    """Train one session in this process and save it; returns the exit status.

    `threads`: torch threads (--threads); None leaves them to ssvae.train.threads' policy.
    """
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
        threads=threads,
    )
    stop = threading.Event()
    # Stopped (Ctrl+C, SIGTERM): the process ends promptly; the next session redraws the plot.
    plot = loss_plot_writer(ws.loss_plot, stop.is_set)
    with stop_on_ctrl_c(stop, progress.note):
        outcome = train_on_files(run, [ProgressCallback(progress)], stop, [plot])
    progress.ended(outcome.result.to_dict())
    progress.saved(outcome.to_dict(), ws.checkpoint)
    return exit_code({**outcome.result.to_dict(), **outcome.to_dict()})
