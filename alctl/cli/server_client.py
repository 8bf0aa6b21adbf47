"""How the CLI talks to a running alctl server: JSON calls and the SSE event stream.

Only the standard library (http.client, json) so that `alctl status` and `alctl label`
stay fast: no torch, numpy, starlette or httpx on this path.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

SOURCE_HEADER = "X-Alctl-Source"
TOKEN_HEADER = "X-Alctl-Token"


class ServerError(Exception):
    """The server answered with an error, or could not be reached; `str()` is one line."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class StreamClosed(ServerError):
    """The server ended the event stream (shut down, or dropped a client that lagged)."""


@dataclass(frozen=True)
class SSEEvent:
    event: str
    data: Any
    id: str | None = None
    raw: str = field(default="", compare=False)  # the data line(s) as sent


class DeadlinePassed(Exception):
    """No event came before the deadline given to `EventStream.next`."""


def parse_sse(
    lines: Iterable[str], on_comment: Callable[[str], None] | None = None
) -> Iterator[SSEEvent]:
    """Parse server-sent events (WHATWG format) from decoded lines without line ends.

    Comment lines (the server's heartbeats) go to `on_comment` when given.
    """
    event, data, last_id = "", [], None
    for line in lines:
        if not line:
            if data:
                text = "\n".join(data)
                try:
                    payload: Any = json.loads(text)
                except ValueError:
                    payload = text
                yield SSEEvent(event or "message", payload, last_id, text)
            event, data = "", []
            continue
        if line.startswith(":"):
            if on_comment is not None:
                on_comment(line)
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            last_id = value


