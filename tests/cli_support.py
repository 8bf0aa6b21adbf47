"""Helpers for the CLI tests: run `alctl` in-process (CliRunner) or as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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
    env.update(extra)
    return env


def run(*args: object, timeout: float = 120, **kwargs: object) -> Outcome:
    """Run `python -m alctl ARGS` as a subprocess, the way a user's shell does."""
    proc = subprocess.run(
        [sys.executable, "-m", "alctl", *[str(a) for a in args]],
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
