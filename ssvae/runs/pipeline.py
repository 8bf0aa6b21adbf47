"""One training session, end to end: the one pipeline the server, the shell and the scripts run.

    blind check -> train (calibrating on withheld check labels) -> evaluate -> save checkpoint
    -> history CSV -> points cache -> session record

`run_session` is called by the server's training thread, `alctl train --no-server` and
scripts/train.py (both through `train_on_files`); `alctl simulate --protocol page` presses
and its rounds run `train_and_evaluate` (every step up to the save) and keep no files.
Whoever calls it holds the checkpoint's lock (`ssvae.io.checkpoint_lock`) from before the
trainer was read until this returns, so what it saves cannot be overwritten by a change that
started earlier, nor overwrite a later one.

- Blind check, before training: the labels given since the last session (labeled, not in
  `trainer.seen_labels`: neither trained on nor held out of an earlier session's training)
  are predicted by the model as it is. Their accuracy is the *blind accuracy* (progress a
  user can trust without test labels).
- Calibrate, inside training: the session keeps the check labels (ssvae.select.checks, a
  random sample the queue interleaves) its weights have not trained on out of training and
  fits the certainty's temperature (Guo et al. 2017) on them: with `calibration = "late"` at
  90 % of its batches, then they train too; with "end" on its final weights, and they stay
  out until newer checks replace them (ssvae.train.session_loop, .trainer). With fewer than
  MIN_LABELS such labels, the blind labels' fit on the weights before the session is carried
  to the new weights.
- Evaluate, after training: test accuracy, the calibration error of the certainty the page
  and the queue use, accuracy on the labels trained on, all stored in the session's entry
  so the accuracy-vs-labels curve travels with the checkpoint and history.csv. Then the
  training images' predictions (the page's points and cache), unless the process is ending.
- Save: the checkpoint first (with `trained_labels`), then what derives from it. A failed
  checkpoint save is reported (`SessionOutcome.error`), never as success; history and cache
  failures are warnings (they are rebuilt from the checkpoint).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ssvae.config import default_config
from ssvae.data.datasets import Dataset
from ssvae.io.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ssvae.io.checkpoint_lock import checkpoint_owner
from ssvae.io.history import record_session
from ssvae.io.labels import LabelStore
from ssvae.io.points_cache import cache_meta, checkpoint_stamp, save_cache
from ssvae.io.workspace import Workspace
from ssvae.nn.model import Predictions, class_logits, predict
from ssvae.records.events import TrainingCallback, TrainResult
from ssvae.select.points import Predictions2D
from ssvae.train.calibration import MIN_LABELS, expected_calibration_error, fit_temperature
from ssvae.train.evaluation import labeled_accuracy, split_accuracy
from ssvae.train.threads import ThreadGovernor
from ssvae.train.trainer import InteractiveTrainer


@dataclass(frozen=True)
class SessionFiles:
    """Where one checkpoint's session results go."""

    dataset: str
    checkpoint: Path
    history_csv: Path
    points_cache: Path | None = None  # None: no page cache for this checkpoint

    @classmethod
    def of(cls, workspace: Workspace) -> SessionFiles:
        return cls(
            workspace.dataset, workspace.checkpoint, workspace.history_csv, workspace.points_cache
        )


@dataclass
class BlindCheck:
    """What the model made of the labels it had not trained on, before a session."""

    serials: np.ndarray  # int64: labeled, not among the weights' trained labels
    accuracy: float | None  # None: no such label, or the weights never trained on a label
    temperature: float | None  # fitted on them; None: too few, or nothing learnt yet


