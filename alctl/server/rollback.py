"""POST /api/checkpoint/rollback: serve the previous checkpoint again.

The library swaps `ssvae.prev.ckpt` and `ssvae.ckpt` and rewrites the history files; here
the server then loads that model, recomputes the points and tells every page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alctl.report.loss_plot import redraw_loss_curves
from alctl.server.disk import refused_by_disk
from ssvae.io.checkpoint import CheckpointError
from ssvae.io.rollback import rollback_checkpoint

if TYPE_CHECKING:
    from alctl.server.session import WorkspaceSession


class RollbackRefused(Exception):
    """No usable previous checkpoint (the message names the file)."""

    status = 409


def rollback_session(session: WorkspaceSession) -> dict[str, Any]:
    """Restore the previous checkpoint and serve it.

    Refused (409) while a session runs or saves, while one is being started, and while
    another process holds the checkpoint; the answer comes once the page's model and points
    are the restored ones, so a session started after it trains the restored model.
    """
    ws = session.workspace
    with session.exclusive("going back a checkpoint"):
        try:
            with refused_by_disk(ws.checkpoint):
                ckpt = rollback_checkpoint(
                    ws.checkpoint,
                    session.dataset.name,
                    ws.history_csv,
                    what=f"alctl serve (pid {session.pid}): a rollback",
                )
        except CheckpointError as exc:
            raise RollbackRefused(str(exc)) from exc
        problem = redraw_loss_curves(ws.loss_plot, ckpt.history)
        if problem is not None:
            session.bus.publish("error", {"message": problem})
        session.load_model()
        session.compute_points()
    session.bus.publish("latent_refreshed", session.points.info())
    return {
        "checkpoint": str(ws.checkpoint),
        "epochs_trained": ckpt.epochs_trained,
        "test_accuracy": ckpt.test_accuracy,
        "saved_at": ckpt.saved_at,
    }
