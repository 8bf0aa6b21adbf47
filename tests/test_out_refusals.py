"""Every `--out` refuses the workspace's own state files: one error line, exit 1, nothing
written (`alctl report --out data/<ds>/labels.csv` replaced 100 labels with HTML, exit 0;
`alctl labels --out …/ssvae.ckpt` and `decode --grid --out …/ssvae.prev.ckpt` replaced the
checkpoints)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ssvae.io.workspace import StateFileError, Workspace, check_output
from tests.cli_support import REPO, cli_env, invoke, one_error_line, trained_workspace

STATE = list(Workspace("/w", "mnist").state_files())  # what each state file is called


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> Workspace:
    """A workspace where every state file exists: labels, two saves, a cache, a lock…"""
    root = tmp_path_factory.mktemp("out-ws")
    trained_workspace(root, tiny_data_dir, sessions=2)
    workspace = Workspace(root, "mnist")
    workspace.server_file.parent.mkdir(exist_ok=True)
    workspace.server_file.write_text("{}")  # no server: a file that names none
    missing = [w for w, p in workspace.state_files().items() if not p.is_file()]
    assert not missing, missing
    return workspace


def _snapshot(ws: Workspace) -> dict[str, bytes]:
    return {what: path.read_bytes() for what, path in ws.state_files().items()}


def _args(ws: Workspace, tiny_data_dir: Path) -> list[object]:
    return ["--workspace", ws.root, "--data-dir", tiny_data_dir, "--dataset", "mnist"]


COMMANDS = [
    ("report",),
    ("labels",),
    ("label", "--list"),
    ("decode", "0.1", "0.2"),
    ("decode", "--grid", "3"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("what", STATE)
def test_every_out_refuses_every_state_file(
    ws: Workspace, tiny_data_dir: Path, command: tuple[str, ...], what: str
) -> None:
    before = _snapshot(ws)
    target = ws.state_files()[what]
    done = invoke(*command, "--out", target, *_args(ws, tiny_data_dir))
    assert done.code == 1, done
    line = one_error_line(done)
    assert f"is the workspace's {what}" in line and str(target) in line
    assert _snapshot(ws) == before


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_relative_symlinked_and_hard_linked_names_are_refused_too(
    ws: Workspace, tiny_data_dir: Path, command: tuple[str, ...], tmp_path: Path
) -> None:
    before = _snapshot(ws)
    (tmp_path / "link.csv").symlink_to(ws.labels_csv)
    os.link(ws.checkpoint, tmp_path / "hard.bin")
    (tmp_path / "dir").symlink_to(ws.artifacts_dir)
    names = [
        os.path.relpath(ws.history_csv),  # relative to the current directory
        ws.artifacts_dir / ".." / ".." / "data" / "mnist" / "labels.csv.lock",
        tmp_path / "link.csv",
        tmp_path / "hard.bin",
        tmp_path / "dir" / "points_cache.npz",
        ws.root / "data" / "fashion-mnist" / "labels.csv",  # another dataset's, not there yet
    ]
    for name in names:
        done = invoke(*command, "--out", name, *_args(ws, tiny_data_dir))
        assert done.code == 1 and "is the workspace's" in one_error_line(done), (name, done)
    assert _snapshot(ws) == before
    assert not (ws.root / "data" / "fashion-mnist" / "labels.csv").exists()


def test_other_files_are_written(ws: Workspace, tiny_data_dir: Path, tmp_path: Path) -> None:
    out = ws.artifacts_dir / "labels-backup.csv"  # beside the state files is fine
    done = invoke("labels", "--out", out, *_args(ws, tiny_data_dir))
    assert done.code == 0 and out.read_text().startswith("Serial,label\n0,1"), done


def test_check_output_alone(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, "mnist")
    for path in ws.state_files().values():  # none exists yet: names alone
        with pytest.raises(StateFileError):
            check_output(path, tmp_path)
    assert check_output(tmp_path / "report.html", tmp_path) == tmp_path / "report.html"
    assert check_output(ws.report_html, tmp_path, "mnist") == ws.report_html


def test_infer_output_refuses_state_files(ws: Workspace, tiny_data_dir: Path) -> None:
    before = _snapshot(ws)
    for target in (ws.checkpoint, ws.labels_csv):
        done = subprocess.run(
            [sys.executable, "scripts/infer.py", "--workspace", ws.root, "--dataset", "mnist",
             "--data-dir", tiny_data_dir, "--output", target],
            capture_output=True, text=True, env=cli_env(), cwd=REPO, timeout=300,
        )  # fmt: skip
        assert done.returncode == 1, done
        assert "is the workspace's" in done.stderr and "Traceback" not in done.stderr
    assert _snapshot(ws) == before
