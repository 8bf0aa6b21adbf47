"""The consistency (pseudo-label) term on known logits and on a tiny batch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ssvae.config import SSVAEConfig
from ssvae.data.synthetic import synthetic_digits
from ssvae.nn.losses import pseudo_label_loss, ssvae_loss
from ssvae.nn.model import SSVAE
from ssvae.train.session_loop import batch_loss
from ssvae.train.trainer import InteractiveTrainer

pytestmark = pytest.mark.usefixtures("torch_one_thread")

# Row 0 is sure of class 0 (p ≈ 0.9997), row 1 torn between 0 and 1, row 2 sure of class 2.
PLAIN = torch.tensor([[10.0, 2.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 9.0]])
JITTERED = torch.tensor([[1.0, 2.0, 0.0], [5.0, 0.0, 0.0], [0.0, 1.0, 3.0]])


def test_only_sure_rows_count_and_the_mean_is_over_all_rows() -> None:
    got = pseudo_label_loss(PLAIN, JITTERED, 0.95)
    ce = F.cross_entropy(JITTERED, torch.tensor([0, 0, 2]), reduction="none")
    assert got.item() == pytest.approx((ce[0] + ce[2]).item() / 3)


def test_threshold_edges_none_sure_is_zero_and_zero_threshold_takes_all() -> None:
    assert pseudo_label_loss(PLAIN, JITTERED, 1.0).item() == 0.0
    everything = F.cross_entropy(JITTERED, PLAIN.argmax(dim=1))
    assert pseudo_label_loss(PLAIN, JITTERED, 0.0).item() == pytest.approx(everything.item())


def test_gradient_flows_into_the_jittered_view_only() -> None:
    plain, jittered = PLAIN.clone().requires_grad_(), JITTERED.clone().requires_grad_()
    pseudo_label_loss(plain, jittered, 0.5).backward()
    assert plain.grad is None and jittered.grad is not None
    assert jittered.grad[1].abs().sum() == 0  # row 1 is not sure: no target, no pull


def test_ssvae_loss_adds_the_weighted_term_on_the_jittered_rows() -> None:
    config = SSVAEConfig(hidden_dims=(16, 8), consistency_weight=3.0, consistency_threshold=0.0)
    torch.manual_seed(0)
    model = SSVAE(config)
    x = torch.rand(4, 1, 28, 28)
    y = torch.tensor([2, -1, -1, 5])
    out = model(x)
    rows, logits = torch.tensor([1, 2]), torch.randn(2, 10)  # of jittered x[1], x[2]
    without = ssvae_loss(out, x, y, config).total
    with_term = ssvae_loss(out, x, y, config, (rows, logits)).total
    expected = 3.0 * F.cross_entropy(logits, out.class_logits[[1, 2]].argmax(dim=1))
    assert with_term.item() == pytest.approx((without + expected).item(), rel=1e-5)
    off = config.replace(consistency_weight=0.0)
    assert ssvae_loss(out, x, y, off, (rows, logits)).total.item() == pytest.approx(
        ssvae_loss(out, x, y, off).total.item()
    )


def test_batch_loss_keeps_the_vae_on_plain_images_and_adds_only_the_term() -> None:
    config = SSVAEConfig(hidden_dims=(16, 8), consistency_weight=1.0, consistency_threshold=0.0)
    torch.manual_seed(0)
    model = SSVAE(config).eval()  # eval: z = mu, so two passes over x agree exactly
    x = torch.rand(4, 1, 28, 28)
    before = x.clone()
    y = torch.tensor([2, -1, -1, 5])
    terms = batch_loss(model, x, y, config, torch.Generator().manual_seed(0))
    assert torch.equal(x, before)  # the caller's batch is not jittered in place
    plain = ssvae_loss(model(x), x, y, config.replace(consistency_weight=0.0))
    assert terms.reconstruction.item() == pytest.approx(plain.reconstruction.item())
    assert terms.classification.item() == pytest.approx(plain.classification.item())
    assert terms.total.item() > plain.total.item()  # threshold 0: every row has a target
    none_unlabeled = torch.tensor([2, 1, 0, 5])
    alone = batch_loss(model, x, none_unlabeled, config, torch.Generator().manual_seed(0))
    assert alone.total.item() == pytest.approx(
        ssvae_loss(model(x), x, none_unlabeled, config).total.item()
    )


@pytest.mark.parametrize("augment", ["shift", "shift_mirror"])
def test_a_session_with_the_consistency_term_trains(augment: str) -> None:
    images, targets = synthetic_digits(200, seed=1)
    labels = np.full(200, -1)
    labels[:20] = targets[:20]
    config = SSVAEConfig(
        hidden_dims=(32, 16),
        batch_size=32,
        consistency_weight=5.0,
        consistency_threshold=0.5,
        consistency_augment=augment,
    )
    trainer = InteractiveTrainer(config, "cpu")
    result = trainer.train(images, labels, epochs=2)
    assert result.status == "completed"
    assert all(math.isfinite(r["train"]["loss"]) for r in trainer.history)
