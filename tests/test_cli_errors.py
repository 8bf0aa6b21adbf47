"""Which errors become one tidy line (exit 1) and which are reported as bugs (exit 70)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from alctl.errors import EXIT_BUG, EXIT_ERROR, CliError, fail_cleanly
from ssvae.config.hparams import HyperparameterError
from ssvae.io.checkpoint import CheckpointError
from ssvae.io.labels import LabelError
from tests.cli_support import invoke


def _exit(exc: BaseException, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    with pytest.raises(typer.Exit) as ended, fail_cleanly():
        raise exc
    return ended.value.exit_code, capsys.readouterr().err.splitlines()


@pytest.mark.parametrize(
    "exc",
    [
        CliError("give a SERIAL"),
        LabelError("label 11 must be 0-9"),
        CheckpointError(Path("x.ckpt"), "corrupt"),
        HyperparameterError("batch_size must be a whole number from 1 to 8192, got 0"),
        PermissionError(13, "Permission denied", "/root/out.csv"),
    ],
)
def test_errors_raised_for_bad_input_are_one_line(
    exc: Exception, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALCTL_DEBUG", raising=False)
    code, lines = _exit(exc, capsys)
    assert code == EXIT_ERROR and len(lines) == 1 and lines[0].startswith("error: ")


@pytest.mark.parametrize(
    "exc", [ValueError("too many values to unpack"), KeyError("hparams"), OSError("no file")]
)
def test_anything_else_is_reported_as_a_bug(
    exc: Exception, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALCTL_DEBUG", raising=False)
    code, lines = _exit(exc, capsys)
    assert code == EXIT_BUG == 70
    assert "bug in alctl" in lines[1] and "ALCTL_DEBUG=1" in lines[1]


def test_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALCTL_DEBUG", "1")
    with pytest.raises(KeyError), fail_cleanly():
        raise KeyError("hparams")


def test_a_bad_option_value_is_a_user_error(tmp_path: Path) -> None:
    out = invoke("train", "--learning-rate", "0", "--no-server", "-w", tmp_path)
    assert out.code == EXIT_ERROR
    assert out.stderr.strip().startswith("error: learning_rate must be a finite number above 0")