@dataclass
class SessionOutcome:
    """How a session ended and what of it was kept."""

    result: TrainResult
    continued_from: int  # epochs in the model before the session
    n_labeled: int
    evaluation: dict[str, Any] | None = None  # the session entry's evaluation fields
    points: Predictions | None = None  # the training images after the session (page, cache)
    saved: bool = False
    error: str | None = None  # why the checkpoint could not be saved
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    stamp: dict[str, int] | None = None  # the saved checkpoint file's (size, mtime)
    checkpoint: Path | None = None  # where it was saved

    def to_dict(self) -> dict[str, Any]:
        """`session_saved`'s data: one session's facts together."""
        return {
            "session": self.result.session,
            "status": self.result.status,
            "epochs_run": self.result.epochs_run,
            "epochs_trained": self.result.global_epoch,
            "saved": self.saved,
            "save_error": self.error,
            "warnings": list(self.warnings),
            "evaluation": self.evaluation,
            "n_labeled": self.n_labeled,
            "checkpoint": str(self.checkpoint) if self.checkpoint is not None else None,
        }


def blind_check(
    model: Any, images: np.ndarray, labels: np.ndarray, trained: Iterable[int] | None
) -> BlindCheck:
    """Predict the labels the weights have not trained on, with the weights as they are.

    `trained` None (a checkpoint from before it was recorded) trusts no label as unseen; an
    empty `trained` means the weights never learnt a class, so their guesses are chance and
    neither an accuracy nor a temperature is taken from them.
    """
    labels = np.asarray(labels)
    if trained is None:
        return BlindCheck(np.zeros(0, np.int64), None, None)
    seen = np.asarray(list(trained), dtype=np.int64)
    fresh = np.setdiff1d(np.flatnonzero(labels >= 0), seen)
    if len(seen) == 0 or len(fresh) == 0:
        return BlindCheck(fresh, None, None)
    logits = class_logits(model, images[fresh])
    targets = labels[fresh]
    accuracy = float((logits.argmax(axis=1) == targets).mean())
    temperature = fit_temperature(logits, targets) if len(fresh) >= MIN_LABELS else None
    return BlindCheck(fresh, accuracy, temperature)


def evaluate(
    model: Any, dataset: Dataset, labels: np.ndarray, blind: BlindCheck, *, points: bool = True
) -> tuple[dict[str, Any], Predictions | None]:
    """The session entry's evaluation fields, and the training images' predictions (None
    with `points` False: the entry's fields then cost the test split and the labeled rows
    only, a seventh of predicting every training image on MNIST's 60k + 10k)."""
    labels = np.asarray(labels)
    if points:
        train: Predictions | None = predict(model, dataset.train_images, reconstruct=False)
        predicted = train.pred_class
    else:
        train, rows = None, np.flatnonzero(labels >= 0)
        predicted = np.full(len(labels), -1, np.int64)
        if len(rows):
            predicted[rows] = class_logits(model, dataset.train_images[rows]).argmax(axis=1)
    evaluation: dict[str, Any] = {
        "test_accuracy": None,
        "test_ece": None,
        "labeled_accuracy": labeled_accuracy(predicted, labels),
        "blind_accuracy": blind.accuracy,
        "blind_n": len(blind.serials) if blind.accuracy is not None else 0,
    }
    if len(dataset.test_targets):
        test = predict(model, dataset.test_images, reconstruct=False)
        evaluation["test_accuracy"] = split_accuracy(test.pred_class, dataset.test_targets)
        hits = test.pred_class == np.asarray(dataset.test_targets)
        evaluation["test_ece"] = expected_calibration_error(test.certainty, hits)
    return evaluation, train


