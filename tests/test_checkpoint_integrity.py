"""Damaged weights are a load error naming the file, whatever the damage keeps intact."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from ssvae.config import SSVAEConfig
from ssvae.io.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ssvae.io.checkpoint_integrity import CHECKSUM_KEY, payload_checksum
from ssvae.nn.model import SSVAE
from ssvae.train.trainer import make_optimizer


@pytest.fixture()
def ckpt(tmp_path: Path) -> Path:
    path = tmp_path / "ssvae.ckpt"
    model = SSVAE(SSVAEConfig())
    save_checkpoint(
        path,
        model=model,
        optimizer=make_optimizer(model, SSVAEConfig()),
        config=SSVAEConfig(),
        epochs_trained=3,
        dataset="mnist",
        history=[],
    )
    return path


def _rewrite(path: Path, change: Callable[[dict], object]) -> None:
    payload = torch.load(path, weights_only=True)
    change(payload)
    torch.save(payload, path)


def test_flipped_bytes_with_the_same_size_and_mtime(ckpt: Path) -> None:
    before = ckpt.stat()
    data = bytearray(ckpt.read_bytes())
    state = torch.load(ckpt, weights_only=True)["model_state"]
    largest = max(state.values(), key=lambda t: t.numel())
    at = data.find(largest.numpy().tobytes()[:64])  # the weights' own bytes in the file
    assert at > 0
    data[at + 16 : at + 20] = b"\xff\xff\xff\x7f"  # a NaN in float32
    ckpt.write_bytes(bytes(data))
    os.utime(ckpt, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert ckpt.stat().st_size == before.st_size
    with pytest.raises(CheckpointError, match="damaged") as caught:
        load_checkpoint(ckpt)
    assert str(ckpt) in str(caught.value)


def test_weights_that_do_not_match_their_checksum(ckpt: Path) -> None:
    # A file rewritten with valid zip CRCs but changed weights: only the checksum sees it.
    _rewrite(ckpt, lambda p: p["model_state"][next(iter(p["model_state"]))].mul_(1.5))
    with pytest.raises(CheckpointError, match="checksum") as caught:
        load_checkpoint(ckpt)
    assert str(ckpt) in str(caught.value)


def test_nan_weights_are_refused_even_with_a_matching_checksum(ckpt: Path) -> None:
    def poison(payload: dict) -> None:
        next(iter(payload["model_state"].values())).fill_(float("nan"))
        payload[CHECKSUM_KEY] = payload_checksum(payload)

    _rewrite(ckpt, poison)
    with pytest.raises(CheckpointError, match="NaN or infinite") as caught:
        load_checkpoint(ckpt)
    assert str(ckpt) in str(caught.value)


def test_checkpoints_from_before_checksums_still_load(ckpt: Path) -> None:
    _rewrite(ckpt, lambda p: p.pop(CHECKSUM_KEY))
    assert load_checkpoint(ckpt).epochs_trained == 3


def test_the_checksum_survives_a_save_load_round_trip(ckpt: Path) -> None:
    payload = torch.load(ckpt, weights_only=True)
    assert payload[CHECKSUM_KEY] == payload_checksum(payload)
