"""Start-up repairs: history.csv from the checkpoint's own history; orphaned temp files."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from ssvae.config import SSVAEConfig
from ssvae.data.datasets import load_dataset
from ssvae.io.checkpoint import save_checkpoint
from ssvae.io.history import read_history_csv, write_history_csv
from ssvae.io.housekeeping import remove_orphan_temp_files, repair_history_csv
from ssvae.io.workspace import Workspace
from ssvae.train.trainer import InteractiveTrainer
from tests.live_server import running_server


def _trained_workspace(root: Path, data_dir: Path) -> Workspace:
    """Two one-epoch sessions saved, and a history CSV that lost the second one (a kill -9
    between replacing the checkpoint and appending the CSV)."""
    data = load_dataset("mnist", data_dir)
    ws = Workspace(root, data.name)
    trainer = InteractiveTrainer(SSVAEConfig(batch_size=64))
    labels = np.full(data.n_train, -1, dtype=np.int64)
    for _ in range(2):
        assert trainer.train(data.train_images, labels, epochs=1).status == "completed"
    save_checkpoint(ws.checkpoint, **trainer.checkpoint_payload(data.name))
    write_history_csv(ws.history_csv, trainer.history[:1])
    return ws


def _plant_orphan(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f".{name}.k3j2h1.tmp"
    path.write_bytes(b"half a file")
    old = time.time() - 60
    os.utime(path, (old, old))
    return path


def test_history_is_rewritten_from_the_checkpoint(
    workspace: Path, tiny_data_dir: Path, torch_one_thread: None
) -> None:
    ws = _trained_workspace(workspace, tiny_data_dir)
    assert [r["global_epoch"] for r in read_history_csv(ws.history_csv)] == [1]
    assert repair_history_csv(ws)
    assert [r["global_epoch"] for r in read_history_csv(ws.history_csv)] == [1, 2]
    assert not repair_history_csv(ws)  # in agreement now: left alone
    ws.history_csv.write_text("not,a\nhistory\x00file")
    assert repair_history_csv(ws)
    assert len(read_history_csv(ws.history_csv)) == 2


def test_only_temp_files_nobody_writes_are_removed(tmp_path: Path) -> None:
    orphan = _plant_orphan(tmp_path, "labels.csv")
    fresh = tmp_path / ".ssvae.ckpt.abc.tmp"
    fresh.write_bytes(b"being written right now")
    held = _plant_orphan(tmp_path, "history.csv")
    keeper = tmp_path / "labels.csv"
    keeper.write_text("Serial,label\n")
    with held.open("rb"):  # a live writer still has it open
        removed = remove_orphan_temp_files([tmp_path, tmp_path / "missing"])
    assert removed == [orphan]
    assert fresh.exists() and held.exists() and keeper.exists()


def test_serve_repairs_history_and_removes_orphans(workspace: Path, tiny_data_dir: Path) -> None:
    ws = _trained_workspace(workspace, tiny_data_dir)
    orphans = [
        _plant_orphan(ws.checkpoint.parent, "ssvae.ckpt"),
        _plant_orphan(ws.labels_csv.parent, "labels.csv"),
        _plant_orphan(ws.server_file.parent, "server.json"),
    ]
    with running_server(workspace, tiny_data_dir) as server:
        history = server.api("GET", "/api/history").json()["records"]
        assert "rewrote" in server.output() and "interrupted write" in server.output()
    assert [r["global_epoch"] for r in history] == [1, 2]
    assert [r["global_epoch"] for r in read_history_csv(ws.history_csv)] == [1, 2]
    assert not any(path.exists() for path in orphans)
