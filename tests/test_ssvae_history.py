"""History CSV round trip and the loss-curve PNG."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from alctl.report.loss_plot import draw_loss_curves, loss_figure
from ssvae.io.history import (
    COLUMNS,
    EPOCH_COLUMNS,
    append_history_csv,
    flatten_record,
    read_history_csv,
    read_sessions_csv,
)
from ssvae.records.events import EpochRecord, format_epoch

NAN = float("nan")


def record(session: int, epoch: int, global_epoch: int, acc: float = NAN) -> EpochRecord:
    metrics = {
        "loss": 200.0 - global_epoch,
        "reconstruction_loss": 180.0,
        "kl_loss": 5.5,
        "classification_loss": 0.7 if not math.isnan(acc) else NAN,
        "accuracy": acc,
    }
    return EpochRecord(session, epoch, global_epoch, dict(metrics), dict(metrics), 4.25, 1e-3)


def test_append_and_read_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "artifacts" / "history.csv"
    append_history_csv(path, [record(1, 1, 1), record(1, 2, 2, acc=0.5)])
    append_history_csv(path, [record(2, 1, 3, acc=0.75).to_dict()])
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS) and len(lines) == 4
    assert lines[0].startswith("session,epoch,global_epoch,seconds,learning_rate,train_loss,")
    rows = read_history_csv(path)
    assert [r["global_epoch"] for r in rows] == [1, 2, 3]
    assert rows[2] == record(2, 1, 3, acc=0.75).to_dict()
    assert math.isnan(rows[0]["train"]["accuracy"]) and rows[1]["val"]["accuracy"] == 0.5


def test_reading_a_missing_file_gives_nothing(tmp_path: Path) -> None:
    assert read_history_csv(tmp_path / "none.csv") == []


def test_a_foreign_csv_is_not_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="unexpected history columns"):
        append_history_csv(path, [record(1, 1, 1)])
    assert path.read_text() == "a,b\n1,2\n"


def test_plot_writes_a_png(tmp_path: Path) -> None:
    records = [record(1, e, e).to_dict() for e in (1, 2, 3)] + [record(2, 1, 4, 0.9).to_dict()]
    target = tmp_path / "plots" / "loss_curves.png"
    draw_loss_curves(target, records)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    draw_loss_curves(target, [])  # an empty history still draws (empty axes)
    assert target.stat().st_size > 0


def test_the_figure_has_no_stray_text_and_keys_only_lines_that_exist() -> None:
    """Before, the grid's sixth cell held "4 epochs / last: global epoch 4" and the key
    showed a validation line for panels that had none."""
    train_only = {"classification_loss": None, "accuracy": None}  # as /api/history sends
    records = []
    for session, epoch, global_epoch in ((1, 1, 1), (1, 2, 2), (1, 3, 3), (2, 1, 4)):
        r = record(session, epoch, global_epoch, acc=0.5).to_dict()
        r["val"].update(train_only)
        records.append(r)
    figure = loss_figure(records)
    panels, key_cell = figure.axes[:5], figure.axes[5]
    assert [t.get_text() for ax in figure.axes for t in ax.texts] == []
    assert [ax.get_legend() for ax in panels] == [None] * 5
    key = [t.get_text() for t in key_cell.get_legend().get_texts()]
    assert key == ["train", "validation", "a session begins"]

    def curves(ax: object) -> list[str]:  # the data lines, by style (not the session lines)
        return [line.get_linestyle() for line in ax.lines if line.get_marker() == "o"]

    assert [curves(ax) for ax in panels] == [["-", "--"]] * 3 + [["-"]] * 2
    # One session, no validation values at all: neither key entry.
    alone = [r | {"val": dict.fromkeys(r["val"])} for r in records[:3]]
    key = loss_figure(alone).axes[5].get_legend().get_texts()
    assert [t.get_text() for t in key] == ["train"]


def test_format_epoch_is_one_readable_line() -> None:
    line = format_epoch(record(2, 3, 13, acc=0.8125))
    assert line.startswith("epoch 3 (global 13)") and "acc 0.812" in line and "\n" not in line
    assert "cls -" in format_epoch(record(1, 1, 1))


SESSION_1 = {
    "session": 1,
    "start_global_epoch": 0,
    "started_at": "2026-01-02T03:04:05+00:00",
    "hparams": {
        "epochs": 2,
        "recon_weight": 1.0,
        "kl_weight": 0.5,
        "label_weight": 10.0,
        "learning_rate": 0.001,
        "batch_size": 64,
    },
    "n_labeled": 12,
    "status": "completed",
    "epochs_run": 2,
    "error": None,
    "test_accuracy": 0.8125,
    "test_ece": 0.0625,
    "blind_accuracy": 0.6,
    "blind_n": 10,
    "labeled_accuracy": 0.75,
}


def test_each_row_carries_its_session(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    append_history_csv(path, [record(1, 1, 1), record(1, 2, 2)], [SESSION_1])
    assert read_sessions_csv(path) == [SESSION_1]
    assert [r["global_epoch"] for r in read_history_csv(path)] == [1, 2]


def test_an_older_file_is_read_and_upgraded_on_append(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    old_row = {k: v for k, v in flatten_record(record(1, 1, 1)).items() if k in EPOCH_COLUMNS}
    path.write_text(",".join(EPOCH_COLUMNS) + "\n" + ",".join(map(str, old_row.values())) + "\n")
    assert read_history_csv(path)[0]["global_epoch"] == 1
    assert read_sessions_csv(path)[0]["hparams"] == {"learning_rate": 1e-3}  # what it tells
    session_2 = {**SESSION_1, "session": 2, "start_global_epoch": 1, "epochs_run": 1}
    append_history_csv(path, [record(2, 1, 2)], [session_2])
    assert path.read_text().splitlines()[0] == ",".join(COLUMNS)
    sessions = read_sessions_csv(path)
    assert [s["session"] for s in sessions] == [1, 2]
    assert sessions[0]["started_at"] is None and sessions[1] == session_2
