"""Helpers for the CLI tests: run `alctl` in-process (CliRunner) or as a real subprocess."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from alctl.cli import create_cli

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


@dataclass
class Served:
    """An `alctl serve` subprocess and how to reach it."""

    url: str
    token: str
    workspace: Path
    proc: subprocess.Popen[str]

    def client(self) -> Any:
        from alctl.client import ApiClient

        return ApiClient(self.url, self.token)


@contextlib.contextmanager
def serve(workspace: Path, data_dir: Path, timeout: float = 180.0) -> Iterator[Served]:
    """Run `python -m alctl serve --port 0` on `workspace`; yield once it answers."""
    args = ["serve", "--workspace", workspace, "--data-dir", data_dir, "--port", "0"]
    # A file, not a pipe: nobody reads the log while the server runs, so a pipe could fill.
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "alctl", *[str(a) for a in args]],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=cli_env(),
            cwd=REPO,
        )
        try:
            yield _wait_until_up(proc, workspace, log, timeout)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _wait_until_up(
    proc: subprocess.Popen[str], workspace: Path, log: Any, timeout: float
) -> Served:
    from alctl.discovery import read_discovery, server_answers

    deadline = time.monotonic() + timeout
    while True:
        info = read_discovery(workspace)
        if info is not None and info.pid == proc.pid and server_answers(info.url):
            return Served(info.url, info.token, workspace, proc)
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            log.seek(0)
            raise RuntimeError(f"alctl serve did not come up:\n{log.read()}")
        time.sleep(0.1)


def wait_idle(client: Any, timeout: float = 120.0) -> dict[str, Any]:
    """Wait until the server has no training session; return its status."""
    deadline = time.monotonic() + timeout
    while True:
        status = client.status()
        if status["training"]["state"] == "idle":
            return status
        assert time.monotonic() < deadline, status["training"]
        time.sleep(0.1)


class Background:
    """`python -m alctl ARGS` running in the background, its output collected as it comes."""

    def __init__(self, *args: object) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "alctl", *[str(a) for a in args]],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=cli_env(),
            cwd=REPO,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._drain, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._drain, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _drain(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line)

    def wait_for_output(self, words: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(words in line for line in self.out):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"never printed {words!r}: {self.out} {self.err}")
            time.sleep(0.05)

    def finish(self, timeout: float = 120.0) -> Outcome:
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        for reader in self._readers:
            reader.join(10)
        return Outcome(code, "".join(self.out), "".join(self.err))
