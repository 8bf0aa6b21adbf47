"""SSVAEConfig validation and round trips; the torch-free import promise."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ssvae.config import ARCHITECTURE_FIELDS, FIELD_NAMES, TRAINING_FIELDS, SSVAEConfig


def test_defaults_match_the_contract() -> None:
    cfg = SSVAEConfig()
    assert (cfg.latent_dim, cfg.hidden_dims, cfg.encoder_type, cfg.decoder_type) == (
        2,
        (256, 128, 64),
        "dense",
        "dense",
    )
    assert (cfg.recon_weight, cfg.kl_weight, cfg.label_weight) == (1.0, 1.0, 10.0)
    assert (cfg.batch_size, cfg.labeled_batch_size, cfg.max_epochs, cfg.patience) == (
        128,
        32,
        20,
        0,
    )
    assert (cfg.val_split, cfg.seed, cfg.grad_clip, cfg.learning_rate) == (0.1, 0, 5.0, 1e-3)


def test_round_trip_through_a_dict_with_lists_and_ints() -> None:
    cfg = SSVAEConfig(hidden_dims=(64, 32), latent_dim=4, learning_rate=2e-3)
    data = cfg.to_dict()
    assert data["hidden_dims"] == [64, 32]
    assert SSVAEConfig.from_dict(data) == cfg
    # JSON gives ints where floats are meant; they are accepted and normalised
    assert SSVAEConfig.from_dict({**data, "kl_weight": 2}).kl_weight == 2.0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"latent_dim": 0}, "latent_dim"),
        ({"hidden_dims": ()}, "hidden_dims"),
        ({"hidden_dims": (64, -1)}, "hidden_dims"),
        ({"encoder_type": "rnn"}, "encoder_type"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"kl_weight": -1.0}, "kl_weight"),
        ({"recon_weight": float("inf")}, "recon_weight"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": True}, "batch_size"),
        ({"val_split": 0.95}, "val_split"),
        ({"dropout_rate": 1.0}, "dropout_rate"),
        ({"max_epochs": 2.5}, "max_epochs"),
    ],
)
def test_bad_values_name_the_field(change: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        SSVAEConfig().replace(**change)


def test_unknown_keys_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"unknown config field.*latnet_dim"):
        SSVAEConfig.from_dict({"latnet_dim": 3})
    with pytest.raises(ValueError, match="unknown"):
        SSVAEConfig().replace(lr=0.1)


def test_replace_returns_a_new_validated_copy() -> None:
    cfg = SSVAEConfig()
    other = cfg.replace(kl_weight=0.5)
    assert other.kl_weight == 0.5 and cfg.kl_weight == 1.0
    with pytest.raises(AttributeError):
        cfg.kl_weight = 3.0  # type: ignore[misc]


def test_fields_split_into_architecture_and_training() -> None:
    assert set(ARCHITECTURE_FIELDS) == {
        "latent_dim",
        "hidden_dims",
        "encoder_type",
        "decoder_type",
        "dropout_rate",
        "classifier_input",
    }
    assert set(ARCHITECTURE_FIELDS) | set(TRAINING_FIELDS) == set(FIELD_NAMES)
    assert not set(ARCHITECTURE_FIELDS) & set(TRAINING_FIELDS)


def test_light_modules_do_not_import_torch() -> None:
    code = (
        "import sys, ssvae.io.labels, ssvae.io.workspace, ssvae.config, ssvae.data.datasets,"
        " ssvae.io.npz, ssvae.records.events, ssvae.io.checkpoint, ssvae.io.history\n"
        "heavy = ('torch', 'torchvision', 'matplotlib', 'pandas')\n"
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    labels_only = "import sys, ssvae.io.labels, ssvae.config; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", labels_only], capture_output=True, text=True)
    assert out.stdout.strip() == "False"
