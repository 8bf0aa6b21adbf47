"""Real alctl servers for tests, and plain HTTP/SSE clients to talk to them.

`running_server(...)` runs `python -m alctl serve` as a subprocess (what users run) and
stops it with SIGINT; for CLI, browser and shutdown tests. tests/thread_server.py has
the in-process variant that API tests use.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def fetch(
    url: str,
    method: str = "GET",
    body: Any = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Answer:
    """One request; any status comes back as an Answer (no exception for 4xx/5xx)."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if token is not None:
        request.add_header("X-Alctl-Token", token)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with _NO_PROXY.open(request, timeout=timeout) as response:
            return Answer(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, dict(exc.headers.items()), exc.read())


@dataclass
class LiveServer:
    url: str  # ends with "/"
    token: str
    process: subprocess.Popen[bytes]
    workspace: Path
    log: Path

    def api(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Answer:
        kwargs.setdefault("token", self.token)
        return fetch(self.url.rstrip("/") + path, method, body, **kwargs)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def serve_command(
    workspace: Path,
    data_dir: Path,
    port: int,
    dataset: str = "mnist",
    extra_args: Sequence[str] = (),
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "alctl",
        "serve",
        "--workspace",
        str(workspace),
        "--dataset",
        dataset,
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        *extra_args,
    ]


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    # PYTHONFAULTHANDLER: a server that will not exit prints its threads' stacks on SIGABRT.
    env.update(
        ALCTL_NO_DOWNLOAD="1", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="1"
    )
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def discovery_token(workspace: Path, process: subprocess.Popen[bytes]) -> str | None:
    """The token in the workspace's discovery file once `process` has written it.

    A server killed with -9 leaves its file behind, and a new server answers requests a
    moment before it replaces the file: a file with another pid holds a dead server's token.
    """
    try:
        info = json.loads((workspace / ".alctl" / "server.json").read_text())
    except (OSError, ValueError):
        return None
    return info["token"] if info.get("pid") == process.pid else None


@contextlib.contextmanager
def running_server(
    workspace: Path,
    data_dir: Path,
    dataset: str = "mnist",
    extra_args: Sequence[str] = (),
    stop_timeout: float = STOP_TIMEOUT_S,
) -> Iterator[LiveServer]:
    """`alctl serve` on a free port until the block ends; then SIGINT, and it must exit."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="alctl-serve-", suffix=".log")[1])
    with log.open("wb") as sink:
        process = subprocess.Popen(
            serve_command(workspace, data_dir, port, dataset, extra_args),
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=server_env(),
            cwd=REPO,
        )
    url = f"http://127.0.0.1:{port}/"
    with stopped_afterwards(process, log, stop_timeout):
        token = _wait_until_serving(process, url, workspace, log)
        yield LiveServer(url, token, process, workspace, log)


@contextlib.contextmanager
def stopped_afterwards(
    process: subprocess.Popen[bytes], log: Path, timeout: float = STOP_TIMEOUT_S
) -> Iterator[None]:
    """Stop the server when the block ends. When the block failed, that failure is the one
    reported (a slow exit after it is added as a note), with the server's output."""
    try:
        yield
    except BaseException as exc:
        try:
            stop_server(process, log, timeout)
        except AssertionError as slow:
            exc.add_note(f"then: {slow}")
        else:
            exc.add_note(f"the server's output:\n{log.read_text()}")
        raise
    stop_server(process, log, timeout)


def _wait_until_serving(
    process: subprocess.Popen[bytes], url: str, workspace: Path, log: Path
) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"alctl serve exited with {process.returncode}:\n{log.read_text()}"
            )
        with contextlib.suppress(OSError):
            token = discovery_token(workspace, process)
            if token is not None and fetch(url + "api/status", timeout=2).status == 200:
                return token
        time.sleep(0.1)
    process.kill()
    raise AssertionError(
        f"alctl serve did not answer within {START_TIMEOUT_S:g} s:\n{log.read_text()}"
    )


def stop_server(
    process: subprocess.Popen[bytes], log: Path, timeout: float = STOP_TIMEOUT_S
) -> float:
    """SIGINT like Ctrl+C; returns the seconds it took to exit (AssertionError if too long)."""
    if process.poll() is not None:
        return 0.0
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)  # the fault handler writes every thread's stack
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        raise AssertionError(
            f"alctl serve did not exit within {timeout:g} s of SIGINT:\n{log.read_text()}"
        ) from None
    return time.monotonic() - started


@dataclass
class Event:
    event: str
    data: Any  # parsed JSON
    id: str | None
    raw: str  # the data line(s) as sent


class SSEReader:
    """A real `/api/events` connection read line by line (each read bounded by `timeout`)."""

    def __init__(
        self,
        base_url: str,
        timeout: float = 30.0,
        headers: dict[str, str] | None = None,
        path: str = "/api/events",
    ):
        parts = urlsplit(base_url)
        self._conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        self._conn.request("GET", path, headers={"Accept": "text/event-stream", **(headers or {})})
        self.response = self._conn.getresponse()
        assert self.response.status == 200, self.response.read()
        self.comments: list[str] = []

    def next(self, deadline: float | None = None) -> Event:
        """The next event; EOFError when the server ends the stream."""
        name, data, event_id = "message", [], None
        while True:
            if deadline is not None and time.monotonic() > deadline:
                raise AssertionError(
                    f"no event before the deadline; comments: {self.comments[-3:]}"
                )
            raw = self.response.fp.readline()
            if not raw:
                raise EOFError("the server closed the event stream")
            line = raw.decode().rstrip("\r\n")
            if not line:
                if data:
                    text = "\n".join(data)
                    return Event(name, json.loads(text), event_id, text)
                continue
            if line.startswith(":"):
                self.comments.append(line)
                continue
            key, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)
            elif key == "id":
                event_id = value

    def until(self, name: str, limit: int = 10_000, deadline_s: float = 300.0) -> list[Event]:
        """Events up to and including the first one called `name`.

        Heartbeat comments keep the connection busy, so the socket timeout alone never ends a
        wait for an event that will not come; `deadline_s` does (checked as events arrive and
        at least every heartbeat).
        """
        seen: list[Event] = []
        deadline = time.monotonic() + deadline_s
        for _ in range(limit):
            seen.append(self.next(deadline))
            if seen[-1].event == name:
                return seen
        raise AssertionError(f"no {name!r} event among {len(seen)}")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SSEReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
