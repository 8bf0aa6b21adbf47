"""Training sessions as plain records: what was asked, when, on how many labels, how it ended.

The trainer keeps one entry per session (`InteractiveTrainer.sessions`), built from its own
callback events by `open_session` / `close_session`; the checkpoint and history.csv store
them, and a server listening to the same events builds the same entries. Whoever trained the
session adds its evaluation (`record_evaluation`: test accuracy, accuracy on the labels) before
saving, so the accuracy-vs-labels curve travels with the entries. Checkpoints from
before sessions were stored get theirs rebuilt from the epoch records (`from_records`).
Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ssvae.config import SESSION_FIELDS, SSVAEConfig
from ssvae.records.events import TrainResult, TrainStart

# The fields an entry gets once its session's weights were evaluated (ssvae.runs.pipeline):
# test accuracy and the calibration error of the certainty shown; the blind accuracy (the
# labels given since the last save, predicted before training on them) and how many there
# were; the accuracy on the labels trained on (kept for older files, shown nowhere now).
EVALUATION_KEYS = (
    "test_accuracy",
    "test_ece",
    "blind_accuracy",
    "blind_n",
    "labeled_accuracy",
)
# The fields of an entry, in the order history.csv writes them (hparams flattened).
ENTRY_KEYS = (
    "session",
    "start_global_epoch",
    "started_at",
    "n_labeled",
    "status",
    "epochs_run",
    *EVALUATION_KEYS,
)


@dataclass(frozen=True)
class TrainerSnapshot:
    """What a trainer records, copied at one instant: its config, epochs, epoch records and
    session entries. The server shows these (from the cache before the model has loaded);
    the trainer is their one owner."""

    config: SSVAEConfig
    epochs_trained: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        config: SSVAEConfig,
        epochs_trained: int = 0,
        history: Iterable[Mapping[str, Any]] = (),
        sessions: Iterable[Mapping[str, Any]] | None = None,
    ) -> TrainerSnapshot:
        records = [dict(r) for r in history]
        entries = [dict(s) for s in sessions] if sessions else from_records(records)
        return cls(config, int(epochs_trained), records, entries)

    @property
    def last_session(self) -> int:
        return last_number(self.sessions, self.history)

    def default_epochs(self) -> int:
        """A session's length when none is asked for: the last clean session's."""
        asked = [
            s["hparams"].get("epochs")
            for s in self.sessions
            if s.get("hparams") and s.get("status") != "failed"
        ]
        return next((int(e) for e in reversed(asked) if e), self.config.max_epochs)

    def hparams(self) -> dict[str, Any]:
        """The next session's settings: its default length and the per-session fields."""
        return session_hparams(self.default_epochs(), self.config.to_dict())


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
        **dict.fromkeys(EVALUATION_KEYS),
    }


def close_session(entry: dict[str, Any], result: TrainResult) -> None:
    """Complete `entry` with how its session ended."""
    entry.update(status=result.status, epochs_run=result.epochs_run, error=result.error)
    if result.temperature is not None:
        entry.update(temperature=result.temperature, calibration_labels=result.calibration_labels)


def record_evaluation(
    sessions: Iterable[dict[str, Any]], number: int, evaluation: Mapping[str, Any]
) -> None:
    """Store how session `number`'s weights did (ssvae.train.evaluation.session_evaluation) in its
    entry, so the accuracy-vs-labels curve is saved wherever the entries are."""
    for entry in sessions:
        if entry.get("session") == number:
            entry.update({k: evaluation.get(k) for k in EVALUATION_KEYS})


def last_result(sessions: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """How the last finished session ended, shaped like `TrainResult.to_dict()` (its seconds
    are not kept: None); None when no session has finished."""
    done = [s for s in sessions if s.get("status") not in (None, "running")]
    if not done:
        return None
    last = done[-1]
    epochs_run = int(last.get("epochs_run") or 0)
    return {
        "session": last.get("session"),
        "status": last.get("status"),
        "epochs_run": epochs_run,
        "global_epoch": int(last.get("start_global_epoch") or 0) + epochs_run,
        "error": last.get("error"),
        "seconds": None,
        "evaluation": {k: last.get(k) for k in EVALUATION_KEYS},
    }


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
                **dict.fromkeys(EVALUATION_KEYS),
            },
        )
        entry["epochs_run"] += 1
    return [sessions[k] for k in sorted(sessions)]


def last_number(sessions: Iterable[Mapping[str, Any]], records: Iterable[Mapping]) -> int:
    """The highest session number known (0 when none): the next session is this + 1."""
    numbers = [int(s.get("session", 0)) for s in sessions]
    numbers += [int(r.get("session", 0)) for r in records]
    return max(numbers, default=0)


def evaluation_curve(sessions: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Test accuracy against labels: one point per evaluated session, oldest first.

    Sessions without an evaluation (failed before an epoch, or saved before evaluations were
    stored) are left out; `previous_test_accuracy` is the last evaluated session's.
    """
    curve: list[dict[str, Any]] = []
    previous = None
    for entry in sessions:
        test = entry.get("test_accuracy")
        if test is None and entry.get("labeled_accuracy") is None:
            continue
        curve.append(
            {
                "session": entry.get("session"),
                "status": entry.get("status"),
                "test_accuracy": test,
                "previous_test_accuracy": previous,
                "blind_accuracy": entry.get("blind_accuracy"),
                "blind_n": entry.get("blind_n"),
                "test_ece": entry.get("test_ece"),
                "labeled_accuracy": entry.get("labeled_accuracy"),
                "n_labeled": entry.get("n_labeled"),
            }
        )
        previous = test if test is not None else previous
    return curve
