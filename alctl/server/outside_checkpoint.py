"""Checkpoints saved by other programs: noticed, loaded and shown, never trained over.

Another program (scripts/train.py, `alctl train --no-server`) may save the workspace's
checkpoint while this server runs: train in one, look in the other. ServedModel keeps the
file's stamp as this server last read or wrote it; a file with another stamp is adopted
(loaded, its points computed, every page told) once the server is idle, about once a second
(`check_checkpoint`, from the app's watcher), and before a session starts (the training job),
so a session always trains on from the newest file.

Adopting holds the StartGate (no session starts, no rollback lands meanwhile) and the
checkpoint's file lock (the writer has finished: the file is complete). Neither is waited for:
when either is held, the next check tries again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ssvae.io.checkpoint_lock import CheckpointLock

if TYPE_CHECKING:
    from alctl.server.session import WorkspaceSession


def check_checkpoint(session: WorkspaceSession) -> bool:
    """Show a checkpoint another program saved while this server was idle. False when nothing
    changed, or when now is not the time (a session, a rollback, or the writer still holds
    the file)."""
    from ssvae.io.checkpoint_lock import Busy, LockUnavailable
    from ssvae.runs.pipeline import checkpoint_changed

    served = session.served
    if served.model is None or not session.training.idle:
        return False
    if not checkpoint_changed(served.checkpoint, served.stamp):
        return False
    with session.gate.if_free() as free:
        if not free:
            return False
        lock = CheckpointLock(
            served.checkpoint, f"alctl serve (pid {session.pid}): loading a checkpoint"
        )
        try:
            lock.acquire()
        except (Busy, LockUnavailable):
            return False  # its writer is not done yet: the next check
        try:
            if not checkpoint_changed(served.checkpoint, served.stamp):
                return False
            adopt_outside_checkpoint(session)
        finally:
            lock.release()
    return True


def adopt_outside_checkpoint(session: WorkspaceSession) -> None:
    """Show the checkpoint another program saved, and train on from it, never over it. Call
    with the checkpoint's lock held."""
    from ssvae.io.checkpoint import CheckpointError

    path = session.served.checkpoint
    try:
        session.load_model()
    except CheckpointError as exc:
        session.served.file_seen()  # told once, not every second
        session.bus.publish("error", {"message": f"{exc}; the page keeps showing the model it had"})
        return
    session.compute_points()
    epochs = session.status()["checkpoint"]["epochs_trained"]
    session.bus.publish(
        "notice",
        {"message": f"{path} was saved by another program ({epochs} epochs): showing it"},
    )
    session.publish_points()
