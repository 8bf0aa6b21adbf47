"""The hyperparameter schema and the model's configuration: one contract for every consumer.

`SSVAEConfig` and the schema derived from it are imported from here by the library, the
server, the CLI and the scripts. Standard library only.
"""

from ssvae.config.hparams import HyperparameterError, Param, hparam
from ssvae.config.model_config import (
    ARCHITECTURE_FIELDS,
    FIELD_NAMES,
    LABEL_WORDS,
    LEGACY_DEFAULTS,
    N_CLASSES,
    PARAMS,
    SESSION_FIELDS,
    SESSION_PARAMS,
    TRAINING_FIELDS,
    SSVAEConfig,
    default_config,
    is_label,
)

__all__ = [
    "ARCHITECTURE_FIELDS",
    "FIELD_NAMES",
    "LABEL_WORDS",
    "LEGACY_DEFAULTS",
    "N_CLASSES",
    "PARAMS",
    "SESSION_FIELDS",
    "SESSION_PARAMS",
    "TRAINING_FIELDS",
    "HyperparameterError",
    "Param",
    "SSVAEConfig",
    "default_config",
    "hparam",
    "is_label",
]
