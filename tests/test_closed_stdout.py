"""A reader of stdout that has gone (`alctl decode 0 0 | head -c 10`) ends a command quietly.

Each command runs with stdout a pipe whose read end is already closed, so every write to it
fails: no race with a `head` that may or may not have read yet.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from alctl.errors import EXIT_BUG, fail_cleanly
from tests.cli_support import cli_env, trained_workspace


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> list[str]:
    """A workspace with a label and a 1-epoch checkpoint."""
    root = tmp_path_factory.mktemp("closed-stdout-ws")
    return [str(arg) for arg in trained_workspace(root, tiny_data_dir)]


def into_closed_pipe(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the command writes anything
    try:
        return subprocess.run(
            [sys.executable, "-m", "alctl", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=cli_env(),
            cwd=cwd,  # where a grid without --out goes (manifold.png)
            text=True,
            timeout=300,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "command",
    [
        ["decode", "0", "0"],
        ["decode", "--grid", "3"],
        ["status"],
        ["status", "--json"],
        ["suggest", "-n", "50"],
        ["label", "--list"],
        ["evaluate"],
    ],
    ids=" ".join,
)
def test_a_closed_stdout_is_a_quiet_normal_exit(
    command: list[str], trained: list[str], tmp_path: Path
) -> None:
    done = into_closed_pipe(tmp_path, *command, *trained)
    assert (done.returncode, done.stderr) == (0, ""), done


def test_a_help_text_into_a_closed_stdout_is_a_quiet_normal_exit(tmp_path: Path) -> None:
    done = into_closed_pipe(tmp_path, "--help")
    assert (done.returncode, done.stderr) == (0, ""), done


def test_a_broken_pipe_elsewhere_is_still_a_bug() -> None:
    """Only stdout's reader going is a normal end: a socket's broken pipe is not."""
    with pytest.raises(typer.Exit) as ended, fail_cleanly():
        raise BrokenPipeError("the connection to the server")
    assert ended.value.exit_code == EXIT_BUG
