"""Bad files and a bad disk: each gives a clear error, and the original stays untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ssvae.config import SSVAEConfig
from ssvae.io.checkpoint import load_checkpoint, save_checkpoint
from ssvae.io.labels import LabelStore
from ssvae.nn.model import SSVAE
from tests.cli_support import invoke, one_error_line
from tests.disks import fill, remount, tiny_disk
from tests.live_server import serve_and_fail
from tests.thread_server import served_workspace

pytestmark = pytest.mark.slow


def serve_refusal(workspace: Path, data_dir: Path) -> str:
    """`alctl serve` must refuse to start: its one error line."""
    done = serve_and_fail(workspace, data_dir)
    assert done.returncode == 1, done.stdout + done.stderr
    return next(line for line in done.stderr.splitlines() if line.startswith("error:"))


# -- labels ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"Serial,label\n1,2\n3,seven\n", "line 3: 'seven' is not a number"),
        (b"id,class\n1,2\n", "header must name columns Serial and label"),
        (b"Serial,label\n\xff\xfe1,2\n", "not a text CSV file"),
        (b"Serial,label\n99999,1\n", "serial 99999 outside"),
    ],
)
def test_a_malformed_labels_file_is_named_and_never_rewritten(
    workspace: Path, tiny_data_dir: Path, content: bytes, words: str
) -> None:
    csv = workspace / "data" / "mnist" / "labels.csv"
    csv.parent.mkdir(parents=True)
    csv.write_bytes(content)
    ws = ["--workspace", workspace, "--data-dir", tiny_data_dir, "--dataset", "mnist"]
    line = one_error_line(invoke("label", 5, 1, *ws))
    assert words in line and str(csv) in line
    assert csv.read_bytes() == content


def test_serve_refuses_a_malformed_or_unreadable_labels_file(
    workspace: Path, tiny_data_dir: Path
) -> None:
    csv = workspace / "data" / "mnist" / "labels.csv"
    csv.parent.mkdir(parents=True)
    csv.write_bytes(b"Serial,label\n1,nine\n")
    line = serve_refusal(workspace, tiny_data_dir)
    assert "line 2" in line and str(csv) in line
    assert csv.read_bytes() == b"Serial,label\n1,nine\n"
    csv.unlink()
    csv.mkdir()  # unreadable as a file
    line = serve_refusal(workspace, tiny_data_dir)
    assert "cannot read labels file" in line and str(csv) in line
    assert csv.is_dir()


def test_read_only_labels_give_a_clear_error(tmp_path: Path) -> None:
    with tiny_disk(tmp_path / "disk") as disk:
        store = LabelStore(disk / "labels.csv", 600)
        store.update({1: 1, 2: 2})
        before = store.path.read_bytes()
        remount(disk, "ro")
        with pytest.raises(OSError, match="Read-only file system"):
            store.set(3, 3)
        assert store.path.read_bytes() == before and store.read() == {1: 1, 2: 2}


def test_a_full_disk_refuses_label_writes_over_the_api(tmp_path: Path, tiny_data_dir: Path) -> None:
    with tiny_disk(tmp_path / "ws", "1m") as disk, served_workspace(disk, tiny_data_dir) as server:
        labels = {str(s): s % 10 for s in range(200)}
        assert server.api("POST", "/api/labels", {"labels": labels}).status == 200
        csv = server.session.workspace.labels_csv
        before = csv.read_bytes()
        fill(disk)
        more = {str(s): 1 for s in range(200, 600)}
        answer = server.api("POST", "/api/labels", {"labels": more})
        assert answer.status == 507 and "No space left on device" in answer.json()["error"]
        assert "nothing was changed" in answer.json()["error"]
        assert csv.read_bytes() == before
        assert server.api("GET", "/api/labels").json()["labels"] == labels
        assert not list(csv.parent.glob(".*.tmp"))
        (disk / "filler").unlink()
        assert server.api("POST", "/api/labels", {"labels": more}).status == 200


def test_a_full_disk_never_damages_the_checkpoint(tmp_path: Path) -> None:
    model, config = SSVAE(SSVAEConfig()), SSVAEConfig()
    common = {"optimizer": None, "config": config, "dataset": "mnist", "history": []}
    with tiny_disk(tmp_path / "disk", "4m") as disk:
        path = disk / "ssvae.ckpt"
        save_checkpoint(path, model=model, epochs_trained=1, **common)
        before = path.read_bytes()
        fill(disk)
        with pytest.raises(OSError, match="No space left"):
            save_checkpoint(path, model=model, epochs_trained=2, **common)
        assert path.read_bytes() == before
        assert load_checkpoint(path).epochs_trained == 1
        assert not list(disk.glob(".*.tmp"))


# -- checkpoints -------------------------------------------------------------------------


def _checkpoint(path: Path, **changes: object) -> None:
    model = SSVAE(SSVAEConfig(**changes.pop("config", {})))
    payload = {"optimizer": None, "config": model.config, "dataset": "mnist", "history": []}
    payload.update(changes)
    save_checkpoint(path, model=payload.pop("model", model), epochs_trained=1, **payload)


def _nan(path: Path) -> None:
    state = SSVAE(SSVAEConfig()).state_dict()
    next(iter(state.values())).fill_(float("nan"))
    _checkpoint(path, model=state)


def _damaged(path: Path) -> None:
    _checkpoint(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x55
    path.write_bytes(bytes(data))


def _other_shape(path: Path) -> None:
    # The weights of a wider network under the default config.
    state = SSVAE(SSVAEConfig(hidden_dims=(32, 16))).state_dict()
    _checkpoint(path, model=state)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: _checkpoint(p, dataset="fashion-mnist"), "trained on fashion-mnist, not mnist"),
        (_other_shape, "weights do not fit the architecture"),
        (_damaged, "damaged"),
        (_nan, "NaN or infinite"),
        (lambda p: p.write_bytes(b"PK\x03\x04 not really a zip"), "corrupt or truncated"),
    ],
)
def test_unusable_checkpoints_are_named_and_kept(
    workspace: Path, tiny_data_dir: Path, make: object, words: str
) -> None:
    ckpt = workspace / "artifacts" / "mnist" / "ssvae.ckpt"
    ckpt.parent.mkdir(parents=True)
    make(ckpt)  # type: ignore[operator]
    before = ckpt.read_bytes()
    ws = ["--workspace", workspace, "--data-dir", tiny_data_dir, "--dataset", "mnist"]
    line = one_error_line(invoke("train", "--epochs", 1, "--no-server", *ws))
    assert words in line and str(ckpt) in line
    assert ckpt.read_bytes() == before
    assert sorted(p.name for p in ckpt.parent.iterdir()) == ["ssvae.ckpt", "ssvae.ckpt.lock"]


def test_serve_refuses_a_nan_checkpoint_naming_it(workspace: Path, tiny_data_dir: Path) -> None:
    ckpt = workspace / "artifacts" / "mnist" / "ssvae.ckpt"
    ckpt.parent.mkdir(parents=True)
    _nan(ckpt)
    before = ckpt.read_bytes()
    line = serve_refusal(workspace, tiny_data_dir)
    assert "NaN or infinite" in line and str(ckpt) in line
    assert ckpt.read_bytes() == before
    assert torch.load(ckpt, weights_only=True)["epochs_trained"] == 1
