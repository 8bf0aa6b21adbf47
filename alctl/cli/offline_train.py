"""`alctl train` without a server: train here with the library's whole-run function.

`ssvae.runs.pipeline.train_from_files` (also behind scripts/train.py) continues the checkpoint,
trains one session and writes the checkpoint with its test accuracy, the history CSV and
the loss-curve PNG. This module adds the CLI's progress display, one training per
workspace at a time, and Ctrl+C: stop after the current batch and still save.
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
from alctl.errors import CliError, exit_code
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
def training_lock(artifacts_dir: Path) -> Iterator[None]:
    """One in-process training per workspace and dataset; a second one is refused."""
    import fcntl

    artifacts_dir.mkdir(parents=True, exist_ok=True)
    path = artifacts_dir / "train.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CliError(
                f"another `alctl train` is training in {artifacts_dir}; wait for it to finish"
            ) from None
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def stop_on_ctrl_c(stop: threading.Event, progress: TrainProgress) -> Iterator[None]:
    """While active, Ctrl+C (or SIGTERM) sets `stop` instead of raising or ending the process
    (the trainer checks it per batch; the session is then saved)."""

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            progress.note("already stopping: the model is saved after the current batch")
        else:
            progress.note("stopping after the current batch; the model will be saved…")
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        yield  # signals only reach the main thread (e.g. inside a test runner thread)
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, action in previous.items():
            signal.signal(sig, action)


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
    from ssvae.data.datasets import load_dataset
    from ssvae.runs.pipeline import TrainRun, train_from_files

    data = load_dataset(files.dataset, data_dir)
    progress.note(f"dataset: {data.name}, {plural(data.n_train, 'image')} ({data.source})")
    ws = files.workspace
    run = TrainRun(
        dataset=data,
        weights=ws.checkpoint,
        labels_csv=ws.labels_csv,
        history_csv=ws.history_csv,
        loss_plot=ws.loss_plot,
        explicit=dict(hparams),
        epochs=epochs,
    )
    with training_lock(ws.artifacts_dir):
        stop = threading.Event()
        with stop_on_ctrl_c(stop, progress):
            outcome = train_from_files(run, [ProgressCallback(progress)], stop)
    result = outcome.result.to_dict()
    progress.ended(result)
    if outcome.saved:
        from ssvae.records.formats import percent_short

        test = percent_short(outcome.test_accuracy, missing="n/a")
        mine = percent_short(outcome.labeled_accuracy, missing="n/a")
        labels = f"on your {outcome.n_labeled} labels {mine}"
        progress.note(f"saved {ws.checkpoint} (test accuracy {test}, {labels})")
        curves = ws.loss_plot if outcome.plotted else "redrawn by the next session (stopped)"
        progress.note(f"  history {ws.history_csv}, loss curves {curves}")
    else:
        progress.note("nothing saved: no epoch completed")
    return exit_code(result)
