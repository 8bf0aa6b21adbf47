"""`alctl status` with a server tells about an unreadable labels file and a model that failed to
load; a connection lost mid-answer is a plain sentence."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from alctl.cli.server_client import ApiClient, ServerError
from tests.cli_support import run
from tests.live_server import running_server
from tests.waiting import wait_for


def test_status_reports_an_unreadable_labels_file(workspace: Path, tiny_data_dir: Path) -> None:
    with running_server(workspace, tiny_data_dir) as server:
        assert server.api("PUT", "/api/labels/3", {"label": 4}).status == 200
        csv = workspace / "data" / "mnist" / "labels.csv"
        csv.write_text("Serial,label\n3,four\n")

        def file_error() -> object:
            return server.api("GET", "/api/status").json()["labels"]["file_error"]

        wait_for(file_error, 10, "the watcher to notice the bad file")
        shown = run("status", "--workspace", workspace)
        assert shown.code == 0, shown
        assert "the file cannot be read" in shown.stdout and "'four'" in shown.stdout
        assert server.url.rstrip("/") in shown.stdout  # it is the server's view, not the files'
        csv.write_text("Serial,label\n3,4\n")
        wait_for(lambda: not file_error(), 20, "the watcher to notice the repaired file")


def test_status_reports_a_model_that_failed_to_load(workspace: Path, tiny_data_dir: Path) -> None:
    with running_server(workspace, tiny_data_dir) as server:
        assert server.api("POST", "/api/train", {"epochs": 1}).status == 202
        wait_for(
            lambda: server.api("GET", "/api/status").json()["checkpoint"]["epochs_trained"] == 1,
            120,
            "the first session's checkpoint",
        )
    # Damage the weights, keeping size and mtime: the points cache still matches, so the
    # server starts warm and only the background model load finds the damage.
    ckpt = workspace / "artifacts" / "mnist" / "ssvae.ckpt"
    before = ckpt.stat()
    data = bytearray(ckpt.read_bytes())
    data[len(data) // 2] ^= 0xFF
    ckpt.write_bytes(bytes(data))
    os.utime(ckpt, ns=(before.st_atime_ns, before.st_mtime_ns))
    with running_server(workspace, tiny_data_dir) as server:
        wait_for(
            lambda: server.api("GET", "/api/status").json()["model"]["state"] != "loading",
            30,
            "the model load to end",
        )
        shown = run("status", "--workspace", workspace)
        assert "model       failed to load" in shown.stdout and str(ckpt) in shown.stdout


@pytest.mark.parametrize("reply", [b"", b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{"])
def test_a_lost_connection_is_a_plain_sentence(reply: bytes) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def answer_then_hang_up() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(reply)
        conn.close()

    threading.Thread(target=answer_then_hang_up, daemon=True).start()
    client = ApiClient(f"http://127.0.0.1:{listener.getsockname()[1]}", "token")
    with pytest.raises(ServerError) as caught:
        client.status(timeout=5)
    listener.close()
    message = str(caught.value)
    assert "closed the connection before answering" in message
    assert "IncompleteRead" not in message and "RemoteDisconnected" not in message