class EventStream:
    """An open `/api/events` connection; iterate it (or call `next`) for `SSEEvent`s, close
    it when done. The one SSE client of the project: the CLI, the tests and the benchmarks
    read the server's stream through it."""

    def __init__(
        self,
        conn: http.client.HTTPConnection,
        response: http.client.HTTPResponse,
        on_comment: Callable[[str], None] | None = None,
        sock: socket.socket | None = None,
    ):
        self._conn = conn
        # Given by the opener: a response that ends with the connection takes it from `conn`.
        self._sock = sock or conn.sock
        self._response = response
        self._deadline: float | None = None
        self._closed = False
        self._events = parse_sse(self._lines(), on_comment)

    def _lines(self) -> Iterator[str]:
        buffer = b""
        while True:
            # Heartbeats arrive every few seconds, so a deadline is checked at least that often.
            if self._deadline is not None and time.monotonic() > self._deadline:
                raise DeadlinePassed("no event before the deadline")
            chunk = self._response.read1(65536)
            if not chunk:
                raise StreamClosed("the server closed the event stream (did it stop?)")
            buffer += chunk
            *complete, buffer = buffer.replace(b"\r\n", b"\n").split(b"\n")
            for raw in complete:
                yield raw.decode("utf-8", errors="replace")

    def next(self, deadline: float | None = None) -> SSEEvent:
        """The next event; StreamClosed when the server ends the stream, DeadlinePassed when
        `deadline` (time.monotonic()) passes first."""
        self._deadline = deadline
        try:
            return next(self._events)
        except StopIteration:  # a reader that failed before: its generator is done
            raise StreamClosed("the event stream was already closed") from None
        except (OSError, http.client.HTTPException, AttributeError, ValueError) as exc:
            if self._closed:  # close() in another thread tore the response down mid-read
                raise StreamClosed("the event stream was closed") from None
            if isinstance(exc, (AttributeError, ValueError)):
                raise
            raise ServerError(connection_problem(None, exc)) from exc

    def __iter__(self) -> Iterator[SSEEvent]:
        while True:
            yield self.next()

    def close(self) -> None:
        self._closed = True
        # shutdown() first: it wakes a thread blocked reading this stream (close() does not).
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
        self._response.close()
        self._conn.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_event_stream(
    url: str,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    on_comment: Callable[[str], None] | None = None,
    path: str = "/api/events",
) -> EventStream:
    """Open the event stream `path` of the server at `url` (its base URL); `timeout` bounds
    the silence between heartbeats. ServerError when it cannot be opened."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ServerError(f"unsupported server URL {url!r} (expected http://host:port)")
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Accept": "text/event-stream", **(headers or {})})
        sock = conn.sock
        response = conn.getresponse()
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        raise ServerError(f"cannot open the event stream at {url} ({exc})") from exc
    if response.status >= 400:
        message = _error_message(response.status, response.read())
        conn.close()
        raise ServerError(message, response.status)
    return EventStream(conn, response, on_comment, sock)


def _json_default(value: object) -> object:
    raise TypeError(f"not JSON serialisable: {value!r}")


def _clean(value: Any) -> Any:
    # The API refuses NaN; hyperparameters that are NaN are a user error the server should
    # name, so send them as strings it will reject with its own message.
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


class ApiClient:
    """JSON calls to one server; every call carries the token and `X-Alctl-Source: cli`."""

    def __init__(self, url: str, token: str, *, source: str = "cli", timeout: float = 30.0):
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ServerError(f"unsupported server URL {url!r} (expected http://host:port)")
        self.url = url.rstrip("/")
        self.token = token
        self.source = source
        self.timeout = timeout
        self._host = parts.hostname
        self._port = parts.port or 80

    def _connect(self, timeout: float | None = None) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout or self.timeout)

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {TOKEN_HEADER: self.token, SOURCE_HEADER: self.source}
        headers.update(extra or {})
        return headers

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bool = False,
        timeout: float | None = None,
        source: str | None = None,
    ) -> Any:
        """Send one request; return parsed JSON (or text when `raw`); raise ServerError."""
        conn = self._connect(timeout)
        payload = None
        headers = self._headers({SOURCE_HEADER: source} if source else None)
        if body is not None:
            payload = json.dumps(body, default=_json_default).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise ServerError(connection_problem(self.url, exc)) from exc
        finally:
            conn.close()
        if response.status >= 400:
            raise ServerError(_error_message(response.status, data), response.status)
        text = data.decode("utf-8", errors="replace")
        if raw:
            return text
        try:
            return json.loads(text) if text else None
        except ValueError as exc:
            raise ServerError(f"the server sent invalid JSON for {method} {path}") from exc

    def status(self, timeout: float | None = None) -> dict[str, Any]:
        return self.request("GET", "/api/status", timeout=timeout)

    def history(self) -> dict[str, Any]:
        return self.request("GET", "/api/history")

    def queue(self, strategy: str, n: int) -> dict[str, Any]:
        query = urlencode({"strategy": strategy, "n": n})
        return self.request("GET", f"/api/queue?{query}")

    def evaluation(self) -> dict[str, Any]:
        return self.request("GET", "/api/evaluation")

    def labels_csv(self) -> str:
        return self.request("GET", "/api/labels?format=csv", raw=True)

    def set_label(self, serial: int, label: int) -> dict[str, Any]:
        return self.request("PUT", f"/api/labels/{serial}", {"label": label})

    def delete_label(self, serial: int) -> dict[str, Any]:
        return self.request("DELETE", f"/api/labels/{serial}")

    def update_labels(
        self, changes: Mapping[int, int | None], *, source: str | None = None
    ) -> dict[str, Any]:
        """Many changes at once (None deletes); the server validates all before writing."""
        body = {"labels": {str(serial): label for serial, label in changes.items()}}
        return self.request("POST", "/api/labels", body, source=source)

    def start_training(self, epochs: int | None, **hparams: float | int) -> dict[str, Any]:
        """POST /api/train; omitted values (None) keep the server's current settings."""
        body = {k: _clean(v) for k, v in {"epochs": epochs, **hparams}.items() if v is not None}
        return self.request("POST", "/api/train", body)

    def stop_training(self) -> dict[str, Any]:
        return self.request("POST", "/api/train/stop")

    def rollback(self) -> dict[str, Any]:
        return self.request("POST", "/api/checkpoint/rollback", timeout=max(self.timeout, 120.0))

    def events(self, timeout: float = 60.0) -> EventStream:
        """Open `/api/events`; `timeout` bounds the silence between heartbeats (15 s)."""
        return open_event_stream(self.url, self._headers(), timeout)


