"""A read-only artifacts directory: every write route answers 507 naming the file, and nothing
on disk changes (labels already did; the report and rollback gave 500 with a traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssvae.config import SSVAEConfig
from ssvae.io.checkpoint import load_checkpoint, save_checkpoint
from ssvae.nn.model import SSVAE
from tests.disks import fill, read_only, tiny_disk
from tests.thread_server import make_session, thread_server

pytestmark = pytest.mark.slow


def _two_checkpoints(path: Path) -> None:
    """`ssvae.ckpt` at epoch 2 with `ssvae.prev.ckpt` at epoch 1 beside it."""
    config = SSVAEConfig()
    model = SSVAE(config)
    for epochs in (1, 2):
        save_checkpoint(path, model=model, optimizer=None, config=config, epochs_trained=epochs,
                        dataset="mnist", history=[])  # fmt: skip


def test_report_and_rollback_on_a_read_only_disk_are_507(
    workspace: Path, tiny_data_dir: Path
) -> None:
    artifacts = workspace / "artifacts" / "mnist"
    with tiny_disk(artifacts, "16m") as disk:
        ckpt = disk / "ssvae.ckpt"
        _two_checkpoints(ckpt)
        session = make_session(workspace, tiny_data_dir)
        with thread_server(session) as server:
            before = sorted((p.name, p.read_bytes()) for p in disk.iterdir() if p.is_file())
            with read_only(disk):
                for path in ("/api/report", "/api/checkpoint/rollback"):
                    answer = server.api("POST", path)
                    assert answer.status == 507, (path, answer.body)
                    error = answer.json()["error"]
                    assert "Read-only file system" in error and "nothing was changed" in error
                    assert str(disk) in error
                after = sorted((p.name, p.read_bytes()) for p in disk.iterdir() if p.is_file())
                assert after == before
                assert server.api("GET", "/api/status").json()["checkpoint"]["epochs_trained"] == 2
            # The same calls succeed once the disk takes writes again: it was the disk.
            assert server.api("POST", "/api/checkpoint/rollback").status == 200
            assert load_checkpoint(ckpt).epochs_trained == 1
            assert server.api("POST", "/api/report").status == 201


def test_a_rollback_the_full_disk_refuses_changes_nothing(
    workspace: Path, tiny_data_dir: Path
) -> None:
    """The swap is two renames (no space needed); the history CSV is not: the files swap back."""
    artifacts = workspace / "artifacts" / "mnist"
    with tiny_disk(artifacts, "16m") as disk:
        ckpt = disk / "ssvae.ckpt"
        _two_checkpoints(ckpt)
        session = make_session(workspace, tiny_data_dir)
        with thread_server(session) as server:
            before = sorted((p.name, p.read_bytes()) for p in disk.iterdir() if p.is_file())
            fill(disk)
            answer = server.api("POST", "/api/checkpoint/rollback")
            assert answer.status == 507, answer.body
            assert "No space left on device" in answer.json()["error"]
            (disk / "filler").unlink()
            after = sorted((p.name, p.read_bytes()) for p in disk.iterdir() if p.is_file())
            assert after == before
            assert load_checkpoint(ckpt).epochs_trained == 2
