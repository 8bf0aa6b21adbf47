"""SSVAEConfig: every knob of the model and its training, validated in one place.

Importing this module must stay cheap (no torch): `alctl status` reads configs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

ENCODER_TYPES = ("dense", "conv")
CLASSIFIER_INPUTS = ("mean", "hidden")
AUGMENTATIONS = ("none", "shift", "shift_mirror")


@dataclass(frozen=True)
class SSVAEConfig:
    """Hyper-parameters of the semi-supervised VAE; frozen, so change it with `replace()`."""

    latent_dim: int = 2  # 2 so the latent space can be drawn as it is
    hidden_dims: tuple[int, ...] = field(default=(256, 128, 64))  # dense layer widths
    encoder_type: str = "dense"  # "dense" | "conv"
    decoder_type: str = "dense"  # "dense" | "conv"
    dropout_rate: float = 0.0  # dropout after each hidden layer
    recon_weight: float = 1.0  # × reconstruction loss (BCE summed over pixels)
    kl_weight: float = 1.0  # × KL(q(z|x) || N(0, I)); the beta of a beta-VAE
    label_weight: float = 10.0  # × cross-entropy on labeled rows (alpha in Kingma et al. 2014)
    learning_rate: float = 1e-3
    weight_decay: float = 0.0  # decoupled (AdamW); 0 makes it plain Adam
    batch_size: int = 128
    labeled_batch_size: int = 32  # labeled rows drawn with replacement into every batch; 0 = off
    max_epochs: int = 20  # epochs per run when the caller does not say
    patience: int = 5  # epochs without validation improvement before stopping; 0 = never
    val_split: float = 0.1  # share of the training images held out (fixed by the seed)
    seed: int = 0  # shuffling, validation split and weight initialisation
    grad_clip: float = 5.0  # max global gradient norm; 0 = off
    # What the classifier reads: "hidden" = the encoder's last hidden layer and the latent
    # mean, so the class is not squeezed through the 2-D picture (+2.6 points at 100 random
    # labels, docs/EXPERIMENTS.md); "mean" = the latent mean only (checkpoints before it).
    classifier_input: str = "hidden"
    label_smoothing: float = 0.0  # cross-entropy label smoothing; keeps few labels from 0 loss
    unlabeled_weight: float = 0.0  # × mean classifier entropy on unlabeled rows (entropy min.)
    # Jitter of the labeled rows in each batch: "shift" (±2 px), "shift_mirror" (also
    # left-right; right for clothes, wrong for digits), "none".
    augment_labeled: str = "none"

    def __post_init__(self) -> None:
        # JSON and argparse hand us lists and ints where we keep tuples and floats.
        if isinstance(self.hidden_dims, (list, tuple)):
            object.__setattr__(self, "hidden_dims", tuple(self.hidden_dims))
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "float" and _is_int(value):
                object.__setattr__(self, f.name, float(value))
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first field that is out of range."""
        _check_int(self, "latent_dim", 1, 1024)
        dims = self.hidden_dims
        if not isinstance(dims, tuple) or not dims or not all(_is_int(d) and d >= 1 for d in dims):
            raise ValueError(
                f"hidden_dims must be a non-empty list of positive integers, got {dims!r}"
            )
        for name in ("encoder_type", "decoder_type"):
            if getattr(self, name) not in ENCODER_TYPES:
                raise ValueError(f"{name} must be 'dense' or 'conv', got {getattr(self, name)!r}")
        _check_float(self, "dropout_rate", 0.0, 0.95)
        if self.classifier_input not in CLASSIFIER_INPUTS:
            raise ValueError(
                f"classifier_input must be 'mean' or 'hidden', got {self.classifier_input!r}"
            )
        _check_float(self, "label_smoothing", 0.0, 0.5)
        if self.augment_labeled not in AUGMENTATIONS:
            raise ValueError(
                f"augment_labeled must be one of {', '.join(AUGMENTATIONS)}, "
                f"got {self.augment_labeled!r}"
            )
        names = ("recon_weight", "kl_weight", "label_weight", "weight_decay", "grad_clip")
        for name in (*names, "unlabeled_weight"):
            _check_float(self, name, 0.0, 1e38)
        _check_float(self, "learning_rate", 1e-12, 10.0)
        _check_float(self, "val_split", 0.0, 0.9)
        _check_int(self, "batch_size", 1, 1_000_000)
        _check_int(self, "labeled_batch_size", 0, 1_000_000)
        _check_int(self, "max_epochs", 1, 100_000)
        _check_int(self, "patience", 0, 100_000)
        _check_int(self, "seed", 0, 2**63 - 1)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (hidden_dims as a list)."""
        data = dataclasses.asdict(self)
        data["hidden_dims"] = list(self.hidden_dims)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SSVAEConfig:
        """Build a config from `to_dict()` output; unknown keys are an error (typos must fail).

        Fields missing from `data` take their LEGACY_DEFAULTS value when they have one (a
        config saved before the field existed meant that), else the current default.
        """
        unknown = sorted(set(data) - set(FIELD_NAMES))
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(unknown)}")
        return cls(**{**LEGACY_DEFAULTS, **dict(data)})

    def replace(self, **changes: Any) -> SSVAEConfig:
        """Return a validated copy with `changes` applied."""
        unknown = sorted(set(changes) - set(FIELD_NAMES))
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    def architecture(self) -> dict[str, Any]:
        """The fields that fix the network's shape (compare these before loading weights)."""
        return {name: getattr(self, name) for name in ARCHITECTURE_FIELDS}


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(SSVAEConfig))
ARCHITECTURE_FIELDS: tuple[str, ...] = (
    "latent_dim",
    "hidden_dims",
    "encoder_type",
    "decoder_type",
    "dropout_rate",
    "classifier_input",
)
# What a stored config without the field meant: the behaviour before the field existed.
LEGACY_DEFAULTS: dict[str, Any] = {
    "classifier_input": "mean",
    "label_smoothing": 0.0,
    "unlabeled_weight": 0.0,
    "augment_labeled": "none",
}
TRAINING_FIELDS: tuple[str, ...] = tuple(n for n in FIELD_NAMES if n not in ARCHITECTURE_FIELDS)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(cfg: SSVAEConfig, name: str, low: int, high: int) -> None:
    value = getattr(cfg, name)
    if not _is_int(value) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")


def _check_float(cfg: SSVAEConfig, name: str, low: float, high: float) -> None:
    value = getattr(cfg, name)
    if not (isinstance(value, float) and math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must be a finite number in [{low:g}, {high:g}], got {value!r}")
