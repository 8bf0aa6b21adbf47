"""Checkpoints written before the few-label options and the temperature still load as they were."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ssvae.config import LEGACY_DEFAULTS, SSVAEConfig
from ssvae.data.synthetic import synthetic_digits
from ssvae.io.checkpoint import KIND, load_checkpoint, save_checkpoint
from ssvae.nn.model import SSVAE, predict
from ssvae.nn.restore import build_model

pytestmark = pytest.mark.usefixtures("torch_one_thread")
SMALL = {"hidden_dims": (32, 16), "batch_size": 32}


def _old_checkpoint(path: Path) -> SSVAE:
    """A file as the alctl before these fields wrote it: no new config keys, no temperature."""
    config = SSVAEConfig(**SMALL, classifier_input="mean")
    torch.manual_seed(0)
    model = SSVAE(config)
    old_config = {k: v for k, v in config.to_dict().items() if k not in LEGACY_DEFAULTS}
    payload = {
        "kind": KIND,
        "format_version": 1,
        "model_state": model.state_dict(),
        "optimizer_state": None,
        "config": old_config,
        "epochs_trained": 3,
        "dataset": "mnist",
        "history": [],
        "test_accuracy": None,
        "saved_at": "2026-01-01T00:00:00+00:00",
    }
    torch.save(payload, path)
    return model


def test_old_checkpoint_loads_with_old_architecture_and_temperature_one(tmp_path: Path) -> None:
    old = _old_checkpoint(tmp_path / "old.ckpt")
    ckpt = load_checkpoint(tmp_path / "old.ckpt")
    assert ckpt is not None and ckpt.temperature == 1.0 and ckpt.trained_labels is None
    assert ckpt.config.classifier_input == "mean"
    assert ckpt.config.unlabeled_weight == 0.0 and ckpt.config.label_smoothing == 0.0
    assert ckpt.config.consistency_weight == 0.0
    model, _ = build_model(ckpt)
    images, _ = synthetic_digits(40, seed=2)
    a, b = predict(old, images, reconstruct=False), predict(model, images, reconstruct=False)
    assert np.array_equal(a.pred_class, b.pred_class) and np.allclose(a.certainty, b.certainty)


def test_temperature_round_trips_and_softens_the_shown_certainty(tmp_path: Path) -> None:
    config = SSVAEConfig(**SMALL)
    torch.manual_seed(0)
    model = SSVAE(config)
    images, _ = synthetic_digits(40, seed=2)
    sharp = predict(model, images, reconstruct=False)
    model.temperature = 4.0
    path = tmp_path / "new.ckpt"
    save_checkpoint(path, model=model, optimizer=None, config=config, epochs_trained=0,
                    dataset="mnist", history=[], temperature=4.0,
                    trained_labels=[1, 5])  # fmt: skip
    ckpt = load_checkpoint(path)
    assert ckpt is not None and ckpt.temperature == 4.0 and ckpt.trained_labels == [1, 5]
    loaded, _ = build_model(ckpt)
    soft = predict(loaded, images, reconstruct=False)
    assert np.array_equal(soft.pred_class, sharp.pred_class)  # the class never changes
    assert (soft.certainty <= sharp.certainty + 1e-6).all() and soft.certainty.mean() < (
        sharp.certainty.mean()
    )
    assert soft.probs is not None and np.allclose(soft.probs.sum(axis=1), 1.0, atol=1e-5)


def test_hidden_classifier_is_a_different_architecture() -> None:
    hidden = SSVAEConfig(**SMALL, classifier_input="hidden")
    assert "classifier_input" in hidden.architecture()
    model = SSVAE(hidden)
    assert model.classifier[0].in_features == 2 + 16
    with pytest.raises(ValueError, match="classifier_input"):
        SSVAEConfig(classifier_input="pixels")


def test_image_classifier_reads_the_pixels_through_its_own_trunk(tmp_path: Path) -> None:
    config = SSVAEConfig(**SMALL, classifier_input="image")
    torch.manual_seed(0)
    model = SSVAE(config)
    assert model.trunk is not None and model.classifier[0].in_features == 2 + 16 + 16
    x = torch.rand(8, 1, 28, 28)
    out = model(x)
    # Only the class loss reaches the trunk: the VAE terms leave it alone.
    (out.recon_logits.sum() + out.mu.sum()).backward(retain_graph=True)
    assert all(p.grad is None for p in model.trunk.parameters())
    out.class_logits.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.trunk.parameters())
    # It round-trips through a checkpoint, and a 'hidden' one stays 'hidden'.
    path = tmp_path / "image.ckpt"
    save_checkpoint(path, model=model, optimizer=None, config=config, epochs_trained=1,
                    dataset="mnist", history=[])  # fmt: skip
    loaded, _ = build_model(load_checkpoint(path))
    images, _ = synthetic_digits(20, seed=3)
    a, b = predict(model, images, reconstruct=False), predict(loaded, images, reconstruct=False)
    assert np.array_equal(a.pred_class, b.pred_class) and np.allclose(a.certainty, b.certainty)
    hidden = SSVAEConfig(**SMALL, classifier_input="hidden")
    save_checkpoint(path, model=SSVAE(hidden), optimizer=None, config=hidden, epochs_trained=1,
                    dataset="mnist", history=[])  # fmt: skip
    again, cfg = build_model(load_checkpoint(path))
    assert cfg.classifier_input == "hidden" and again.trunk is None


@pytest.mark.parametrize("kind", ["mean", "hidden", "image"])
def test_checkpoints_of_the_older_classifiers_keep_their_architecture(
    tmp_path: Path, kind: str
) -> None:
    """Written before the convolutional classifier became the default: they load, predict
    as they did and train on with their own settings (no conv trunk, no new terms)."""
    from ssvae.train.trainer import InteractiveTrainer

    images, truth = synthetic_digits(120, seed=6)
    labels = np.full(120, -1)
    labels[:20] = truth[:20]
    config = SSVAEConfig(**SMALL, classifier_input=kind)
    trainer = InteractiveTrainer(config, "cpu")
    trainer.train(images, labels, epochs=1)
    stored = config.to_dict()
    for added in ("consistency_align", "lr_schedule"):  # fields this version added
        del stored[added]
    payload = trainer.checkpoint_payload("mnist")
    path = tmp_path / f"{kind}.ckpt"
    save_checkpoint(path, **{**payload, "trained_labels": None})
    raw = torch.load(path, weights_only=False)
    raw["config"] = stored
    del raw["trained_labels"]
    raw.pop("checksum", None)
    torch.save(raw, path)

    ckpt = load_checkpoint(path)
    assert ckpt is not None and ckpt.config.classifier_input == kind
    assert ckpt.config.consistency_align == "none" and ckpt.config.lr_schedule == "constant"
    assert ckpt.config.consistency_weight == config.consistency_weight
    again = InteractiveTrainer.from_checkpoint(ckpt, "cpu")
    has_trunk = again.model.trunk is not None
    assert has_trunk == (kind == "image") and not any(
        isinstance(m, torch.nn.Conv2d) for m in again.model.modules()
    )
    a = predict(trainer.model, images, reconstruct=False)
    b = predict(again.model, images, reconstruct=False)
    assert np.array_equal(a.pred_class, b.pred_class) and np.allclose(a.certainty, b.certainty)
    assert again.train(images, labels, epochs=1).status == "completed"
    assert again.config.classifier_input == kind
