"""Workspace paths: one place for every file, per dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssvae.io.workspace import Workspace, lock_path_for, sidecar_paths


def test_paths_follow_the_contract(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, "fashion-mnist")
    assert ws.labels_csv == tmp_path / "data/fashion-mnist/labels.csv"
    assert ws.labels_lock == tmp_path / "data/fashion-mnist/labels.csv.lock"
    assert ws.checkpoint == tmp_path / "artifacts/fashion-mnist/ssvae.ckpt"
    assert ws.history_csv == tmp_path / "artifacts/fashion-mnist/history.csv"
    assert ws.loss_plot == tmp_path / "artifacts/fashion-mnist/loss_curves.png"
    assert ws.predictions == tmp_path / "artifacts/fashion-mnist/predictions_train.npz"
    assert ws.predictions_for("test").name == "predictions_test.npz"
    assert ws.server_file == tmp_path / ".alctl/server.json"
    assert not (tmp_path / "data").exists(), "a Workspace creates nothing by itself"


def test_relative_root_becomes_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert Workspace(".", "mnist").root == tmp_path


@pytest.mark.parametrize("name", ["auto", "", "../x", "a/b", "MNIST"])
def test_dataset_must_be_a_concrete_plain_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="dataset"):
        Workspace(tmp_path, name)


def test_sidecars_of_a_foreign_checkpoint_do_not_collide(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, "mnist")
    assert sidecar_paths(ws.checkpoint, ws) == (ws.history_csv, ws.loss_plot)
    hist, png = sidecar_paths(tmp_path / "runs/a.ckpt", ws)
    assert hist == tmp_path / "runs/a.ckpt.history.csv"
    assert png == tmp_path / "runs/a.ckpt.loss_curves.png"
    assert lock_path_for(tmp_path / "x.csv") == tmp_path / "x.csv.lock"
