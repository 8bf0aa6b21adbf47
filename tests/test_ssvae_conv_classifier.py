"""The convolutional classifier: its own trunk, run on the rows a loss term reads only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssvae.config import SSVAEConfig
from ssvae.nn.losses import ClassPrior
from ssvae.nn.model import SSVAE, class_logits
from ssvae.train.session_loop import batch_loss
from ssvae.train.trainer import InteractiveTrainer
from tests.datagen import synthetic_digits

pytestmark = pytest.mark.usefixtures("torch_one_thread")
SMALL = {"hidden_dims": (32, 16), "batch_size": 32, "labeled_batch_size": 8}


def _rows_seen(model: SSVAE) -> list[int]:
    seen: list[int] = []
    assert model.trunk is not None
    model.trunk.register_forward_hook(lambda _m, inputs, _o: seen.append(inputs[0].shape[0]))
    return seen


@pytest.mark.parametrize("kind", ["conv", "conv_only"])
def test_the_trunk_reads_only_the_labeled_and_the_jittered_rows(kind: str) -> None:
    config = SSVAEConfig(**SMALL, classifier_input=kind, consistency_weight=10.0)
    torch.manual_seed(0)
    model = SSVAE(config)
    seen = _rows_seen(model)
    x = torch.rand(12, 1, 28, 28)
    y = torch.tensor([3, -1, -1, 1, -1, -1, -1, -1, -1, -1, -1, 0])
    terms = batch_loss(model, x, y, config, torch.Generator().manual_seed(0))
    # 3 labeled + the plain unlabeled half-batch (6 rows), then those 6 jittered.
    assert seen == [3 + 6, 6] and terms.n_labeled == 3
    terms.total.backward()
    assert all(p.grad is not None for p in model.trunk.parameters())
    # Without the consistency term only the labeled rows need the classifier.
    seen.clear()
    batch_loss(model, x, y, config.replace(consistency_weight=0.0), torch.Generator())
    assert seen == [3]


def test_conv_only_leaves_the_vae_to_the_vae_terms() -> None:
    config = SSVAEConfig(**SMALL, classifier_input="conv_only")
    torch.manual_seed(0)
    model = SSVAE(config)
    out = model(torch.rand(6, 1, 28, 28), torch.tensor([0, 4]))
    assert out.class_logits.shape == (2, 10)
    out.class_logits.sum().backward()
    assert all(p.grad is None for p in model.encoder.parameters())  # the picture is the VAE's
    assert all(p.grad is not None for p in model.trunk.parameters())


def test_predictions_agree_with_the_rows_forward() -> None:
    config = SSVAEConfig(**SMALL, classifier_input="conv")
    torch.manual_seed(0)
    model = SSVAE(config).eval()
    images, _ = synthetic_digits(10, seed=1)
    x = torch.as_tensor(images).unsqueeze(1).float() / 255
    rows = torch.tensor([1, 7])
    with torch.no_grad():
        sparse = model(x, rows).class_logits
    dense = class_logits(model, images[[1, 7]])
    assert np.allclose(sparse.numpy(), dense, atol=1e-5)


def test_alignment_divides_by_the_running_class_shares() -> None:
    prior = ClassPrior(momentum=0.5)
    biased = torch.tensor([[0.8, 0.2], [0.6, 0.4]])  # class 0 predicted 70 % of the time
    aligned = prior.align(biased)
    assert prior.shares is not None and torch.allclose(prior.shares, torch.tensor([0.7, 0.3]))
    expected = biased / torch.tensor([0.7, 0.3])
    assert torch.allclose(aligned, expected / expected.sum(dim=1, keepdim=True))
    assert aligned[:, 1].mean() > biased[:, 1].mean()  # the rarer class gains
    prior.align(torch.tensor([[0.5, 0.5], [0.5, 0.5]]))
    assert torch.allclose(prior.shares, torch.tensor([0.6, 0.4]))  # a running mean


def test_a_cosine_session_ends_near_zero_and_the_next_starts_again() -> None:
    images, targets = synthetic_digits(200, seed=2)
    labels = np.full(200, -1)
    labels[:20] = targets[:20]
    config = SSVAEConfig(**SMALL, lr_schedule="cosine", learning_rate=1e-3)
    trainer = InteractiveTrainer(config, "cpu")
    trainer.train(images, labels, epochs=2)
    rates = [r["learning_rate"] for r in trainer.history]
    assert rates[0] < 1e-3 and rates[-1] < 5e-5  # the rate at each epoch's last batch
    trainer.train(images, labels, epochs=4)
    again = [r["learning_rate"] for r in trainer.history[2:]]
    assert again[0] > 8e-4 and again == sorted(again, reverse=True) and again[-1] < 5e-5
