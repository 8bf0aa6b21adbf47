"""Training sessions as plain records: what was asked, when, on how many labels, how it ended.

The trainer keeps one entry per session (`InteractiveTrainer.sessions`), built from its own
callback events by `open_session` / `close_session`; the checkpoint and history.csv store
them, and a server listening to the same events builds the same entries. Checkpoints from
before sessions were stored get theirs rebuilt from the epoch records (`from_records`).
Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from ssvae.callbacks import TrainResult, TrainStart
from ssvae.config import SESSION_FIELDS

# The fields of an entry, in the order history.csv writes them (hparams flattened).
ENTRY_KEYS = ("session", "start_global_epoch", "started_at", "n_labeled", "status", "epochs_run")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def session_hparams(epochs: int, config: Mapping[str, Any]) -> dict[str, Any]:
    """The settings a session ran with: its epochs and the per-session config fields."""
    return {"epochs": epochs, **{name: config.get(name) for name in SESSION_FIELDS}}


def open_session(event: TrainStart) -> dict[str, Any]:
    """The entry of a session that has just started (status "running")."""
    return {
        "session": event.session,
        "start_global_epoch": event.start_epoch,
        "started_at": event.started_at,
        "hparams": session_hparams(event.epochs, event.config),
        "n_labeled": event.n_labeled,
        "status": "running",
        "epochs_run": 0,
        "error": None,
    }


def close_session(entry: dict[str, Any], result: TrainResult) -> None:
    """Complete `entry` with how its session ended."""
    entry.update(status=result.status, epochs_run=result.epochs_run, error=result.error)


def from_records(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Entries rebuilt from epoch records alone (older checkpoints): what they still tell."""
    sessions: dict[int, dict[str, Any]] = {}
    for r in records:
        number = int(r.get("session", 0))
        entry = sessions.setdefault(
            number,
            {
                "session": number,
                "start_global_epoch": int(r.get("global_epoch", 1)) - 1,
                "started_at": None,
                "hparams": {"learning_rate": r.get("learning_rate")},
                "n_labeled": None,
                "status": "completed",
                "epochs_run": 0,
                "error": None,
            },
        )
        entry["epochs_run"] += 1
    return [sessions[k] for k in sorted(sessions)]


def last_number(sessions: Iterable[Mapping[str, Any]], records: Iterable[Mapping]) -> int:
    """The highest session number known (0 when none): the next session is this + 1."""
    numbers = [int(s.get("session", 0)) for s in sessions]
    numbers += [int(r.get("session", 0)) for r in records]
    return max(numbers, default=0)
