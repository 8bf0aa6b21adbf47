"""Inputs are exactly as strict as documented: serials, fields, Host, methods, sizes, echoes."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alctl.server.limits import MAX_BODY_BYTES
from alctl.server.protocol import HeaderDeadlineProtocol
from alctl.server.security import host_name
from ssvae.io.labels import LabelStore
from tests.cli_support import invoke
from tests.live_server import fetch, free_port
from tests.thread_server import ThreadServer, make_session, thread_server

BAD_SERIALS = ["\u0663", "\uff15", "+5", "1_0", " 5", "-0", "5 ", "0x5", "5.0", ""]


@pytest.fixture(scope="module")
def server(tiny_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    # Every request here is refused: the labels file must stay as it is.
    session = make_session(tmp_path_factory.mktemp("ws"), tiny_data_dir)
    with thread_server(session) as running:
        yield running
        assert not session.workspace.labels_csv.exists()


@pytest.mark.parametrize("serial", [s for s in BAD_SERIALS if s])
def test_only_ascii_digits_are_serials_in_the_api(server: ThreadServer, serial: str) -> None:
    path = "/api/labels/" + "".join(f"%{b:02X}" for b in serial.encode())
    answer = server.api("PUT", path, {"label": 1})
    assert answer.status in (400, 404), answer.body
    assert "digits 0-9" in answer.json()["error"] or "outside" in answer.json()["error"]
    bulk = server.api("POST", "/api/labels", {"labels": {serial: 1}})
    assert bulk.status == 400, bulk.body


@pytest.mark.parametrize("serial", [s for s in BAD_SERIALS if s and not s.startswith("-")])
def test_only_ascii_digits_are_serials_in_the_cli(
    workspace: Path, tiny_data_dir: Path, serial: str
) -> None:
    ws = ["--workspace", workspace, "--data-dir", tiny_data_dir, "--no-server"]
    for args in ([serial, "1"], ["5", serial], [serial, "--delete"]):
        done = invoke("label", *args, *ws)
        assert done.code == 2 and "is not a whole number written with the digits 0-9" in done.stderr
    assert not LabelStore(workspace / "data" / "mnist" / "labels.csv", 600).read()


def test_put_refuses_unknown_fields_like_post(server: ThreadServer) -> None:
    answer = server.api("PUT", "/api/labels/5", {"label": 1, "lable": 2})
    assert answer.status == 400 and "unknown field(s) lable" in answer.json()["error"]


def test_error_messages_do_not_echo_a_huge_input(server: ThreadServer) -> None:
    huge = "9" * 65536 + "x"
    for method, path, body in [
        ("PUT", "/api/labels/" + huge, {"label": 1}),
        ("POST", "/api/labels", {"labels": {huge: 1}}),
        ("PUT", "/api/labels/5", {"label": huge}),
        ("GET", "/api/labels?format=" + huge, None),
        ("GET", "/api/" + huge, None),
    ]:
        answer = server.api(method, path, body)
        assert 400 <= answer.status < 500 and len(answer.body) < 1000, (path[:20], answer.status)
    answer = server.api("GET", "/api/status", headers={"Host": "h" * 5000})
    assert answer.status == 403 and len(answer.body) < 1000


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1:{port}@evil", "localhost:{port}.evil.example", "localhost:{port}:1",
     "127.0.0.1 :{port}", "localhost:", "[::1]x", "127.0.0.1:{port}/x"],
)  # fmt: skip
def test_host_is_parsed_strictly(server: ThreadServer, host: str) -> None:
    port = server.url.rstrip("/").rsplit(":", 1)[1]
    answer = server.api("GET", "/api/status", headers={"Host": host.format(port=port)})
    assert answer.status == 403, host


def test_host_name_parsing() -> None:
    assert host_name("localhost:8203.evil.example") is None
    assert host_name("127.0.0.1:8201@evil") is None
    assert host_name("LOCALHOST") == "localhost" and host_name("[::1]") == "::1"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/api/train", "POST"),
        ("DELETE", "/api/labels", "GET, POST"),
        ("POST", "/api/labels/3", "DELETE, PUT"),
        ("PUT", "/api/status", "GET"),
        ("GET", "/api/checkpoint/rollback", "POST"),
    ],
)
def test_wrong_method_is_405_with_allow(
    server: ThreadServer, method: str, path: str, allowed: str
) -> None:
    answer = server.api(method, path)
    assert answer.status == 405 and answer.headers["allow"] == allowed
    assert server.api(method, "/api/no-such-route").status == 404


@pytest.mark.parametrize("path", ["/api/labels/3", "/api/labels", "/api/train"])
@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_deeply_nested_json_is_a_400(server: ThreadServer, path: str, method: str) -> None:
    answer = server.api(method, path, b"[" * 100_000)
    assert answer.status in (400, 405)
    if answer.status == 400:
        assert "nested too deeply" in answer.json()["error"]


def test_bodies_over_the_limit_are_refused_unread(server: ThreadServer) -> None:
    # Announce 200 MB and send a little: the answer comes at once, not after 200 MB.
    host, port = server.url.removeprefix("http://").rstrip("/").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest("POST", "/api/labels")
    conn.putheader("Content-Length", str(200 * 1024 * 1024))
    conn.putheader("Content-Type", "application/json")
    conn.putheader("X-Alctl-Token", server.token)
    conn.endheaders(b'{"labels": {')
    response = conn.getresponse()
    assert response.status == 413 and "too large" in json.loads(response.read())["error"]
    conn.close()


def test_a_body_without_a_length_is_read_only_up_to_the_limit() -> None:
    from starlette.requests import Request

    from alctl.server.limits import RequestTooLarge, read_body

    chunk, sent = b" " * 65536, []

    async def receive() -> dict:
        sent.append(len(chunk))
        return {"type": "http.request", "body": chunk, "more_body": True}  # never ends

    scope = {"type": "http", "method": "POST", "headers": [], "path": "/api/labels"}
    with pytest.raises(RequestTooLarge):
        asyncio.run(read_body(Request(scope, receive)))
    assert sum(sent) <= MAX_BODY_BYTES + len(chunk)


def test_sixty_thousand_labels_per_post_at_most(server: ThreadServer) -> None:
    many = {str(i): None for i in range(60_001)}
    answer = server.api("POST", "/api/labels", {"labels": many})
    assert answer.status == 413 and "at most 60,000" in answer.json()["error"]


def test_idle_partial_connections_are_closed() -> None:
    import uvicorn
    from starlette.applications import Starlette

    class QuickDeadline(HeaderDeadlineProtocol):
        header_timeout_s = 0.5

    port = free_port()
    config = uvicorn.Config(Starlette(), host="127.0.0.1", port=port, http=QuickDeadline,
                            log_level="warning")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        silent = socket.create_connection(("127.0.0.1", port))
        partial = socket.create_connection(("127.0.0.1", port))
        partial.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        for sock in (silent, partial):
            sock.settimeout(5)
            started = time.monotonic()
            assert sock.recv(1024) == b""  # closed by the server
            assert time.monotonic() - started < 3
            sock.close()
        # A request that arrives whole is answered as usual.
        assert fetch(f"http://127.0.0.1:{port}/").status == 404
    finally:
        server.should_exit = True
        thread.join(10)
