"""`alctl status` without a server, `--help`, completion and option parsing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli_support import REPO, cli_env, invoke, run


@pytest.fixture()
def files(workspace: Path, tiny_data_dir: Path) -> list[str]:
    return ["--workspace", str(workspace), "--data-dir", str(tiny_data_dir)]


def test_status_of_a_fresh_workspace(workspace: Path, files: list[str]) -> None:
    done = invoke("status", "--json", *files)
    assert done.code == 0, done
    facts = json.loads(done.stdout)
    assert facts["dataset"] == {"name": "mnist", "n_samples": 600}
    assert facts["labels"]["labeled"] == 0 and facts["labels"]["per_class"] == [0] * 10
    assert facts["checkpoint"]["exists"] is False
    assert facts["server"] is None
    human = invoke("status", *files).stdout
    assert "none yet" in human and "none running (working on the files)" in human


def test_status_counts_labels_per_class(files: list[str]) -> None:
    for serial, label in ((1, 3), (2, 3), (3, 9)):
        invoke("label", serial, label, *files)
    facts = json.loads(invoke("status", "--json", *files).stdout)
    assert facts["labels"]["labeled"] == 3
    assert facts["labels"]["coverage"] == pytest.approx(3 / 600)
    assert facts["labels"]["per_class"][3] == 2 and facts["labels"]["per_class"][9] == 1
    assert "0:0  1:0  2:0  3:2" in invoke("status", *files).stdout


def test_status_shows_bad_files_instead_of_failing(workspace: Path, files: list[str]) -> None:
    labels = workspace / "data" / "mnist" / "labels.csv"
    labels.parent.mkdir(parents=True)
    labels.write_text("Serial,label\n1,banana\n")
    checkpoint = workspace / "artifacts" / "mnist" / "ssvae.ckpt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"not a checkpoint")
    done = invoke("status", *files)
    assert done.code == 0, done
    assert "labels      unreadable:" in done.stdout and "banana" in done.stdout
    assert "unreadable checkpoint" in done.stdout
    assert labels.read_text() == "Serial,label\n1,banana\n"  # never rewritten


def test_every_command_has_help_with_examples() -> None:
    for command in ("serve", "label", "labels", "train", "status", "report", "evaluate"):
        done = invoke(command, "--help")
        assert done.code == 0 and "Examples:" in done.stdout, command
        assert f"alctl {command}" in done.stdout.split("Examples:")[1]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            ["label", "abc", "1"],
            "'SERIAL': 'abc' is not a whole number written with the digits 0-9.",
        ),
        (["train", "--epochs", "0"], "'--epochs': 0 is not in the range 1<=x<=1000."),
        (["train", "--kl-weight", "much"], "'--kl-weight': 'much' is not a valid float."),
        (["status", "-d", "cifar"], "'cifar' is not one of 'auto', 'mnist', 'fashion-mnist'."),
        (["status", "--workspace", "/etc/hostname"], "dir '/etc/hostname' is a file."),
    ],
)
def test_fast_option_parsing_refuses_like_typer(args: list[str], words: str) -> None:
    # `python -m alctl` parses with alctl.cli.params; CliRunner uses typer's own (pydantic).
    ours, typers = run(*args), invoke(*args)
    assert ours.code == typers.code == 2

    def error(text: str) -> str:
        return next(line for line in text.splitlines() if line.startswith("Error: Invalid value"))

    assert error(ours.stderr).endswith(words)
    named = error(ours.stderr).split("':")[0]
    assert error(typers.stderr).startswith(named)  # the same parameter is blamed


def test_light_params_cover_every_option() -> None:
    from typer.main import get_command

    from alctl.cli.main import create_cli
    from alctl.cli.params import install

    command = get_command(create_cli())
    total = sum(len(sub.params) + 1 for sub in [command, *command.commands.values()])
    assert install(command) == total  # every option and each -h/--help


def test_shell_completion(tmp_path: Path) -> None:
    script = shutil.which("alctl", path=str(Path(os.__file__).parents[3] / "bin"))
    script = script or str(REPO / ".venv" / "bin" / "alctl")
    # Fails, not skips: completion is part of what `make setup` installs.
    assert Path(script).exists(), "the alctl console script is not installed: run `make setup`"
    env = cli_env(_ALCTL_COMPLETE="complete_bash", COMP_WORDS="alctl st", COMP_CWORD="1")
    out = subprocess.run([script], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["status"]
    env.update(COMP_WORDS="alctl status --dataset ", COMP_CWORD="3")
    out = subprocess.run([script], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["auto", "mnist", "fashion-mnist"]
