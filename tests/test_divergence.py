"""A diverging session fails, rolls back, never replaces the last good checkpoint, and its
settings do not become the next session's defaults."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from ssvae.config import SSVAEConfig
from ssvae.data.datasets import load_dataset
from ssvae.io.checkpoint import load_checkpoint, save_checkpoint
from ssvae.io.checkpoint_integrity import previous_path
from ssvae.train.divergence import Diverged, DivergenceGuard
from ssvae.train.trainer import InteractiveTrainer
from tests.live_server import SSEReader
from tests.thread_server import ThreadServer, served_workspace

# On the tiny dataset learning_rate=1 runs away without ever producing NaN (losses ~1e16);
# on Fashion-MNIST learning_rate=10 does the same.
RUNAWAY_LR = 1.0


def test_guard_thresholds() -> None:
    guard = DivergenceGuard(start_val=400.0)
    guard.check_batch(500.0, 1, 1)  # the first batch is the baseline
    guard.check_batch(2000.0, 1, 2)  # noisy but not diverged
    guard.check_epoch(450.0, 420.0, 1)  # a slightly worse epoch is not divergence
    with pytest.raises(Diverged, match="validation loss"):
        guard.check_epoch(450.0, 1700.0, 2)
    with pytest.raises(Diverged, match="batch 3"):
        guard.check_batch(1e17, 1, 3)
    with pytest.raises(Diverged, match="became nan"):
        guard.check_epoch(450.0, float("nan"), 3)
    no_val = DivergenceGuard(start_val=None)
    no_val.check_batch(500.0, 1, 1)
    no_val.check_epoch(480.0, float("nan"), 1)  # no validation rows: NaN val is expected
    with pytest.raises(Diverged, match="training loss"):
        no_val.check_epoch(5000.0, float("nan"), 1)


@pytest.fixture()
def labelled(tiny_data_dir: Path, torch_one_thread: None) -> tuple[np.ndarray, np.ndarray]:
    data = load_dataset("mnist", tiny_data_dir)
    labels = np.full(data.n_train, -1, dtype=np.int64)
    labels[:30] = data.train_targets[:30]
    return data.train_images, labels


def test_runaway_learning_rate_fails_and_rolls_back(
    labelled: tuple[np.ndarray, np.ndarray],
) -> None:
    images, labels = labelled
    trainer = InteractiveTrainer(SSVAEConfig())
    assert trainer.train(images, labels, epochs=2).status == "completed"
    good = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    result = trainer.train(images, labels, epochs=1, learning_rate=RUNAWAY_LR)
    assert result.status == "failed" and "diverged" in result.error
    assert trainer.epochs_trained == 2 and len(trainer.history) == 2
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(value, good[key]), key
    # The failed session's settings are not the defaults of the next one.
    assert trainer.config.learning_rate == SSVAEConfig().learning_rate
    assert trainer.optimizer.param_groups[0]["lr"] == SSVAEConfig().learning_rate
    assert trainer.train(images, labels, epochs=1).status == "completed"


def test_save_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    from ssvae.nn.model import SSVAE

    path = tmp_path / "ssvae.ckpt"
    model = SSVAE(SSVAEConfig())
    common = {"optimizer": None, "config": SSVAEConfig(), "dataset": "mnist", "history": []}
    save_checkpoint(path, model=model, epochs_trained=1, **common)
    assert not previous_path(path).exists()
    save_checkpoint(path, model=model, epochs_trained=2, **common)
    assert previous_path(path).name == "ssvae.prev.ckpt"
    assert load_checkpoint(previous_path(path)).epochs_trained == 1
    assert load_checkpoint(path).epochs_trained == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ssvae.ckpt", "ssvae.prev.ckpt"]


@pytest.fixture()
def server(tiny_data_dir: Path, workspace: Path) -> Iterator[ThreadServer]:
    with served_workspace(workspace, tiny_data_dir) as running:
        yield running


def _train(server: ThreadServer, events: SSEReader, body: dict) -> dict:
    assert server.api("POST", "/api/train", body).status == 202
    ended = events.until("train_ended")[-1].data
    if events.until("session_saved")[-1].data["saved"]:
        events.until("latent_refreshed")
    return ended


def test_server_never_saves_a_diverged_model_and_keeps_clean_defaults(
    server: ThreadServer,
) -> None:
    server.api("POST", "/api/labels", {"labels": {str(s): s % 10 for s in range(30)}})
    ckpt = server.session.workspace.checkpoint
    with SSEReader(server.url) as events:
        events.next()
        assert _train(server, events, {"epochs": 2})["status"] == "completed"
        saved = ckpt.read_bytes()
        ended = _train(server, events, {"epochs": 1, "learning_rate": RUNAWAY_LR})
        assert ended["status"] == "failed" and "diverged" in ended["error"]
        assert ckpt.read_bytes() == saved  # the last good checkpoint is untouched
        status = server.api("GET", "/api/status").json()
        assert status["hparams"]["learning_rate"] == SSVAEConfig().learning_rate
        assert status["hparams"]["epochs"] == 2  # the last clean session's epochs
        # A plain next start runs with the clean settings and works.
        assert _train(server, events, {})["status"] == "completed"
    assert load_checkpoint(ckpt).config.learning_rate == SSVAEConfig().learning_rate
    assert load_checkpoint(ckpt).epochs_trained == 4
    assert load_checkpoint(previous_path(ckpt)).epochs_trained == 2
