"""A disk that refuses writes (read-only, full): every write route answers 507 naming the file,
and nothing on disk changes (labels already did; the report and rollback gave 500 with a
traceback)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from ssvae.config import SSVAEConfig
from ssvae.io.checkpoint import load_checkpoint, save_checkpoint
from ssvae.nn.model import SSVAE
from tests.disks import fill, read_only, tiny_disk
from tests.thread_server import ThreadServer, make_session, thread_server

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def served_on_a_tiny_disk(workspace: Path, data_dir: Path) -> Iterator[tuple[Path, ThreadServer]]:
    """A server whose artifacts directory is a 16 MB tmpfs holding `ssvae.ckpt` at epoch 2
    and `ssvae.prev.ckpt` at epoch 1."""
    with tiny_disk(workspace / "artifacts" / "mnist", "16m") as disk:
        config = SSVAEConfig()
        model = SSVAE(config)
        for epochs in (1, 2):
            save_checkpoint(disk / "ssvae.ckpt", model=model, optimizer=None, config=config,
                            epochs_trained=epochs, dataset="mnist", history=[])  # fmt: skip
        with thread_server(make_session(workspace, data_dir)) as server:
            yield disk, server


def _files(disk: Path) -> list[tuple[str, bytes]]:
    """Every file's bytes, but the empty lock files a refused change may have made."""
    return sorted(
        (p.name, p.read_bytes()) for p in disk.iterdir() if p.is_file() and p.suffix != ".lock"
    )


def test_report_and_rollback_on_a_read_only_disk_are_507(
    workspace: Path, tiny_data_dir: Path
) -> None:
    with served_on_a_tiny_disk(workspace, tiny_data_dir) as (disk, server):
        before = _files(disk)
        with read_only(disk):
            for path in ("/api/report", "/api/checkpoint/rollback"):
                answer = server.api("POST", path)
                assert answer.status == 507, (path, answer.body)
                error = answer.json()["error"]  # the file it could not write, and why
                assert "Read-only file system" in error and str(disk) in error
            assert _files(disk) == before
            assert server.api("GET", "/api/status").json()["checkpoint"]["epochs_trained"] == 2
        # The same calls succeed once the disk takes writes again: it was the disk.
        assert server.api("POST", "/api/checkpoint/rollback").status == 200
        assert load_checkpoint(disk / "ssvae.ckpt").epochs_trained == 1
        assert server.api("POST", "/api/report").status == 201


def test_a_rollback_the_full_disk_refuses_changes_nothing(
    workspace: Path, tiny_data_dir: Path
) -> None:
    """The swap is two renames (no space needed); the history CSV is not: the files swap back."""
    with served_on_a_tiny_disk(workspace, tiny_data_dir) as (disk, server):
        before = _files(disk)
        fill(disk)
        answer = server.api("POST", "/api/checkpoint/rollback")
        assert answer.status == 507, answer.body
        assert "No space left on device" in answer.json()["error"]
        (disk / "filler").unlink()
        assert _files(disk) == before
        assert load_checkpoint(disk / "ssvae.ckpt").epochs_trained == 2
