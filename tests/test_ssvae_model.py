"""SSVAE shapes and dtypes, predict(), view_2d(), and the masked loss."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ssvae.config import SSVAEConfig
from ssvae.nn.losses import ssvae_loss
from ssvae.nn.model import SSVAE, predict, to_input, view_2d

# Model tests run single-threaded: steadier timings and no fight with other processes.
pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.mark.parametrize(
    ("encoder", "decoder", "latent"),
    [("dense", "dense", 2), ("conv", "conv", 3), ("conv", "dense", 2)],
)
def test_forward_shapes(encoder: str, decoder: str, latent: int) -> None:
    model = SSVAE(SSVAEConfig(encoder_type=encoder, decoder_type=decoder, latent_dim=latent))
    x = torch.rand(5, 1, 28, 28)
    out = model(x)
    assert out.recon_logits.shape == (5, 1, 28, 28)
    assert out.mu.shape == out.logvar.shape == out.z.shape == (5, latent)
    assert out.class_logits.shape == (5, 10)
    assert model.encode(x)[0].shape == (5, latent)
    assert model.decode(out.z).shape == (5, 1, 28, 28)
    assert model.classify(out.mu, out.features).shape == (5, 10)


def test_eval_mode_uses_the_mean() -> None:
    model = SSVAE(SSVAEConfig()).eval()
    out = model(torch.rand(3, 1, 28, 28))
    assert torch.equal(out.z, out.mu)


def test_to_input_scales_uint8_to_unit_floats() -> None:
    x = to_input(torch.tensor([[[0] * 28] * 27 + [[255] * 28]], dtype=torch.uint8))
    assert x.shape == (1, 1, 28, 28) and x.dtype == torch.float32
    assert x.min() == 0.0 and x.max() == 1.0


def test_predict_shapes_dtypes_and_batching() -> None:
    model = SSVAE(SSVAEConfig(latent_dim=3))
    images = np.random.default_rng(0).integers(0, 256, (37, 28, 28), dtype=np.uint8)
    model.train()
    out = predict(model, images, batch_size=10)
    assert model.training, "predict() must restore train mode"
    assert out.latent.shape == (37, 3) and out.latent.dtype == np.float32
    assert out.recon is not None and out.recon.shape == (37, 28, 28) and out.recon.dtype == np.uint8
    assert out.pred_class.shape == (37,) and out.pred_class.dtype == np.int64
    assert out.certainty.dtype == np.float32
    assert ((out.certainty >= 0.1 - 1e-6) & (out.certainty <= 1)).all()
    whole = predict(model, images, batch_size=4096, reconstruct=False)
    assert whole.recon is None
    np.testing.assert_allclose(whole.latent, out.latent, atol=1e-5)
    np.testing.assert_array_equal(whole.pred_class, out.pred_class)


def test_predict_refuses_wrong_input() -> None:
    model = SSVAE(SSVAEConfig())
    with pytest.raises(ValueError, match="uint8"):
        predict(model, np.zeros((2, 28, 28), np.float32))
    with pytest.raises(ValueError, match=r"\[N, 28, 28\]"):
        predict(model, np.zeros((2, 784), np.uint8))


def test_view_2d() -> None:
    rng = np.random.default_rng(1)
    two = rng.normal(size=(50, 2)).astype(np.float32)
    np.testing.assert_array_equal(view_2d(two), two)
    # Variance along the first axis >> second >> third: PCA must order them so.
    three = rng.normal(size=(500, 3)) * np.array([10.0, 3.0, 0.1])
    flat = view_2d(three)
    assert flat.shape == (500, 2) and flat.dtype == np.float32
    assert flat[:, 0].var() > flat[:, 1].var() > 1.0
    assert np.allclose(np.abs(np.corrcoef(flat[:, 0], three[:, 0])[0, 1]), 1.0, atol=1e-3)
    np.testing.assert_array_equal(view_2d(three), flat)  # deterministic signs
    one = view_2d(np.arange(4, dtype=np.float32)[:, None])
    assert one.shape == (4, 2) and (one[:, 1] == 0).all()


def _batch(targets: list[int]) -> tuple[SSVAE, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = SSVAE(SSVAEConfig())
    x = torch.rand(len(targets), 1, 28, 28)
    return model, x, torch.tensor(targets)


def test_loss_without_labels_has_zero_classification_and_finite_gradients() -> None:
    model, x, y = _batch([-1, -1, -1, -1])
    terms = ssvae_loss(model(x), x, y, model.config)
    assert terms.classification.item() == 0.0
    assert math.isnan(terms.accuracy.item()) and terms.n_labeled == 0
    assert torch.isfinite(terms.total)
    terms.total.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_classification_counts_only_labeled_rows() -> None:
    model, x, y = _batch([3, -1, 7, -1])
    out = model(x)
    terms = ssvae_loss(out, x, y, model.config)
    expected = torch.nn.functional.cross_entropy(out.class_logits[[0, 2]], torch.tensor([3, 7]))
    assert terms.n_labeled == 2
    assert torch.allclose(terms.classification, expected)
    # Scrambling the unlabeled rows' logits changes nothing.
    out.class_logits = out.class_logits.clone()
    out.class_logits[[1, 3]] = 100.0
    assert torch.allclose(ssvae_loss(out, x, y, model.config).classification, expected)


def test_total_is_the_weighted_sum() -> None:
    model, x, y = _batch([1, -1])
    out = model(x)
    cfg = SSVAEConfig(recon_weight=0.5, kl_weight=2.0, label_weight=3.0)
    t = ssvae_loss(out, x, y, cfg)
    expected = 0.5 * t.reconstruction + 2.0 * t.kl + 3.0 * t.classification
    assert torch.allclose(t.total, expected)
    per_image = torch.nn.functional.binary_cross_entropy_with_logits(
        out.recon_logits, x, reduction="none"
    ).sum(dim=(1, 2, 3))
    assert torch.allclose(t.reconstruction, per_image.mean())


def test_kl_is_zero_for_the_prior() -> None:
    model, x, y = _batch([-1, -1])
    out = model(x)
    out.mu, out.logvar = torch.zeros(2, 2), torch.zeros(2, 2)
    assert ssvae_loss(out, x, y, model.config).kl.item() == 0.0