def train_and_evaluate(
    trainer: InteractiveTrainer,
    dataset: Dataset,
    labels: np.ndarray,
    *,
    epochs: int,
    overrides: dict[str, Any] | None = None,
    callbacks: Sequence[TrainingCallback] = (),
    stop_event: threading.Event | None = None,
    ending: threading.Event | None = None,
) -> SessionOutcome:
    """A session's steps that keep no file: blind check, train (calibrating on the withheld
    checks), carry the blind fit where the session made none, evaluate, record the evaluation
    in the session's entry. `run_session` saves what this made; `alctl simulate --protocol
    page` keeps it in memory (ssvae.runs.page_protocol).

    `ending` is set when the process ends after the session (Ctrl+C, SIGTERM): the session
    entry is still evaluated, but the training images are not predicted (`points` None, no
    page cache; the next start predicts them), so that the stop stays within its 3 s.

    ValueError for bad settings before anything changes. A session that kept no epoch has
    no evaluation (its weights are as before).
    """
    started = time.perf_counter()
    labels = np.asarray(labels)
    n_labeled = int((labels >= 0).sum())
    continued_from = trainer.epochs_trained
    blind = blind_check(trainer.model, dataset.train_images, labels, trainer.seen_labels)
    result = trainer.train(
        dataset.train_images,
        labels,
        epochs=epochs,
        callbacks=callbacks,
        stop_event=stop_event,
        **(overrides or {}),
    )
    outcome = SessionOutcome(result, continued_from, n_labeled)
    if result.epochs_run > 0:
        # The session's own fit on check labels its weights had not trained on is the
        # honest one; without it, the blind labels' fit on the weights before is carried.
        if result.temperature is None and blind.temperature is not None:
            trainer.model.temperature = blind.temperature
        points = ending is None or not ending.is_set()
        evaluation, outcome.points = evaluate(trainer.model, dataset, labels, blind, points=points)
        outcome.evaluation = evaluation
        trainer.record_evaluation(result.session, evaluation)  # saved with the entries
    outcome.seconds = time.perf_counter() - started
    return outcome


def run_session(
    trainer: InteractiveTrainer,
    dataset: Dataset,
    labels: np.ndarray,
    files: SessionFiles,
    *,
    epochs: int,
    overrides: dict[str, Any] | None = None,
    callbacks: Sequence[TrainingCallback] = (),
    stop_event: threading.Event | None = None,
    ending: threading.Event | None = None,
    expected_stamp: dict[str, int] | None = None,
    after_save: Sequence[Callable[[InteractiveTrainer, SessionOutcome], None]] = (),
) -> SessionOutcome:
    """Train one session and keep what it made; the caller holds the checkpoint's lock.
    `ending`: the process ends after it (see `train_and_evaluate`).

    `expected_stamp` is the checkpoint file as the trainer was read from it (or last saved
    it; None: there was none). A file found otherwise at save time was written by a program
    that ignored the lock: it is kept aside as `<name>.replaced-<time>`, with a warning,
    never overwritten unseen. ValueError for bad settings before anything changes. A
    session that kept no epoch (failed or stopped before one completed: its weights are as
    before) saves nothing.
    """
    started = time.perf_counter()
    outcome = train_and_evaluate(
        trainer,
        dataset,
        labels,
        epochs=epochs,
        overrides=overrides,
        callbacks=callbacks,
        stop_event=stop_event,
        ending=ending,
    )
    if outcome.evaluation is not None:
        _keep_foreign_file(files.checkpoint, expected_stamp, outcome)
        _save(trainer, files, outcome)
        for step in after_save if outcome.saved else ():
            _warn_on_error(outcome, "finish the save", lambda s=step: s(trainer, outcome))
    outcome.seconds = time.perf_counter() - started
    return outcome


def _save(trainer: InteractiveTrainer, files: SessionFiles, outcome: SessionOutcome) -> None:
    accuracy = (outcome.evaluation or {}).get("test_accuracy")
    try:
        payload = trainer.checkpoint_payload(files.dataset, test_accuracy=accuracy)
        backup = save_checkpoint(files.checkpoint, **payload)
    except Exception as exc:  # disk full, read-only, a directory in the way: say so
        outcome.error = f"could not save {files.checkpoint}: {_one_line(exc)}"
        return
    if backup is not None:  # saved, but ssvae.prev.ckpt could not be kept
        outcome.warnings.append(backup)
    outcome.saved, outcome.checkpoint = True, files.checkpoint
    outcome.stamp = checkpoint_stamp(files.checkpoint)
    session = outcome.result.session
    records = [r for r in trainer.history if r.get("session") == session]
    _warn_on_error(
        outcome,
        f"write {files.history_csv}",
        lambda: record_session(files.history_csv, records, trainer.history, trainer.sessions),
    )
    if files.points_cache is not None and outcome.points is not None:
        points = Predictions2D.of(outcome.points)

        def write_cache() -> None:
            meta = cache_meta(files.dataset, files.checkpoint, trainer, accuracy)
            if meta is not None:
                save_cache(files.points_cache, points, meta)

        _warn_on_error(outcome, f"write {files.points_cache}", write_cache)


