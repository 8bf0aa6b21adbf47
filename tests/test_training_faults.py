"""Training faults against one real server: each gives the right event and message, the server
keeps serving, and a plain next session runs with sane settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ssvae.config import SSVAEConfig
from tests.live_server import SSEReader
from tests.thread_server import ThreadServer, served_workspace

DEFAULT_LR = SSVAEConfig().learning_rate
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tiny_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    with served_workspace(tmp_path_factory.mktemp("faults"), tiny_data_dir) as running:
        labels = {str(s): int(running.session.dataset.train_targets[s]) for s in range(30)}
        assert running.api("POST", "/api/labels", {"labels": labels}).status == 200
        yield running


@pytest.fixture()
def events(server: ThreadServer) -> Iterator[SSEReader]:
    with SSEReader(server.url) as reader:
        reader.next()
        yield reader


def _still_serving_then_a_clean_session(server: ThreadServer, events: SSEReader) -> None:
    assert server.api("GET", "/api/status").status == 200
    assert server.api("GET", "/api/samples/3").status == 200
    assert server.api("PUT", "/api/labels/40", {"label": 2}).status == 200
    status = server.api("GET", "/api/status").json()
    assert status["training"]["state"] == "idle"
    assert status["hparams"]["learning_rate"] == DEFAULT_LR
    assert status["hparams"]["recon_weight"] == 1.0
    assert server.api("POST", "/api/train", {"epochs": 1}).status == 202
    assert events.until("train_ended")[-1].data["status"] == "completed"
    events.until("latent_refreshed")


def _failed(server: ThreadServer, events: SSEReader, body: dict) -> dict:
    assert server.api("POST", "/api/train", body).status == 202
    ended = events.until("train_ended")[-1].data
    assert ended["status"] == "failed"
    assert events.until("session_saved")[-1].data["saved"] is False
    return ended


def test_an_exception_in_the_session(server: ThreadServer, events: SSEReader) -> None:
    csv = server.session.workspace.labels_csv
    good = csv.read_bytes()
    csv.write_text("Serial,label\n1,seven\n")  # the session reads the labels when it starts
    try:
        ended = _failed(server, events, {"epochs": 1})
    finally:
        csv.write_bytes(good)  # the other tests share this server
    assert "labels.csv line 2: 'seven' is not a number" in ended["error"]
    _still_serving_then_a_clean_session(server, events)


def test_a_nan_loss(server: ThreadServer, events: SSEReader) -> None:
    ckpt = server.session.workspace.checkpoint
    before = ckpt.read_bytes() if ckpt.exists() else None
    ended = _failed(server, events, {"epochs": 1, "recon_weight": 1e38})
    assert "became inf" in ended["error"] or "became nan" in ended["error"]
    assert "rolled back" in ended["error"]
    assert (ckpt.read_bytes() if ckpt.exists() else None) == before
    _still_serving_then_a_clean_session(server, events)


def test_divergence_without_nan(server: ThreadServer, events: SSEReader) -> None:
    _still_serving_then_a_clean_session(server, events)  # a trained model to diverge from
    before = server.session.workspace.checkpoint.read_bytes()
    ended = _failed(server, events, {"epochs": 2, "learning_rate": 1.0})
    assert "diverged" in ended["error"] and "lower the learning rate" in ended["error"]
    assert server.session.workspace.checkpoint.read_bytes() == before
    _still_serving_then_a_clean_session(server, events)


def test_stop_mid_epoch(server: ThreadServer, events: SSEReader) -> None:
    start = server.api("POST", "/api/train", {"epochs": 500, "batch_size": 8})
    assert start.status == 202
    events.until("train_progress")
    assert server.api("POST", "/api/train/stop").status == 202
    assert events.until("train_ended")[-1].data["status"] == "stopped"
    events.until("session_saved")  # stopped in its first epoch: nothing kept, nothing saved
    assert server.api("GET", "/api/status").json()["hparams"]["batch_size"] == 8  # clean: kept
    server.api("POST", "/api/train", {"epochs": 1, "batch_size": 128})
    events.until("latent_refreshed")
    _still_serving_then_a_clean_session(server, events)


def test_a_double_start(server: ThreadServer, events: SSEReader) -> None:
    assert server.api("POST", "/api/train", {"epochs": 300, "batch_size": 8}).status == 202
    busy = server.api("POST", "/api/train", {"epochs": 1, "learning_rate": 5.0})
    assert busy.status == 409 and "already running" in busy.json()["error"]
    events.until("train_progress")
    server.api("POST", "/api/train/stop")
    events.until("session_saved")
    server.api("POST", "/api/train", {"epochs": 1, "batch_size": 128})
    events.until("latent_refreshed")
    _still_serving_then_a_clean_session(server, events)
