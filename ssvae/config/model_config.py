"""SSVAEConfig: every knob of the model and its training, validated in one place.

Importing this module must stay cheap (no torch): `alctl status` reads configs.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ssvae.config.hparams import Param, epochs_param, hparam, params_of

N_CLASSES = 10  # labels are 0-9 in both datasets; the classifier has this many outputs
LABEL_WORDS = f"0-{N_CLASSES - 1}"  # how messages name the labels
ENCODER_TYPES = ("dense", "conv")
MAX_WEIGHT = 1e38  # a loss weight beyond this overflows float32 at once
LOSS_WEIGHT = {"kind": "float", "low": 0.0, "high": MAX_WEIGHT, "per_session": True}
CLASSIFIER_INPUTS = ("mean", "hidden", "image", "conv", "conv_only")
# Classifiers with a convolutional trunk read only the rows a loss term needs (their cost).
SPARSE_CLASSIFIERS = ("conv", "conv_only")
AUGMENTATIONS = ("none", "shift", "shift_mirror")
CALIBRATIONS = ("late", "end")


def is_label(value: object) -> bool:
    """The one label rule: a label is a class index, an integer from 0 to N_CLASSES - 1
    (numpy integers too; never a bool, a float or a string). The label store, the HTTP API
    and the CLI all ask this, and each words its own refusal with LABEL_WORDS."""
    if isinstance(value, bool):
        return False
    try:
        return 0 <= operator.index(value) < N_CLASSES  # type: ignore[call-overload]
    except TypeError:
        return False


@dataclass(frozen=True)
class SSVAEConfig:
    """Hyper-parameters of the semi-supervised VAE; frozen, so change it with `replace()`.

    Each field is one schema entry (`hparam`: type, range, help); see ssvae.config.hparams.
    """

    latent_dim: int = hparam(
        2, "int", low=1, high=1024, architecture=True,
        help="Latent dimensions; 2 so the latent space can be drawn as it is.",
    )  # fmt: skip
    hidden_dims: tuple[int, ...] = hparam(
        (256, 128, 64), "int_list", low=1, high=65536, architecture=True,
        help="Dense layer widths.",
    )  # fmt: skip
    encoder_type: str = hparam(
        "dense", "choice", choices=ENCODER_TYPES, architecture=True, help="Encoder network."
    )
    decoder_type: str = hparam(
        "dense", "choice", choices=ENCODER_TYPES, architecture=True, help="Decoder network."
    )
    dropout_rate: float = hparam(
        0.0, "float", low=0.0, high=0.95, architecture=True,
        help="Dropout after each hidden layer.",
    )  # fmt: skip
    recon_weight: float = hparam(
        1.0, **LOSS_WEIGHT, label="recon weight",
        help="Weight of the reconstruction loss (BCE summed over pixels).",
    )  # fmt: skip
    kl_weight: float = hparam(
        1.0, **LOSS_WEIGHT, label="KL weight",
        help="Weight of KL(q(z|x) || N(0, I)); the beta of a beta-VAE.",
    )  # fmt: skip
    label_weight: float = hparam(
        10.0, **LOSS_WEIGHT, label="label weight",
        help="Weight of the cross-entropy on labeled rows (alpha in Kingma et al. 2014).",
    )  # fmt: skip
    learning_rate: float = hparam(
        1e-3, "float", low=0.0, high=10.0, low_open=True, per_session=True,
        label="learning rate", help="AdamW learning rate.",
    )  # fmt: skip
    lr_schedule: str = hparam(
        "cosine", "choice", choices=("constant", "cosine"),
        help="Learning rate over a session: 'constant', or 'cosine' from learning_rate down to"
        " 0 at the session's last batch, so a session ends on settled weights.",
    )  # fmt: skip
    calibration: str = hparam(
        "end", "choice", choices=CALIBRATIONS,
        help="When a session fits the certainty's temperature on its check labels (random"
        " samples the queue interleaves, held out of training until then): 'end' on the"
        " session's final weights, the checks kept out of its training (the newest 25 wait"
        " until newer ones replace them); 'late' after nine tenths of its batches, then they"
        " train for the rest (docs/EXPERIMENTS.md).",
    )  # fmt: skip
    weight_decay: float = hparam(
        0.0, "float", low=0.0, high=10.0,
        help="Decoupled weight decay (AdamW) on weights, never on biases; 0 = plain Adam.",
    )  # fmt: skip
    batch_size: int = hparam(
        128, "int", low=1, high=8192, per_session=True, label="batch size", help="Batch size."
    )
    labeled_batch_size: int = hparam(
        32, "int", low=0, high=8192,
        help="Labeled rows drawn with replacement into every batch; 0 = off.",
    )  # fmt: skip
    max_epochs: int = hparam(
        20, "int", low=1, high=1000, help="Epochs per run when the caller does not say."
    )
    patience: int = hparam(
        0, "int", low=0, high=1000,
        help="Epochs without validation improvement before stopping; 0 = never.",
    )  # fmt: skip
    val_split: float = hparam(
        0.1, "float", low=0.0, high=0.9,
        help="Share of the training images held out (fixed by the seed).",
    )  # fmt: skip
    seed: int = hparam(
        0, "int", low=0, high=2**63 - 1,
        help="Seed of shuffling, validation split and weight initialisation.",
    )  # fmt: skip
    grad_clip: float = hparam(
        5.0, "float", low=0.0, high=1e6, help="Max global gradient norm; 0 = off."
    )
    classifier_input: str = hparam(
        "conv_only", "choice", choices=CLASSIFIER_INPUTS, architecture=True,
        help="What the classifier reads: 'conv_only' = the pixels through a small"
        " convolutional trunk of its own (with the consistency term: +5.5 points over 'hidden'"
        " at 100 queue labels, docs/EXPERIMENTS.md); 'conv' = that, the latent mean and the"
        " encoder's last hidden layer; 'hidden' = the encoder's last hidden layer and the"
        " latent mean; 'image' = those and the pixels through a dense trunk, as M2's q(y|x);"
        " 'mean' = the latent mean only (checkpoints before this field).",
    )  # fmt: skip
    label_smoothing: float = hparam(
        0.0, "float", low=0.0, high=0.5,
        help="Cross-entropy label smoothing; keeps a few labels from being learnt to zero loss.",
    )  # fmt: skip
    unlabeled_weight: float = hparam(
        0.0, "float", low=0.0, high=MAX_WEIGHT,
        help="Weight of the mean classifier entropy on unlabeled rows (entropy minimisation).",
    )  # fmt: skip
    augment_labeled: str = hparam(
        "shift", "choice", choices=AUGMENTATIONS,
        help="Jitter of the labeled rows in each batch: 'shift' (±2 px), 'shift_mirror' (also"
        " left-right; right for clothes, wrong for digits), 'none'.",
    )  # fmt: skip

    consistency_weight: float = hparam(
        10.0, "float", low=0.0, high=MAX_WEIGHT,
        help="Weight of the pseudo-label term (FixMatch-like): an unlabeled image the"
        " classifier is sure of (see consistency_threshold) must keep its class when jittered"
        " (consistency_augment); 0 = off (docs/EXPERIMENTS.md).",
    )  # fmt: skip
    consistency_threshold: float = hparam(
        0.95, "float", low=0.0, high=1.0,
        help="Softmax certainty an unlabeled image needs before its predicted class becomes"
        " its pseudo-label.",
    )  # fmt: skip
    consistency_augment: str = hparam(
        "shift", "choice", choices=AUGMENTATIONS[1:],
        help="Jitter of the pseudo-labeled view: 'shift' (±2 px) or 'shift_mirror' (also"
        " left-right; right for clothes, wrong for digits).",
    )  # fmt: skip

    consistency_align: str = hparam(
        "uniform", "choice", choices=("none", "uniform"),
        help="Distribution alignment of the pseudo-labels: 'uniform' divides them by the"
        " running share of each class the classifier predicts on unlabeled images (the"
        " classes taken as equally common), so an early bias does not feed itself.",
    )  # fmt: skip

    propagation_weight: float = hparam(
        1.0, "float", low=0.0, high=MAX_WEIGHT,
        help="Weight, beside the consistency term's, of labels spread from the labeled images"
        " to their neighbours in pixel space (label spreading; the most confident half of the"
        " unlabeled images get one): the target of an unlabeled image the classifier is not yet"
        " sure of; 0 = off (docs/EXPERIMENTS.md).",
    )  # fmt: skip

    def __post_init__(self) -> None:
        # JSON and argparse hand us lists and ints where we keep tuples and floats.
        for name, param in PARAMS_OF_CLASS(type(self)).items():
            object.__setattr__(self, name, param.check(getattr(self, name)))

    def validate(self) -> None:
        """Raise ValueError (HyperparameterError) naming the first field out of range."""
        for name, param in PARAMS_OF_CLASS(type(self)).items():
            param.check(getattr(self, name))

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


PARAMS_OF_CLASS = functools.cache(params_of)
PARAMS: dict[str, Param] = params_of(SSVAEConfig)  # the one hyperparameter schema
FIELD_NAMES: tuple[str, ...] = tuple(PARAMS)
ARCHITECTURE_FIELDS: tuple[str, ...] = tuple(n for n, p in PARAMS.items() if p.architecture)
TRAINING_FIELDS: tuple[str, ...] = tuple(n for n in FIELD_NAMES if n not in ARCHITECTURE_FIELDS)
# What a stored config without the field meant: the behaviour before the field existed.
LEGACY_DEFAULTS: dict[str, Any] = {
    "classifier_input": "mean",
    "label_smoothing": 0.0,
    "unlabeled_weight": 0.0,
    "augment_labeled": "none",
    "consistency_weight": 0.0,
    "consistency_align": "none",
    "lr_schedule": "constant",
    "calibration": "late",
    "propagation_weight": 0.0,
}
# Data whose images keep their class when mirrored left-right (clothes; digits do not).
MIRRORED_KEEP_CLASS = ("fashion-mnist",)


def default_config(dataset: str) -> SSVAEConfig:
    """The settings of a new model for `dataset`: the defaults, with the jitter of the
    labeled rows and of the consistency term mirroring only where that keeps the class
    (SSVAEConfig's own defaults shift only, right for any data)."""
    view = "shift_mirror" if dataset in MIRRORED_KEEP_CLASS else "shift"
    return SSVAEConfig(augment_labeled=view, consistency_augment=view)


# What may change from one session to the next: the page's inputs, POST /api/train and the
# options of `alctl train` (`epochs` is the session's length, ranged like max_epochs).
SESSION_FIELDS: tuple[str, ...] = tuple(n for n, p in PARAMS.items() if p.per_session)
SESSION_PARAMS: dict[str, Param] = {
    "epochs": epochs_param(PARAMS["max_epochs"]),
    **{n: PARAMS[n] for n in SESSION_FIELDS},
}
