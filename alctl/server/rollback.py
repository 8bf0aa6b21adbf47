"""POST /api/checkpoint/rollback: serve the previous checkpoint again.

The library swaps `ssvae.prev.ckpt` and `ssvae.ckpt` and rewrites the history files; here
the server then loads that model, recomputes the points and tells every page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alctl.server.disk import refused_by_disk
from alctl.server.training_thread import TrainingBusy
from ssvae.io.checkpoint import CheckpointError
from ssvae.io.rollback import rollback_checkpoint

if TYPE_CHECKING:
    from alctl.server.session import WorkspaceSession


class RollbackRefused(Exception):
    """No usable previous checkpoint (the message names the file)."""

    status = 409


def rollback_session(session: WorkspaceSession) -> dict[str, Any]:
    """Restore the previous checkpoint and serve it; refused while training runs."""
    if session.training.status()["state"] != "idle":
        raise TrainingBusy("training is running; stop it before going back a checkpoint")
    ws = session.workspace
    try:
        with refused_by_disk(ws.checkpoint):
            ckpt = rollback_checkpoint(
                ws.checkpoint, session.dataset.name, ws.history_csv, ws.loss_plot
            )
    except CheckpointError as exc:
        raise RollbackRefused(str(exc)) from exc
    session.checkpoint_written()
    session.load_model(seed=True)
    session.compute_points()
    session.bus.publish("latent_refreshed", session.points.info())
    return {
        "checkpoint": str(ws.checkpoint),
        "epochs_trained": ckpt.epochs_trained,
        "test_accuracy": ckpt.test_accuracy,
        "saved_at": ckpt.saved_at,
    }