def _keep_foreign_file(
    checkpoint: Path, expected: dict[str, int] | None, outcome: SessionOutcome
) -> None:
    current = checkpoint_stamp(checkpoint)
    if current is None or current == expected:
        return
    kept = checkpoint.with_name(f"{checkpoint.name}.replaced-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        os.replace(checkpoint, kept)
    except OSError as exc:
        outcome.warnings.append(f"could not keep the outside change to {checkpoint}: {exc}")
        return
    outcome.warnings.append(
        f"{checkpoint} was changed by another program during the session; kept that file "
        f"as {kept.name} and saved this session's model"
    )


def _warn_on_error(outcome: SessionOutcome, what: str, work: Callable[[], Any]) -> None:
    try:
        work()
    except Exception as exc:  # derived files: the checkpoint is saved, they can be rebuilt
        outcome.warnings.append(f"could not {what}: {_one_line(exc)}")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# -- the shell's and the scripts' whole run ----------------------------------------------------


@dataclass
class FilesRun:
    """A session on files: `alctl train --no-server` and scripts/train.py."""

    dataset: Dataset
    files: SessionFiles
    labels_csv: Path  # a missing file means "no labels yet"
    explicit: dict[str, Any] = field(default_factory=dict)  # config fields the user gave
    epochs: int | None = None  # None: the config's max_epochs
    device: str | None = None
    what: str = "training"  # names the holder of the checkpoint's lock
    threads: int | None = None  # torch threads (--threads); None: OMP_NUM_THREADS, else the policy


def open_trainer(
    checkpoint: Path,
    dataset: str,
    explicit: dict[str, Any],
    device: str | None = None,
    threads: int | None = None,
) -> InteractiveTrainer:
    """The checkpoint's trainer with the user's settings applied, or a fresh one; `threads`
    fixes its torch threads (else OMP_NUM_THREADS, else ssvae.train.threads' policy)."""
    governor = ThreadGovernor.for_process(option=threads)
    ckpt = load_checkpoint(checkpoint, dataset=dataset)
    if ckpt is None:
        return InteractiveTrainer(
            default_config(dataset).replace(**explicit), device, threads=governor
        )
    try:
        config = ckpt.config.replace(**explicit)
    except ValueError as exc:
        raise CheckpointError(checkpoint, str(exc)) from exc
    return InteractiveTrainer.from_checkpoint(ckpt, device, config, governor)


def train_on_files(
    run: FilesRun,
    callbacks: Sequence[TrainingCallback] = (),
    stop_event: threading.Event | None = None,
    after_save: Sequence[Callable[[InteractiveTrainer, SessionOutcome], None]] = (),
) -> SessionOutcome:
    """Hold the checkpoint, continue it (or start fresh), run one session, save.

    `stop_event` is set by Ctrl+C or SIGTERM only (the shell and the scripts), so a stop
    also ends the process: the session is evaluated without the page's points.

    Raises CheckpointBusy when another session or a rollback holds the checkpoint, and
    CheckpointError / LabelError / ValueError on bad input, all before training.
    """
    labels = LabelStore(run.labels_csv, run.dataset.n_train).as_array()  # its own lock
    with checkpoint_owner(run.files.checkpoint, run.what):
        stamp = checkpoint_stamp(run.files.checkpoint)
        trainer = open_trainer(
            run.files.checkpoint, run.dataset.name, run.explicit, run.device, run.threads
        )
        return run_session(
            trainer,
            run.dataset,
            labels,
            run.files,
            epochs=run.epochs or trainer.config.max_epochs,
            callbacks=callbacks,
            stop_event=stop_event,
            ending=stop_event,
            expected_stamp=stamp,
            after_save=after_save,
        )


def checkpoint_changed(checkpoint: Path, stamp: dict[str, int] | None) -> bool:
    """Whether the file is no longer the one last read or written (`stamp`)."""
    with contextlib.suppress(OSError):
        return checkpoint_stamp(checkpoint) != stamp
    return True
