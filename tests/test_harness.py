"""The shared test and benchmark harness: the one SSE client, and the browser tests' check.

The SSE client (alctl.cli.server_client) is what `alctl train`, the tests (SSEReader) and the
benchmarks (EventRecorder) read the server's stream with; here it reads a scripted stream
from a real socket, so a deadline, a heartbeat and a close from another thread are exact.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alctl.cli.server_client import DeadlinePassed, SSEEvent, StreamClosed, open_event_stream
from tests import browser

HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\r\n"


class ScriptedStream:
    """A loopback server that answers one `/api/events` request with what a test sends."""

    def __init__(self, headers: bytes = HEADERS) -> None:
        self.headers = headers
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/"
        self._accepted = threading.Event()
        self._client: socket.socket | None = None
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        client, _ = self._listener.accept()
        request = b""
        while b"\r\n\r\n" not in request:
            request += client.recv(4096)
        client.sendall(self.headers)
        self._client = client
        self._accepted.set()

    def send(self, text: str) -> None:
        assert self._accepted.wait(10)
        assert self._client is not None
        self._client.sendall(text.encode())

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self._listener.close()


@pytest.fixture()
def scripted() -> Iterator[ScriptedStream]:
    server = ScriptedStream()
    yield server
    server.close()


def test_events_keep_their_raw_text_and_comments_are_reported(scripted: ScriptedStream) -> None:
    comments: list[str] = []
    with open_event_stream(scripted.url, timeout=10, on_comment=comments.append) as stream:
        scripted.send(': ping\n\nevent: train_epoch\nid: 7\ndata: {"val": null}\n\n')
        event = stream.next()
        assert event == SSEEvent("train_epoch", {"val": None}, "7")
        assert event.raw == '{"val": null}'
        assert comments == [": ping"]


def test_a_deadline_ends_a_wait_that_heartbeats_keep_alive(scripted: ScriptedStream) -> None:
    stream = open_event_stream(scripted.url, timeout=10)
    beating = threading.Event()

    def heartbeats() -> None:
        while not beating.wait(0.1):
            scripted.send(": ping\n\n")

    thread = threading.Thread(target=heartbeats, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        with pytest.raises(DeadlinePassed):
            stream.next(deadline=started + 0.5)
        assert 0.5 <= time.monotonic() - started < 5
    finally:
        beating.set()
        thread.join(5)
        stream.close()


def test_the_end_of_the_stream_is_stream_closed(scripted: ScriptedStream) -> None:
    with open_event_stream(scripted.url, timeout=10) as stream:
        scripted.send("event: snapshot\ndata: {}\n\n")
        assert stream.next().event == "snapshot"
        scripted.close()
        with pytest.raises(StreamClosed):
            stream.next()


def test_close_wakes_a_reader_blocked_in_another_thread(scripted: ScriptedStream) -> None:
    """The benchmarks' recorder reads in a thread and is closed from another one."""
    stream = open_event_stream(scripted.url, timeout=60)
    ended = threading.Event()

    def read() -> None:
        try:
            stream.next()
        except Exception:
            ended.set()

    threading.Thread(target=read, daemon=True).start()
    scripted.send(": ping\n\n")
    stream.close()
    assert ended.wait(10), "the reader still blocks after close()"


def test_a_close_from_another_thread_ends_a_chunked_read_as_stream_closed() -> None:
    """uvicorn sends the stream chunked. A close while the reader waits for the next chunk's
    size used to escape as an AttributeError from http.client (the benchmarks' recorder
    printed its traceback): it is StreamClosed, whichever thread gets there first."""
    chunked = HEADERS.replace(b"\r\n\r\n", b"\r\nTransfer-Encoding: chunked\r\n\r\n")
    ends: list[str] = []
    for _ in range(20):
        server = ScriptedStream(chunked)
        stream = open_event_stream(server.url, timeout=60)
        first = "event: snapshot\ndata: {}\n\n"
        server.send(f"{len(first):x}\r\n{first}\r\n")
        assert stream.next().event == "snapshot"
        waiting = threading.Event()

        def read(stream: object = stream, waiting: threading.Event = waiting) -> None:
            waiting.set()
            try:
                stream.next()  # type: ignore[attr-defined]
            except Exception as exc:  # what the reader sees is the test's subject
                ends.append(type(exc).__name__)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        waiting.wait(5)
        stream.close()
        reader.join(10)
        server.close()
    assert ends == ["StreamClosed"] * 20


def test_browser_tests_name_what_is_missing_and_how_to_deselect_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "chromium")
    problem = browser.browser_problem()
    assert problem is not None and str(tmp_path / "chromium") in problem
    assert "make browser" in problem and "-m 'not browser'" in problem
    monkeypatch.setattr(browser, "CHROMIUM", Path("/bin/sh"))  # any file that exists
    monkeypatch.setattr(browser, "VENDOR", tmp_path / "vendor")
    problem = browser.browser_problem()
    assert problem is not None and str(tmp_path / "vendor") in problem and "make js-deps" in problem
    with pytest.raises(AssertionError, match="make js-deps"), browser.launched_chromium():
        pass
