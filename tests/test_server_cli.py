"""`alctl serve` as users run it: a real process, real signals, real files."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from alctl.discovery import find_live_server, read_discovery
from ssvae.io.checkpoint import load_checkpoint
from tests.live_server import (
    LiveServer,
    SSEReader,
    running_server,
    serve_and_fail,
    stop_server,
)

pytestmark = pytest.mark.slow


def assert_one_clear_line(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_serve_announces_itself_and_ctrl_c_stops_training_and_streams(
    live_server: LiveServer,
) -> None:
    output = live_server.output()
    for step in ("dataset", "labels", "checkpoint", "model", "predictions"):
        assert f"  {step}" in output and " s)" in output
    assert f"serving mnist at {live_server.url}" in output
    server_file = live_server.workspace / ".alctl" / "server.json"
    assert stat.S_IMODE(server_file.stat().st_mode) == 0o600
    info = json.loads(server_file.read_text())
    assert set(info) == {"url", "pid", "token", "dataset", "workspace", "started_at"}
    assert info["pid"] == live_server.process.pid and info["dataset"] == "mnist"
    assert info["workspace"] == str(live_server.workspace.resolve())
    assert find_live_server(live_server.workspace) == read_discovery(live_server.workspace)

    with SSEReader(live_server.url) as events:
        events.next()
        started = live_server.api("POST", "/api/train", {"epochs": 500, "batch_size": 16})
        assert started.status == 202
        events.until("train_epoch")  # one whole epoch: what a stop keeps
        events.until("train_progress")
        seconds = stop_server(live_server.process, live_server.log)
        with pytest.raises(EOFError):
            while True:
                events.next()  # the stream ends; it does not hang the shutdown
    assert seconds < 6.0, f"took {seconds:.1f} s to stop"
    assert live_server.process.returncode == 0
    assert not server_file.exists()
    assert find_live_server(live_server.workspace) is None
    # The running session was stopped cooperatively and its whole epochs saved.
    saved = load_checkpoint(live_server.workspace / "artifacts" / "mnist" / "ssvae.ckpt")
    assert saved is not None and saved.epochs_trained >= 1
    assert "stopped" in live_server.output()


def test_restart_serves_cached_points_at_once(tiny_data_dir: Path, workspace: Path) -> None:
    with running_server(workspace, tiny_data_dir) as first:
        with SSEReader(first.url) as events:
            events.next()
            first.api("POST", "/api/train", {"epochs": 1})
            events.until("latent_refreshed")
        points = first.api("GET", "/api/points").body
    with running_server(workspace, tiny_data_dir) as second:
        assert "points from the cache" in second.output()
        assert second.api("GET", "/api/points").body == points
        status = second.api("GET", "/api/status").json()
        assert status["checkpoint"]["epochs_trained"] == 1
        assert len(second.api("GET", "/api/history").json()["records"]) == 1
        # Samples need the model, which loads in the background: they wait for it.
        sample = second.api("GET", "/api/samples/0", timeout=60)
        assert sample.status in (200, 503)
        if sample.status == 503:
            assert sample.json() == {"error": "model loading"}


def test_acknowledged_labels_survive_kill_9(live_server: LiveServer) -> None:
    for serial in range(40):
        answer = live_server.api("PUT", f"/api/labels/{serial}", {"label": serial % 10})
        assert answer.status == 200
    live_server.process.send_signal(signal.SIGKILL)
    live_server.process.wait(10)
    csv = live_server.workspace / "data" / "mnist" / "labels.csv"
    rows = csv.read_text().splitlines()
    assert rows[0] == "Serial,label"
    assert rows[1:] == [f"{s},{s % 10}" for s in range(40)]
    # The discovery file is left behind, but nobody mistakes it for a live server.
    assert read_discovery(live_server.workspace) is not None
    assert find_live_server(live_server.workspace) is None


def test_port_in_use_is_one_clear_line(tiny_data_dir: Path, workspace: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = serve_and_fail(workspace, tiny_data_dir, port)
    assert_one_clear_line(result, f"port {port}", "in use", "--port")
    assert time.monotonic() - started < 30  # reported before the slow steps


def test_corrupt_checkpoint_is_one_clear_line(tiny_data_dir: Path, workspace: Path) -> None:
    ckpt = workspace / "artifacts" / "mnist" / "ssvae.ckpt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"\x00 this is not a checkpoint " * 100)
    result = serve_and_fail(workspace, tiny_data_dir)
    assert_one_clear_line(result, str(ckpt), "fresh model")
    assert ckpt.read_bytes().startswith(b"\x00 this is not")  # never overwritten


def test_missing_data_is_one_clear_line(workspace: Path, tmp_path: Path) -> None:
    empty = tmp_path / "no-data"
    empty.mkdir()
    result = serve_and_fail(workspace, empty)
    assert_one_clear_line(result, str(empty), "IDX")


def test_a_second_server_on_one_workspace_is_refused(
    live_server: LiveServer, tiny_data_dir: Path
) -> None:
    result = serve_and_fail(live_server.workspace, tiny_data_dir)
    assert_one_clear_line(result, "already running", live_server.url)
    assert live_server.process.poll() is None


def test_sigterm_stops_cleanly_too(live_server: LiveServer) -> None:
    live_server.process.send_signal(signal.SIGTERM)
    assert live_server.process.wait(15) == 0
    assert not (live_server.workspace / ".alctl" / "server.json").exists()
    assert os.path.exists(live_server.log)
