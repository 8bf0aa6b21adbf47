"""Plain-data shapes of training state for the API: the status block and session summaries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def session_entry(
    number: int, start: int | None, started_at: str | None, hparams: dict, status: str
) -> dict[str, Any]:
    """One item of `/api/history`'s `sessions`."""
    return {
        "session": number,
        "start_global_epoch": start,
        "started_at": started_at,
        "hparams": hparams,
        "status": status,
        "epochs_run": 0,
        "error": None,
    }


def sessions_from_records(records: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rebuild session summaries from epoch records (a checkpoint keeps only those)."""
    sessions: dict[int, dict[str, Any]] = {}
    for r in records:
        number, start = int(r.get("session", 0)), int(r.get("global_epoch", 1)) - 1
        hparams = {"learning_rate": r.get("learning_rate")}
        entry = sessions.setdefault(
            number, session_entry(number, start, None, hparams, "completed")
        )
        entry["epochs_run"] += 1
    return [sessions[k] for k in sorted(sessions)]


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
