"""A model from a checkpoint: the network its config describes, with its weights and the
certainty's temperature."""

from __future__ import annotations

from ssvae.config import SSVAEConfig
from ssvae.io.checkpoint import Checkpoint, CheckpointError, check_architecture, first_line
from ssvae.nn.model import SSVAE


def build_model(ckpt: Checkpoint, config: SSVAEConfig | None = None) -> tuple[SSVAE, SSVAEConfig]:
    """The model with the checkpoint's weights, and the config to train it with."""
    if config is None:
        config = ckpt.config
    else:
        check_architecture(ckpt, config)
    model = SSVAE(config)
    try:
        model.load_state_dict(ckpt.model_state)
    except (RuntimeError, KeyError, TypeError) as exc:
        raise CheckpointError(
            ckpt.path, f"weights do not fit the architecture ({first_line(exc)})"
        ) from exc
    model.temperature = ckpt.temperature
    return model, config
