"""Real alctl servers for tests and benchmarks, and plain HTTP/SSE clients to talk to them.

`ServerProcess` runs `python -m alctl serve` as a subprocess (what users run) and stops it
with SIGINT; `running_server(...)` wraps it for CLI, browser and shutdown tests, and the
benchmarks (benchmarks/common.py) use it with their own environment. tests/thread_server.py
has the in-process variant that API tests use. `SSEReader` reads the event stream through
the CLI's own client (alctl.cli.server_client), the one SSE parser of the project.
"""

from __future__ import annotations

import contextlib
import json
import math
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

from alctl.cli.server_client import (
    DeadlinePassed,
    SSEEvent,
    StreamClosed,
    open_event_stream,
)

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

    def training_state(self) -> str:
        """The server's training state: idle (and the last session saved), running, stopping,
        saving. The page's badge turns idle at train_ended, before the save."""
        return self.api("GET", "/api/status").json()["training"]["state"]


def serve_command(
    workspace: Path,
    data_dir: Path | None,
    port: int,
    dataset: str = "mnist",
    extra_args: Sequence[str] = (),
) -> list[str]:
    data = ["--data-dir", str(data_dir)] if data_dir is not None else []
    return [
        sys.executable,
        "-m",
        "alctl",
        "serve",
        "--workspace",
        str(workspace),
        "--dataset",
        dataset,
        *data,
        "--port",
        str(port),
        *extra_args,
    ]


def server_env(**extra: str) -> dict[str, str]:
    """The environment of a test server: never download, one OpenMP thread (two cores are
    shared with the test and other servers), `extra` on top."""
    env = dict(os.environ)
    # PYTHONFAULTHANDLER: a server that will not exit prints its threads' stacks on SIGABRT.
    env.update(
        ALCTL_NO_DOWNLOAD="1", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="1"
    )
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def serve_and_fail(
    workspace: Path, data_dir: Path, port: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `alctl serve` expecting it to refuse to start: it exits, with its output."""
    command = serve_command(workspace, data_dir, port or free_port())
    return subprocess.run(command, capture_output=True, text=True, env=server_env(), timeout=120)


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


class ServerProcess:
    """`python -m alctl serve` as a subprocess on a loopback port: the one launcher of the
    tests and the benchmarks.

    `start()` spawns it; `wait_port()` returns when the port accepts a connection (the
    benchmarks time it), `wait_serving()` when the discovery file names this process and
    `/api/status` answers (then `token` is set); `stop()` sends SIGINT, like Ctrl+C, and
    fails when the server does not exit in time. The output goes to a file, not a pipe, so
    a chatty server never blocks.
    """

    def __init__(
        self,
        workspace: Path,
        data_dir: Path | None,
        dataset: str = "mnist",
        *,
        port: int | None = None,
        extra_args: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.workspace = workspace
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.command = serve_command(workspace, data_dir, self.port, dataset, extra_args)
        self.env = env if env is not None else server_env()
        self.log = Path(tempfile.mkstemp(prefix="alctl-serve-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None
        self.token: str | None = None
        self.spawned_at = math.nan  # time.perf_counter() right before the spawn
        self.spawned_wall = math.nan  # time.time() then, to compare with a page's clock

    def start(self) -> ServerProcess:
        with self.log.open("wb") as sink:
            self.spawned_wall, self.spawned_at = time.time(), time.perf_counter()
            self.process = subprocess.Popen(
                self.command, stdout=sink, stderr=subprocess.STDOUT, env=self.env, cwd=REPO
            )
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def poll(self) -> int | None:
        """The exit status once the process has ended; None while it runs."""
        return self.process.poll() if self.process is not None else None

    def _alive(self) -> subprocess.Popen[bytes]:
        if self.process is None:
            raise AssertionError("the server was not started")
        if self.process.poll() is not None:
            raise AssertionError(
                f"alctl serve exited with {self.process.returncode}:\n{self.output()}"
            )
        return self.process

    def wait_port(self, timeout: float = 120.0) -> float:
        """Seconds from the spawn until the port accepts a connection."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            self._alive()
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return time.perf_counter() - self.spawned_at
            time.sleep(0.005)  # polling a port: there is nothing to wait on
        raise AssertionError(f"alctl serve did not listen within {timeout:g} s:\n{self.output()}")

    def wait_serving(self, timeout: float = START_TIMEOUT_S) -> str:
        """The page token, once this server wrote its discovery file and answers."""
        if self.token is not None:
            return self.token
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self._alive()
            with contextlib.suppress(OSError):
                token = discovery_token(self.workspace, process)
                if token is not None and fetch(self.url + "api/status", timeout=2).status == 200:
                    self.token = token
                    return token
            time.sleep(0.05)  # polling files and a port: there is nothing to wait on
        raise AssertionError(f"alctl serve did not answer within {timeout:g} s:\n{self.output()}")

    def live(self) -> LiveServer:
        """The started, answering server as the tests' LiveServer."""
        return LiveServer(self.url, self.wait_serving(), self._alive(), self.workspace, self.log)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> float:
        """SIGINT like Ctrl+C; the seconds it took to exit (AssertionError if too long, after
        SIGABRT made the fault handler print every thread's stack)."""
        if self.process is None:
            return 0.0
        return stop_server(self.process, self.log, timeout)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def running_server(
    workspace: Path,
    data_dir: Path,
    dataset: str = "mnist",
    extra_args: Sequence[str] = (),
    stop_timeout: float = STOP_TIMEOUT_S,
    *,
    port: int | None = None,
) -> Iterator[LiveServer]:
    """`alctl serve` (on `port`, else a free one) until the block ends; then SIGINT, and it
    must exit. A restart on the same port comes back where an open page looks."""
    server = ServerProcess(workspace, data_dir, dataset, port=port, extra_args=extra_args)
    server.start()
    assert server.process is not None
    with stopped_afterwards(server.process, server.log, stop_timeout):
        yield server.live()


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


class SSEReader:
    """A real `/api/events` connection (the CLI's own client, alctl.cli.server_client), with
    the tests' ways to fail: EOFError when the server ends the stream, AssertionError when
    no event comes before a deadline. Heartbeat comments are kept in `comments`."""

    def __init__(
        self,
        base_url: str,
        timeout: float = 30.0,
        headers: dict[str, str] | None = None,
        path: str = "/api/events",
    ):
        self.comments: list[str] = []
        self.stream = open_event_stream(base_url, headers, timeout, self.comments.append, path)

    def next(self, deadline: float | None = None) -> SSEEvent:
        """The next event; EOFError when the server ends the stream."""
        try:
            return self.stream.next(deadline)
        except StreamClosed as exc:
            raise EOFError(str(exc)) from None
        except DeadlinePassed:
            raise AssertionError(
                f"no event before the deadline; comments: {self.comments[-3:]}"
            ) from None

    def until(self, name: str, limit: int = 10_000, deadline_s: float = 300.0) -> list[SSEEvent]:
        """Events up to and including the first one called `name`.

        Heartbeat comments keep the connection busy, so the socket timeout alone never ends a
        wait for an event that will not come; `deadline_s` does (checked as events arrive and
        at least every heartbeat).
        """
        seen: list[SSEEvent] = []
        deadline = time.monotonic() + deadline_s
        for _ in range(limit):
            seen.append(self.next(deadline))
            if seen[-1].event == name:
                return seen
        raise AssertionError(f"no {name!r} event among {len(seen)}")

    def close(self) -> None:
        self.stream.close()

    def __enter__(self) -> SSEReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
