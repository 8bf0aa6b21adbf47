"""Terminal rendering of training progress and the SSE parser the CLI follows it with."""

from __future__ import annotations

import io
import math

from alctl.cli.progress import TrainProgress, format_epoch_line
from alctl.cli.server_client import SSEEvent, parse_sse
from ssvae.records.formats import duration as format_duration

RECORD = {
    "session": 2,
    "epoch": 3,
    "global_epoch": 13,
    "train": {
        "loss": 150.25,
        "reconstruction_loss": 140.0,
        "kl_loss": 5.5,
        "classification_loss": 0.4,
        "accuracy": math.nan,
    },
    "val": {
        "loss": 152.0,
        "reconstruction_loss": 141.0,
        "kl_loss": 5.6,
        "classification_loss": None,
        "accuracy": 0.913,
    },
    "seconds": 4.94,
    "learning_rate": 0.001,
}


def test_format_duration() -> None:
    assert format_duration(83) == "1:23"
    assert format_duration(3723.4) == "1:02:03"
    assert format_duration(None) == "?"
    assert format_duration(math.inf) == "?"


def test_epoch_line_shows_missing_values_as_dashes() -> None:
    line = format_epoch_line(RECORD, 20)
    assert line.startswith("epoch 3/20 (#13)")
    assert "loss 150.2/152" in line and "cls 0.4/–" in line
    assert "acc 91.3%" in line and line.endswith("4.9s")


def test_tty_bar_redraws_in_place_and_clears_for_lines() -> None:
    out = io.StringIO()
    progress = TrainProgress(out, tty=True)
    progress.handle("train_started", {"session": 2, "epochs": 20, "start_epoch": 10})
    for batch in (1, 2):
        progress.handle(
            "train_progress",
            {"epoch": 1, "epochs": 20, "batch": batch, "batches": 4, "loss": 1.0, "eta_s": 61},
        )
    progress.handle("train_epoch", RECORD)
    text = out.getvalue()
    assert text.count("\r\x1b[K") >= 3  # two redraws + one clear before the epoch line
    assert "batch 2/4" in text and "ETA 1:01" in text
    assert "\n" not in text.split("batch 1/4")[1].split("\r")[0]  # the bar never scrolls


def test_plain_output_is_throttled_lines() -> None:
    now = [0.0]
    out = io.StringIO()
    progress = TrainProgress(out, tty=False, plain_interval_s=10, clock=lambda: now[0])
    for second in range(0, 30):
        now[0] = float(second)
        progress.progress({"epoch": 1, "epochs": 2, "batch": second, "batches": 30, "eta_s": 5})
    progress.ended({"status": "early_stopped", "epochs_run": 2, "global_epoch": 12, "seconds": 30})
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()
    assert len([line for line in lines if line.startswith("epoch")]) == 3  # t = 0, 10, 20
    assert lines[-1] == "training early stopped: 2 epochs in 0:30 (model at epoch #12)"


def test_parse_sse() -> None:
    lines = [
        ": ping",
        "event: snapshot",
        'data: {"dataset": "mnist"}',
        "id: 1",
        "",
        "event: train_epoch",
        'data: {"a":',
        "data: 1}",
        "",
        "data: plain text",
        "",
    ]
    assert list(parse_sse(lines)) == [
        SSEEvent("snapshot", {"dataset": "mnist"}, "1"),
        SSEEvent("train_epoch", {"a": 1}, "1"),
        SSEEvent("message", "plain text", "1"),
    ]
