"""What lies at the checkpoint's paths is read one way by every command, and a save never
costs the backup: a failed save kept replacing `ssvae.prev.ckpt` (D13), a directory there
made every save fail after training while `serve` said nothing, and a directory at
`ssvae.ckpt` was "none yet" for `status` but refused by `serve` and `train` (D14)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ssvae.config import SSVAEConfig
from ssvae.io.checkpoint import load_checkpoint, save_checkpoint
from ssvae.io.workspace import Workspace
from ssvae.nn.model import SSVAE
from tests.cli_support import invoke, one_error_line, trained_workspace
from tests.disks import fill, tiny_disk
from tests.live_server import running_server, serve_and_fail

MODEL = SSVAE(SSVAEConfig())


def _save(path: Path, epochs: int) -> str | None:
    return save_checkpoint(path, model=MODEL, optimizer=None, config=MODEL.config,
                           epochs_trained=epochs, dataset="mnist", history=[])  # fmt: skip


def test_a_failed_save_leaves_the_checkpoint_and_its_backup(tmp_path: Path) -> None:
    with tiny_disk(tmp_path / "disk", "8m") as disk:
        path = disk / "ssvae.ckpt"
        _save(path, 1)
        _save(path, 2)
        fill(disk)
        with pytest.raises(OSError, match="No space left"):
            _save(path, 3)
        assert load_checkpoint(path).epochs_trained == 2
        assert load_checkpoint(disk / "ssvae.prev.ckpt").epochs_trained == 1  # was 2: lost
        assert sorted(p.name for p in disk.iterdir()) == ["filler", "ssvae.ckpt", "ssvae.prev.ckpt"]


def test_a_directory_at_the_backup_does_not_stop_saves(tmp_path: Path) -> None:
    path = tmp_path / "ssvae.ckpt"
    _save(path, 1)
    (tmp_path / "ssvae.prev.ckpt" / "kept").mkdir(parents=True)
    note = _save(path, 2)
    assert note is not None and "could not be kept" in note and "ssvae.prev.ckpt" in note
    assert load_checkpoint(path).epochs_trained == 2
    assert (tmp_path / "ssvae.prev.ckpt" / "kept").is_dir()


@pytest.fixture()
def trained(workspace: Path, tiny_data_dir: Path) -> list[object]:
    return trained_workspace(workspace, tiny_data_dir)


def test_a_directory_at_the_backup_is_warned_about(
    workspace: Path, tiny_data_dir: Path, trained: list[object]
) -> None:
    ws = Workspace(workspace, "mnist")
    ws.previous_checkpoint.unlink(missing_ok=True)
    ws.previous_checkpoint.mkdir()
    words = "saves replace the checkpoint without keeping the previous one"
    status = invoke("status", *trained)
    assert status.code == 0 and words in status.stdout, status
    done = invoke("train", "--epochs", 1, "--no-server", *trained)
    assert done.code == 0 and words in done.stdout, done  # and it saved all the same
    assert load_checkpoint(ws.checkpoint).epochs_trained == 2
    with running_server(workspace, tiny_data_dir) as server:
        assert words in server.output()
        assert words in server.api("GET", "/api/status").json()["checkpoint"]["backup_warning"]
        status = invoke("status", *trained)
        assert words in status.stdout and server.url.rstrip("/") in status.stdout
        assert server.api("POST", "/api/train", {"epochs": 1}).status == 202
        deadline = time.monotonic() + 120
        while server.api("GET", "/api/status").json()["checkpoint"]["epochs_trained"] != 3:
            assert time.monotonic() < deadline, "the session was never saved"
            time.sleep(0.1)  # the save goes through without the backup
    assert load_checkpoint(ws.checkpoint).epochs_trained == 3
    assert ws.previous_checkpoint.is_dir()


def test_a_directory_at_the_checkpoint_is_one_problem_for_every_command(
    workspace: Path, tiny_data_dir: Path, trained: list[object]
) -> None:
    ws = Workspace(workspace, "mnist")
    ws.checkpoint.unlink()
    ws.checkpoint.mkdir()
    words = "is a directory, not a checkpoint file"
    status = invoke("status", *trained)
    assert status.code == 0 and words in status.stdout and "none yet" not in status.stdout
    facts = json.loads(invoke("status", "--json", *trained).stdout)["checkpoint"]
    assert facts["exists"] and words in facts["error"]
    for command in (
        ("train", "--epochs", 1, "--no-server"),
        ("rollback", "--no-server"),
        ("decode", "0", "0"),
        ("evaluate",),
        ("report", "--out", workspace / "r.html"),
    ):
        line = one_error_line(invoke(*command, *trained))
        assert words in line and str(ws.checkpoint) in line, (command, line)
    served = serve_and_fail(workspace, tiny_data_dir)
    assert served.returncode == 1 and words in served.stderr, served
    assert ws.checkpoint.is_dir()
