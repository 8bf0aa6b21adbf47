"""Helpers for the CLI tests: run `alctl` in-process (CliRunner) or as a real subprocess.

Servers come from tests.live_server (`running_server`, the `live_server` fixture).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from alctl.cli.main import create_cli
from alctl.cli.server_client import ApiClient
from tests.live_server import LiveServer
from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


def invoke(*args: object) -> Outcome:
    """Run the CLI in this process (fast); stdout and stderr kept apart."""
    result = CliRunner().invoke(create_cli(), [str(a) for a in args], catch_exceptions=False)
    return Outcome(result.exit_code, result.stdout, result.stderr)


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMP_NUM_THREADS", "1")
    env["ALCTL_NO_DOWNLOAD"] = "1"  # tests never download, even from module-scoped fixtures
    env.update(extra)
    return env


def run(
    *args: object, timeout: float = 120, python_args: tuple[str, ...] = (), **kwargs: object
) -> Outcome:
    """Run `python -m alctl ARGS` as a subprocess, the way a user's shell does."""
    proc = subprocess.run(
        [sys.executable, *python_args, "-m", "alctl", *[str(a) for a in args]],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(),
        cwd=REPO,
        **kwargs,  # type: ignore[arg-type]
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def one_error_line(outcome: Outcome) -> str:
    """Assert a failure printed exactly one `error:` line and no traceback; return it."""
    assert outcome.code != 0, outcome
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert "Traceback" not in outcome.stderr, outcome.stderr
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, outcome.stderr
    return errors[0]


def api_client(server: LiveServer) -> ApiClient:
    """The CLI's own HTTP client, pointed at a test server."""
    return ApiClient(server.url, server.token)


def wait_idle(client: Any, timeout: float = 120.0) -> dict[str, Any]:
    """Wait until the server has no training session (the save done); return its status."""

    def idle() -> dict[str, Any] | None:
        status = client.status()
        return status if status["training"]["state"] == "idle" else None

    return wait_for(idle, timeout, "the server's session to end (state idle)")


def as_foreground() -> None:
    """Call before starting a child: Ctrl+C at its default in it, as a shell starts a
    foreground command.

    A test run started in the background (`make test &`, a CI runner) inherits SIGINT
    ignored, and a Python child keeps it ignored: the Ctrl+C tests would then test nothing.
    An ignored signal stays ignored across exec, a handled one is reset to the default, so
    this process handles it. Not Popen's preexec_fn: that forks this whole process (threads
    of in-process servers included) instead of the spawn Popen uses otherwise, and a fork
    while another thread computes is how a suite deadlocked (tests/test_fork_safety.py).
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


class Background:
    """`python -m alctl ARGS` running in the background, its output collected as it comes."""

    def __init__(
        self, *args: object, env: dict[str, str] | None = None, session: bool = False
    ) -> None:
        """`env` adds to the CLI's environment; `session`: a session of its own, so that
        os.killpg(proc.pid, ...) reaches it and everything it started, as a terminal's
        Ctrl+C does."""
        as_foreground()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "alctl", *[str(a) for a in args]],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=cli_env(**(env or {})),
            cwd=REPO,
            start_new_session=session,
        )
        self.session = session
        self.out: list[str] = []
        self.err: list[str] = []
        # Notified at every line and when a stream ends, so waits wake on output, not a timer.
        self._lines = threading.Condition()
        self._ended: list[list[str]] = []  # the collected streams that reached their end
        self._readers = [
            threading.Thread(target=self._drain, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._drain, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _drain(self, stream: Any, into: list[str]) -> None:
        for line in stream:
            with self._lines:
                into.append(line)
                self._lines.notify_all()
        with self._lines:
            self._ended.append(into)
            self._lines.notify_all()

    def wait_for_output(self, words: str, timeout: float = 120.0, *, stderr: bool = False) -> None:
        """Until stdout (or stderr) has a line with `words`; fails when that stream ends or
        `timeout` passes."""
        lines = self.err if stderr else self.out

        def printed_or_ended() -> bool:
            ended = any(stream is lines for stream in self._ended)
            return ended or any(words in line for line in lines)

        with self._lines:
            self._lines.wait_for(printed_or_ended, timeout)
            if not any(words in line for line in lines):
                raise AssertionError(f"never printed {words!r}: {self.out} {self.err}")

    def finish(self, timeout: float = 120.0) -> Outcome:
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None and self.session:
                os.killpg(self.proc.pid, signal.SIGKILL)  # with what it started
            elif self.proc.poll() is None:
                self.proc.kill()
        for reader in self._readers:
            reader.join(10)
        return Outcome(code, "".join(self.out), "".join(self.err))


def trained_workspace(root: Path, data_dir: Path, sessions: int = 1) -> list[object]:
    """Label one image and train `sessions` 1-epoch sessions without a server in `root`;
    returns the workspace options for more commands on it."""
    import torch

    torch.set_num_threads(1)
    args: list[object] = ["--workspace", root, "--data-dir", data_dir, "--dataset", "mnist"]
    assert invoke("label", 0, 1, *args).code == 0
    for _ in range(sessions):
        done = invoke("train", "--epochs", 1, "--batch-size", 64, "--no-server", *args)
        assert done.code == 0, done
    return args
