"""Training history: epoch records and session entries <-> the history CSV.

A record is `EpochRecord.to_dict()`: {session, epoch, global_epoch, seconds,
learning_rate, train: {loss, ...}, val: {loss, ...}}. In the CSV the nested dicts
become `train_<key>` / `val_<key>` columns; NaN is written as `nan`. Each row also
carries its session's entry (ssvae.records.sessions): `session_started_at`, `session_n_labeled`,
`session_status`, `session_epochs_run`, `session_test_accuracy`, `session_labeled_accuracy`
and one `hp_<name>` column per session setting, so the CSV alone tells what every session
ran with and how it did. Files written before some of those columns existed are read as
they are (missing cells blank) and rewritten with them on the next append. The loss-curve
PNG drawn from the same records is the application's (alctl.report.loss_plot).
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ssvae.config import SESSION_FIELDS
from ssvae.io.atomic import atomic_write_text
from ssvae.records.events import METRIC_KEYS, EpochRecord
from ssvae.records.sessions import EVALUATION_KEYS, from_records

_INT_COLUMNS = ("session", "epoch", "global_epoch")
EPOCH_COLUMNS: tuple[str, ...] = (
    *_INT_COLUMNS,
    "seconds",
    "learning_rate",
    *(f"train_{k}" for k in METRIC_KEYS),
    *(f"val_{k}" for k in METRIC_KEYS),
)
_SESSION_KEYS = ("started_at", "n_labeled", "status", "epochs_run", *EVALUATION_KEYS)
_HPARAM_KEYS = ("epochs", *SESSION_FIELDS)
SESSION_COLUMNS: tuple[str, ...] = (
    *(f"session_{k}" for k in _SESSION_KEYS),
    *(f"hp_{k}" for k in _HPARAM_KEYS),
)
COLUMNS: tuple[str, ...] = (*EPOCH_COLUMNS, *SESSION_COLUMNS)


def flatten_record(
    record: EpochRecord | Mapping[str, Any], session: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """One CSV row from an epoch record and its session's entry (blank cells without one)."""
    data = record.to_dict() if isinstance(record, EpochRecord) else record
    row = {name: data[name] for name in (*_INT_COLUMNS, "seconds", "learning_rate")}
    for split in ("train", "val"):
        for key in METRIC_KEYS:
            row[f"{split}_{key}"] = data[split].get(key, math.nan)
    session = session or {}
    hparams = session.get("hparams") or {}
    for key in _SESSION_KEYS:
        row[f"session_{key}"] = _cell(session.get(key))
    for key in _HPARAM_KEYS:
        row[f"hp_{key}"] = _cell(hparams.get(key))
    return row


def unflatten_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The epoch record (nested dict) a CSV row stands for."""
    record: dict[str, Any] = {name: int(float(row[name])) for name in _INT_COLUMNS}
    record["seconds"] = float(row["seconds"])
    record["learning_rate"] = float(row["learning_rate"])
    for split in ("train", "val"):
        record[split] = {key: _float(row.get(f"{split}_{key}")) for key in METRIC_KEYS}
    return record


def append_history_csv(
    path: str | os.PathLike[str],
    records: Iterable[EpochRecord | Mapping[str, Any]],
    sessions: Iterable[Mapping[str, Any]] = (),
) -> None:
    """Append records, writing the header first when the file is new or empty.

    A file with the older columns is rewritten (atomically) with today's, its rows kept.
    """
    path = Path(path)
    rows = _rows(records, sessions)
    if path.exists() and path.stat().st_size > 0:
        with path.open(newline="", encoding="utf-8") as handle:
            header = tuple(next(csv.reader(handle), []))
        if header == COLUMNS:
            with path.open("a", newline="", encoding="utf-8") as handle:
                csv.DictWriter(handle, COLUMNS, lineterminator="\n").writerows(rows)
            return
        # An older file: all epoch columns, some of today's session columns.
        if not set(EPOCH_COLUMNS) <= set(header) <= set(COLUMNS):
            raise ValueError(
                f"{path}: unexpected history columns; move the file away to start anew"
            )
        with path.open(newline="", encoding="utf-8") as handle:
            old = [{**dict.fromkeys(SESSION_COLUMNS, ""), **r} for r in csv.DictReader(handle)]
        rows = old + rows
    _write_rows(path, rows)


def write_history_csv(
    path: str | os.PathLike[str],
    records: Iterable[EpochRecord | Mapping[str, Any]],
    sessions: Iterable[Mapping[str, Any]] = (),
) -> None:
    """Replace the file with exactly these records (atomically)."""
    _write_rows(Path(path), _rows(records, sessions))


def _rows(
    records: Iterable[EpochRecord | Mapping[str, Any]], sessions: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    by_number = {int(s["session"]): s for s in sessions}
    rows = []
    for record in _as_maps(records):
        if "train_loss" in record:  # already a row
            rows.append(dict(record))
        else:
            rows.append(flatten_record(record, by_number.get(int(record["session"]))))
    return rows


def _write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def read_history_csv(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Epoch records from the CSV; [] when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        try:
            return [unflatten_row(row) for row in csv.DictReader(handle)]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: not a history CSV ({exc})") from exc


def read_sessions_csv(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Session entries from the CSV's session columns (rebuilt from the epochs when absent)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    # Rows written before the session columns: rebuilt from the epochs, as for old checkpoints.
    sessions = {s["session"]: s for s in from_records(read_history_csv(path))}
    seen: set[int] = set()
    for row in rows:
        number = int(float(row["session"]))
        if number in seen or not row.get("session_status"):
            continue
        seen.add(number)
        sessions[number] = {
            "session": number,
            "start_global_epoch": int(float(row["global_epoch"])) - 1,
            "started_at": row["session_started_at"] or None,
            "hparams": {k: _value(row.get(f"hp_{k}")) for k in _HPARAM_KEYS},
            "n_labeled": _value(row["session_n_labeled"]),
            "status": row["session_status"],
            "epochs_run": _value(row["session_epochs_run"]),
            "error": None,
            **{k: _value(row.get(f"session_{k}")) for k in EVALUATION_KEYS},
        }
    return [sessions[k] for k in sorted(sessions)]


def record_session(
    history_csv: str | os.PathLike[str],
    new_records: Iterable[Mapping[str, Any]],
    all_records: Iterable[Mapping[str, Any]],
    sessions: Iterable[Mapping[str, Any]] = (),
) -> None:
    """Persist one session's epochs for the scripts: append them to the CSV.

    `sessions` are the trainer's session entries (their settings go into each row). A
    missing CSV (say, a checkpoint moved here without it) is rewritten from everything
    the checkpoint knows, so the file always covers the whole history.
    """
    history_csv = Path(history_csv)
    all_records, sessions = list(all_records), list(sessions)
    if history_csv.exists():
        append_history_csv(history_csv, new_records, sessions)
    else:
        write_history_csv(history_csv, all_records, sessions)


def _as_maps(records: Iterable[EpochRecord | Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    for record in records:
        yield record.to_dict() if isinstance(record, EpochRecord) else record


def _cell(value: Any) -> Any:
    return "" if value is None else value


def _value(text: str | None) -> Any:
    """A session cell back to int / float / None (blank)."""
    if text is None or text == "":
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text and "e" not in text else number


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