def connection_problem(url: str | None, exc: BaseException) -> str:
    """Plain words for a failed exchange (never a raw `IncompleteRead(0 bytes read)`)."""
    where = f"the server at {url}" if url else "the server"
    lost = (
        http.client.IncompleteRead,
        http.client.RemoteDisconnected,
        ConnectionResetError,
        BrokenPipeError,
    )
    if isinstance(exc, lost):
        return (
            f"{where} closed the connection before answering (it stopped or crashed?); "
            "check it and run the command again"
        )
    if isinstance(exc, TimeoutError):
        return f"{where} did not answer in time; it may be busy or stuck"
    if isinstance(exc, ConnectionRefusedError):
        return f"nothing answers at {url or 'the server address'}; is `alctl serve` running?"
    reason = getattr(exc, "strerror", None) or type(exc).__name__
    return f"cannot reach {where} ({reason})"


def _error_message(status: int, data: bytes) -> str:
    try:
        message = json.loads(data).get("error")
    except (ValueError, AttributeError):
        message = None
    if not message:
        text = data.decode("utf-8", errors="replace").strip()[:200] or "no details"
        message = f"the server answered {text!r}"
    return f"{message} (HTTP {status})"


@dataclass(frozen=True)
class LiveServer:
    """A server that answered: its client, its discovery record and the status it sent."""

    client: ApiClient
    dataset: str
    status: dict[str, Any]


def find_server(workspace: Path, note: Callable[[str], None]) -> LiveServer | None:
    """The live server of `workspace`, or None; a stale discovery file is noted and skipped.

    Same rule as `alctl.discovery.find_live_server` (pid alive and `/api/status` answers
    within 1 s), done with this module's client so the status answer is kept for reuse and
    urllib.request stays off the fast path.
    """
    from alctl.discovery import (
        discovery_path,
        pid_alive,
        read_discovery,
        remove_discovery,
        same_workspace,
    )

    info = read_discovery(workspace)
    if info is None:
        if discovery_path(workspace).exists():
            note(f"note: ignoring unreadable {discovery_path(workspace)}; using the files")
        return None
    if not same_workspace(info.workspace, workspace):
        return _not_ours(workspace, info.workspace, note)
    if not pid_alive(info.pid):
        # The server was killed without cleaning up; nobody else will remove it.
        remove_discovery(workspace, pid=info.pid)
        path = discovery_path(workspace)
        note(f"note: removed stale {path} (pid {info.pid} is gone); using the files")
        return None
    client = ApiClient(info.url, info.token)
    try:
        status = client.status(timeout=1.0)
    except ServerError:
        note(
            f"note: the server in {discovery_path(workspace)} (pid {info.pid}) does not answer "
            f"at {info.url}; using the files"
        )
        return None
    served = (status.get("server") or {}).get("workspace")
    if served is not None and not same_workspace(str(served), workspace):
        return _not_ours(workspace, str(served), note)
    return LiveServer(client, str(status.get("dataset") or info.dataset), status)


def _not_ours(workspace: Path, theirs: str, note: Callable[[str], None]) -> None:
    """A server.json copied along with a workspace: that server serves another directory."""
    from alctl.discovery import discovery_path

    path = discovery_path(workspace)
    with contextlib.suppress(OSError):
        path.unlink()
    note(
        f"note: removed {path}: it names the server of {theirs} (a copied workspace?); "
        "using the files"
    )
    return None
