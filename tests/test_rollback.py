"""Going back one checkpoint: `POST /api/checkpoint/rollback` and `alctl rollback`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ssvae.io.checkpoint import load_checkpoint
from ssvae.io.checkpoint_integrity import previous_path
from ssvae.io.history import read_history_csv
from tests.cli_support import invoke
from tests.live_server import SSEReader
from tests.thread_server import ThreadServer, served_workspace


@pytest.fixture()
def server(tiny_data_dir: Path, workspace: Path) -> Iterator[ThreadServer]:
    with served_workspace(workspace, tiny_data_dir) as running:
        yield running


def _train(server: ThreadServer, events: SSEReader, epochs: int) -> None:
    assert server.api("POST", "/api/train", {"epochs": epochs}).status == 202
    assert events.until("train_ended")[-1].data["status"] == "completed"
    events.until("latent_refreshed")


def test_rollback_route_swaps_back_and_forth(server: ThreadServer) -> None:
    ws = server.session.workspace
    refused = server.api("POST", "/api/checkpoint/rollback")
    assert refused.status == 409 and "ssvae.prev.ckpt" in refused.json()["error"]
    with SSEReader(server.url) as events:
        events.next()
        _train(server, events, 1)
        _train(server, events, 2)
        assert [r["global_epoch"] for r in read_history_csv(ws.history_csv)] == [1, 2, 3]
        answer = server.api("POST", "/api/checkpoint/rollback")
        assert answer.status == 200, answer.body
        assert answer.json()["epochs_trained"] == 1
        events.until("latent_refreshed")
        status = server.api("GET", "/api/status").json()
        assert status["checkpoint"]["epochs_trained"] == 1
        assert [r["global_epoch"] for r in read_history_csv(ws.history_csv)] == [1]
        assert load_checkpoint(previous_path(ws.checkpoint)).epochs_trained == 3
        # Training continues from the restored model, not from the one rolled away from.
        _train(server, events, 1)
    assert load_checkpoint(ws.checkpoint).epochs_trained == 2
    assert [r["global_epoch"] for r in read_history_csv(ws.history_csv)] == [1, 2]


def test_rollback_is_refused_while_training(server: ThreadServer) -> None:
    with SSEReader(server.url) as events:
        events.next()
        _train(server, events, 1)
        _train(server, events, 1)
        assert server.api("POST", "/api/train", {"epochs": 500, "batch_size": 8}).status == 202
        events.until("train_progress")
        busy = server.api("POST", "/api/checkpoint/rollback")
        assert busy.status == 409 and "stop it" in busy.json()["error"]
        server.api("POST", "/api/train/stop")
        saved = events.until("session_saved")[-1].data
        # Stopped in its first epoch: no epoch kept, nothing saved, the model as it was.
        assert saved["status"] == "stopped" and saved["saved"] is False
    assert server.api("POST", "/api/checkpoint/rollback", {"x": 1}).status == 400


def test_cli_rollback_without_a_server(workspace: Path, tiny_data_dir: Path) -> None:
    files = ["--workspace", workspace, "--data-dir", tiny_data_dir, "--no-server"]
    missing = invoke("rollback", *files)
    assert missing.code != 0 and "no previous checkpoint" in missing.stderr
    assert invoke("train", "--epochs", 1, *files).code == 0
    assert invoke("train", "--epochs", 1, *files).code == 0
    done = invoke("rollback", *files)
    assert done.code == 0, done.stderr
    assert "restored the previous checkpoint (1 epoch)" in done.stdout
    ckpt = workspace / "artifacts" / "mnist" / "ssvae.ckpt"
    assert load_checkpoint(ckpt).epochs_trained == 1
    history = read_history_csv(workspace / "artifacts" / "mnist" / "history.csv")
    assert [r["global_epoch"] for r in history] == [1]
