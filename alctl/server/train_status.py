"""Plain-data shape of the training state for the API (session entries: ssvae.sessions)."""

from __future__ import annotations

from typing import Any


def idle_status(last_result: dict[str, Any] | None) -> dict[str, Any]:
    """`/api/status`'s `training` block when no session runs."""
    return {
        "state": "idle",
        "session": None,
        "epoch": 0,
        "epochs": 0,
        "batch": 0,
        "batches": 0,
        "eta_s": None,
        "last_result": last_result,
    }
