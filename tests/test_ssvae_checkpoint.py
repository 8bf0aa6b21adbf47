"""Checkpoints: round trip with optimizer state, atomic writes, clear errors, cheap summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ssvae.config import SSVAEConfig
from ssvae.io.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    checkpoint_summary,
    load_checkpoint,
    save_checkpoint,
)
from ssvae.nn.restore import build_model
from ssvae.train.trainer import InteractiveTrainer
from tests.datagen import synthetic_digits

SMALL = SSVAEConfig(hidden_dims=(64, 32), batch_size=64, labeled_batch_size=16)


# Model tests run single-threaded: steadier timings and no fight with other processes.
pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[InteractiveTrainer, Path]:
    images, targets = synthetic_digits(200, seed=5)
    labels = np.where(np.arange(200) < 20, targets.astype(np.int64), -1)
    trainer = InteractiveTrainer(SMALL, device="cpu")
    trainer.train(images, labels, epochs=2)
    path = tmp_path_factory.mktemp("ckpt") / "ssvae.ckpt"
    save_checkpoint(path, **trainer.checkpoint_payload("mnist", test_accuracy=0.5))
    return trainer, path


def test_missing_file_means_fresh_model(tmp_path: Path) -> None:
    assert load_checkpoint(tmp_path / "none.ckpt") is None
    assert checkpoint_summary(tmp_path / "none.ckpt")["exists"] is False


def test_round_trip_keeps_everything(trained: tuple[InteractiveTrainer, Path]) -> None:
    trainer, path = trained
    ckpt = load_checkpoint(path, dataset="mnist")
    assert ckpt is not None and ckpt.path == path
    assert ckpt.config == SMALL and ckpt.epochs_trained == 2 and ckpt.dataset == "mnist"
    assert ckpt.test_accuracy == 0.5 and ckpt.saved_at
    assert [r["global_epoch"] for r in ckpt.history] == [1, 2]
    model, config = build_model(ckpt)
    assert config == SMALL
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(model.state_dict()[key], value)
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_optimizer_state_survives_save_load_continue(
    trained: tuple[InteractiveTrainer, Path], tmp_path: Path
) -> None:
    trainer, path = trained
    resumed = InteractiveTrainer.from_checkpoint(load_checkpoint(path), device="cpu")
    original = trainer.optimizer.state_dict()["state"]
    restored = resumed.optimizer.state_dict()["state"]
    assert original.keys() == restored.keys()
    for key in original:
        assert int(original[key]["step"]) == int(restored[key]["step"]) == 2 * 3
        assert torch.equal(original[key]["exp_avg"], restored[key]["exp_avg"])
        assert torch.equal(original[key]["exp_avg_sq"], restored[key]["exp_avg_sq"])
    assert resumed.epochs_trained == 2 and resumed.session == 1
    images, targets = synthetic_digits(200, seed=5)
    result = resumed.train(
        images, np.where(np.arange(200) < 20, targets.astype(np.int64), -1), epochs=1
    )
    assert (result.session, result.global_epoch) == (2, 3)
    assert {int(s["step"]) for s in resumed.optimizer.state.values()} == {3 * 3}
    # And it saves again, history carried on.
    save_checkpoint(tmp_path / "again.ckpt", **resumed.checkpoint_payload("mnist"))
    assert len(load_checkpoint(tmp_path / "again.ckpt").history) == 3


def test_garbage_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.ckpt"
    path.write_bytes(b"this is not a checkpoint at all")
    with pytest.raises(CheckpointError, match=f"checkpoint {path}: ") as info:
        load_checkpoint(path)
    assert info.value.path == path
    assert checkpoint_summary(path)["error"].startswith("unreadable checkpoint")


def test_truncated_file_is_reported(
    trained: tuple[InteractiveTrainer, Path], tmp_path: Path
) -> None:
    _, path = trained
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=f"{cut}: corrupt or truncated"):
        load_checkpoint(cut)
    empty = tmp_path / "empty.ckpt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty\.ckpt"):
        load_checkpoint(empty)


def test_other_dataset_is_refused(trained: tuple[InteractiveTrainer, Path]) -> None:
    _, path = trained
    with pytest.raises(CheckpointError, match="trained on mnist, not fashion-mnist"):
        load_checkpoint(path, dataset="fashion-mnist")


def test_other_format_version_is_refused(
    trained: tuple[InteractiveTrainer, Path], tmp_path: Path
) -> None:
    _, path = trained
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = FORMAT_VERSION + 1
    future = tmp_path / "future.ckpt"
    torch.save(payload, future)
    with pytest.raises(CheckpointError, match=f"format version {FORMAT_VERSION + 1}"):
        load_checkpoint(future)
    assert "format version" in checkpoint_summary(future)["error"]


def test_foreign_torch_file_is_not_an_alctl_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="not an alctl checkpoint"):
        load_checkpoint(path)


def test_pickled_code_is_never_run(tmp_path: Path) -> None:
    path = tmp_path / "evil.ckpt"
    torch.save({"kind": "alctl-ssvae-checkpoint", "x": SSVAEConfig()}, path)  # arbitrary object
    with pytest.raises(CheckpointError, match="not an alctl checkpoint"):
        load_checkpoint(path)


def test_explicit_other_architecture_is_refused(trained: tuple[InteractiveTrainer, Path]) -> None:
    _, path = trained
    ckpt = load_checkpoint(path)
    with pytest.raises(CheckpointError, match="latent_dim 2 in the file vs 3 asked for"):
        build_model(ckpt, SMALL.replace(latent_dim=3))
    with pytest.raises(CheckpointError, match="encoder_type 'dense' in the file vs 'conv'"):
        InteractiveTrainer.from_checkpoint(
            ckpt, device="cpu", config=SMALL.replace(encoder_type="conv")
        )
    # Training fields may differ: they apply to the next session.
    resumed = InteractiveTrainer.from_checkpoint(
        ckpt, device="cpu", config=SMALL.replace(kl_weight=0.2)
    )
    assert resumed.config.kl_weight == 0.2


def test_summary_is_cheap_and_torch_free(trained: tuple[InteractiveTrainer, Path]) -> None:
    _, path = trained
    code = (
        "import sys, json; from ssvae.io.checkpoint import checkpoint_summary\n"
        f"facts = checkpoint_summary({str(path)!r})\n"
        "print(json.dumps(facts)); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    _, torch_loaded = out.stdout.strip().splitlines()
    assert torch_loaded == "False"
    facts = checkpoint_summary(path)
    assert facts["exists"] and facts["error"] is None
    assert (facts["dataset"], facts["epochs_trained"], facts["test_accuracy"]) == ("mnist", 2, 0.5)
    assert facts["config"]["hidden_dims"] == [64, 32] and facts["size_bytes"] > 0
