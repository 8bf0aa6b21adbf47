"""The training job: what the trainer thread runs for one session, and how its end is shown.

`WorkspaceSession.start_training` takes the checkpoint's file lock and hands TrainingRunner a
job made here; the runner runs it in its thread and publishes what it returns. The job waits
for the model, adopts a checkpoint another program saved meanwhile, runs the library's one
end-of-session pipeline (ssvae.runs.pipeline.run_session: train, calibrate, evaluate, save,
history, cache) and then shows the new model and points; the file lock is released only
after the save, so nothing lands on top of it.

The job keeps no state: the model and the checkpoint facts change in ServedModel (under its
lock), the points in LatentPoints, the live status in TrainingRunner.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from alctl.server.memory import release_free_memory
from alctl.server.outside_checkpoint import adopt_outside_checkpoint
from alctl.server.served_model import SessionError
from alctl.server.training_thread import Job, SessionEnd
from ssvae.io.checkpoint_lock import CheckpointLock
from ssvae.records.events import TrainingCallback

if TYPE_CHECKING:
    from alctl.server.model_state import ModelState
    from alctl.server.session import WorkspaceSession
    from ssvae.runs.pipeline import SessionOutcome


def training_job(session: WorkspaceSession, lock: CheckpointLock) -> Job:
    """The runner's job for one session; it releases the held checkpoint `lock` when done."""

    def job(
        epochs: int,
        overrides: dict[str, Any],
        stop: threading.Event,
        listener: TrainingCallback,
    ) -> SessionEnd:
        try:
            return run_one_session(session, epochs, overrides, stop, listener)
        finally:
            lock.release()  # after the save: nothing can land on top of it

    return job


def run_one_session(
    session: WorkspaceSession,
    epochs: int,
    overrides: dict[str, Any],
    stop: threading.Event,
    listener: TrainingCallback,
) -> SessionEnd:
    """Run one session through the library's pipeline, then show what it made.

    Raises when the session cannot start (no model, unreadable labels); the runner
    reports that as a failed session.
    """
    from alctl.report.loss_plot import loss_plot_writer
    from ssvae.runs.pipeline import SessionFiles, checkpoint_changed, run_session

    served = session.served
    while not served.ready.wait(0.2):
        if stop.is_set():
            raise SessionError("stopped before the model finished loading")
    if served.model is None:
        raise SessionError(f"the model could not be loaded: {served.error}", 503)
    if checkpoint_changed(served.checkpoint, served.stamp):
        adopt_outside_checkpoint(session)  # we hold its lock: the file is complete
    model = served.model
    assert model is not None
    labels = session.labels.store.as_array()
    outcome = run_session(
        model.trainer,
        session.dataset,
        labels,
        SessionFiles.of(session.workspace),
        epochs=epochs,
        overrides=overrides,
        callbacks=[listener],
        stop_event=stop,
        ending=session.stopping,  # Ctrl+C: evaluated, but no points for a page that is gone
        expected_stamp=served.stamp,
        # The server stopping: the picture waits for start-up (alctl.server.run).
        after_save=[loss_plot_writer(session.workspace.loss_plot, session.stopping.is_set)],
    )
    for message in outcome.warnings:
        session.bus.publish("error", {"message": f"after training session: {message}"})
    if outcome.points is None:  # no epoch kept, or the server is stopping: nothing to show
        return SessionEnd(outcome.to_dict())
    show_outcome(session, model, outcome)
    return SessionEnd(outcome.to_dict(), then=session.publish_points)


def show_outcome(session: WorkspaceSession, model: ModelState, outcome: SessionOutcome) -> None:
    """The page's model, points and checkpoint facts after a session."""
    from ssvae.select.points import Predictions2D

    view = model.snapshot_view()  # torch, outside every lock
    session.served.show(model, view, Predictions2D.of(outcome.points), outcome)
    session.labeling_queue.warm()
    if not session.stopping.is_set():  # a stop spares it: the process ends in a moment
        release_free_memory()
