"""The semi-supervised VAE: encoder -> (mu, logvar) -> z -> decoder, and a classifier on mu.

The VAE follows Kingma & Welling (2014), "Auto-Encoding Variational Bayes"; the
classifier on the latent mean trained on the labeled rows follows the spirit of the
M1+M2 models of Kingma, Rezende, Mohamed & Welling (2014), "Semi-Supervised Learning
with Deep Generative Models", simplified so the 2-D latent stays the thing you look at.
Inputs are `[B, 1, 28, 28]` floats in [0, 1]; the decoder returns logits.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ssvae.config import N_CLASSES, SSVAEConfig
from ssvae.select.latent_view import LatentView

_PIXELS = 28 * 28


@dataclass
class SSVAEOutput:
    recon_logits: torch.Tensor  # [B, 1, 28, 28]
    mu: torch.Tensor  # [B, d]
    logvar: torch.Tensor  # [B, d]
    z: torch.Tensor  # [B, d]; a sample in training, mu in eval mode
    class_logits: torch.Tensor  # [R, 10], R = len(class_rows) or B
    features: torch.Tensor | None = None  # [R, h], what the classifier read beside mu
    class_rows: torch.Tensor | None = None  # the R rows class_logits are of; None: all B


@dataclass
class Predictions:
    latent: np.ndarray  # float32 [N, d], the posterior means
    recon: np.ndarray | None  # uint8 [N, 28, 28], or None when not asked for
    pred_class: np.ndarray  # int64 [N]
    certainty: np.ndarray  # float32 [N], max of the calibrated probabilities
    probs: np.ndarray | None = None  # float32 [N, 10], softmax(logits / model.temperature)


def _mlp(sizes: list[int], dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def _conv_encoder(width: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 32, 4, stride=2, padding=1),  # 28 -> 14
        nn.ReLU(),
        nn.Conv2d(32, 64, 4, stride=2, padding=1),  # 14 -> 7
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, width),
        nn.ReLU(),
        nn.Dropout(dropout) if dropout > 0 else nn.Identity(),
    )


def _conv_trunk(width: int, dropout: float) -> nn.Sequential:
    """The classifier's own eyes: two strided convolutions with batch norm (cheap on a CPU:
    about a VAE step's cost per row, docs/EXPERIMENTS.md) and one dense layer."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 4, stride=2, padding=1),  # 28 -> 14
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 32, 4, stride=2, padding=1),  # 14 -> 7
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, width),
        nn.ReLU(),
        nn.Dropout(dropout) if dropout > 0 else nn.Identity(),
    )


def _conv_decoder(latent_dim: int, width: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(latent_dim, width),
        nn.ReLU(),
        nn.Dropout(dropout) if dropout > 0 else nn.Identity(),
        nn.Linear(width, 64 * 7 * 7),
        nn.ReLU(),
        nn.Unflatten(1, (64, 7, 7)),
        nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),  # 7 -> 14
        nn.ReLU(),
        nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1),  # 14 -> 28, logits
    )


class SSVAE(nn.Module):
    """Dense or convolutional encoder/decoder for 28×28 images, classifier on the latent mean."""

    def __init__(self, config: SSVAEConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        dims, d, p = list(config.hidden_dims), config.latent_dim, config.dropout_rate
        if config.encoder_type == "dense":
            self.encoder: nn.Module = nn.Sequential(nn.Flatten(), _mlp([_PIXELS, *dims], p))
            features = dims[-1]
        else:
            features = dims[0]
            self.encoder = _conv_encoder(features, p)
        self.mu_head = nn.Linear(features, d)
        self.logvar_head = nn.Linear(features, d)
        if config.decoder_type == "dense":
            self.decoder: nn.Module = nn.Sequential(
                _mlp([d, *reversed(dims)], p),
                nn.Linear(dims[0], _PIXELS),
                nn.Unflatten(1, (1, 28, 28)),
            )
        else:
            self.decoder = _conv_decoder(d, dims[0], p)
        width = dims[-1]
        kind = config.classifier_input
        reads = d + features if kind != "mean" else d
        # "image" and "conv": the classifier also reads the pixels through a trunk of its own
        # (M2's q(y|x)), whose features the reconstruction does not have to share.
        self.trunk: nn.Module | None = None
        if kind == "image":
            trunk_dims = [_PIXELS, *dims[:2]]
            self.trunk = nn.Sequential(nn.Flatten(), _mlp(trunk_dims, p))
            reads += trunk_dims[-1]
        elif kind in ("conv", "conv_only"):
            trunk_width = dims[min(1, len(dims) - 1)]
            self.trunk = _conv_trunk(trunk_width, p)
            reads = trunk_width + (reads if kind == "conv" else 0)
        self.classifier = nn.Sequential(
            nn.Linear(reads, width),
            nn.ReLU(),
            nn.Linear(width, width),
            nn.ReLU(),
            nn.Linear(width, N_CLASSES),
        )

        # Softmax temperature of the shown certainty (ssvae.train.calibration); not a weight, so
        # it lives beside the state dict in the checkpoint and checkpoints without it mean 1.
        self.temperature = 1.0

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar, _ = self.encode_features(x)
        return mu, logvar

    def encode_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mu, logvar, h): h is what the classifier reads beside mu (the encoder's last hidden
        layer; with classifier_input "image" also its own trunk's features of the pixels)."""
        mu, logvar, h = self.encode_latent(x)
        return mu, logvar, self.class_features(x, h)

    def encode_latent(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mu, logvar, h) of the VAE's encoder alone (h: its last hidden layer)."""
        h = self.encoder(x)
        # Clamp so exp(logvar) can neither overflow nor vanish on a bad step.
        return self.mu_head(h), self.logvar_head(h).clamp(-20.0, 10.0), h

    def class_features(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """What the classifier reads beside mu, from the images `x` and the encoder's `h`."""
        if self.trunk is None:
            return h
        seen = self.trunk(x)
        if self.config.classifier_input == "conv_only":
            return seen
        return torch.cat([h, seen], dim=1)

    def classify_images(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (uncalibrated) of images `x`."""
        mu, _, h = self.encode_features(x)
        return self.classify(mu, h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def classify(self, mu: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        """Class logits (uncalibrated) from the latent mean, plus `features` when it reads them."""
        kind = self.config.classifier_input
        if kind != "mean":
            if features is None:
                raise ValueError("this classifier reads encode_features()'s features too")
            if kind == "conv_only":
                return self.classifier(features)
            return self.classifier(torch.cat([mu, features], dim=1))
        return self.classifier(mu)

    def forward(self, x: torch.Tensor, rows: torch.Tensor | None = None) -> SSVAEOutput:
        """The VAE on every row of `x`; the classifier on `rows` only (all when None), so a
        classifier with a trunk of its own costs only the rows a loss term reads."""
        mu, logvar, h = self.encode_latent(x)
        # Reparameterisation trick (Kingma & Welling 2014, §2.4) in training; the mean otherwise.
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        if rows is None:
            features = self.class_features(x, h)
            logits = self.classify(mu, features)
        else:
            features = self.class_features(x[rows], h[rows])
            logits = self.classify(mu[rows], features)
        return SSVAEOutput(self.decode(z), mu, logvar, z, logits, features, rows)


def to_input(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 [B, 28, 28] -> float [B, 1, 28, 28] in [0, 1] (the only preprocessing)."""
    return images_uint8.unsqueeze(1).float().div_(255.0)


@torch.no_grad()
def predict(
    model: SSVAE,
    images_uint8: np.ndarray | torch.Tensor,
    *,
    batch_size: int = 4096,
    device: torch.device | str | None = None,
    reconstruct: bool = True,
) -> Predictions:
    """Latent means, reconstructions, predicted class and certainty for any number of images."""
    images = torch.as_tensor(images_uint8)
    if images.dtype != torch.uint8 or images.dim() != 3 or tuple(images.shape[1:]) != (28, 28):
        raise ValueError(
            f"predict() wants uint8 [N, 28, 28], got {images.dtype} {tuple(images.shape)}"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    n, d = images.shape[0], model.config.latent_dim
    latent = np.empty((n, d), np.float32)
    pred = np.empty(n, np.int64)
    certainty = np.empty(n, np.float32)
    all_probs = np.empty((n, N_CLASSES), np.float32)
    recon = np.empty((n, 28, 28), np.uint8) if reconstruct else None
    was_training = model.training
    model.eval()
    try:
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            x = to_input(images[start:stop].to(device, non_blocking=True))
            mu, _, h = model.encode_features(x)
            probs = torch.softmax(model.classify(mu, h) / model.temperature, dim=1)
            top, cls = probs.max(dim=1)
            all_probs[start:stop] = probs.float().cpu().numpy()
            latent[start:stop] = mu.float().cpu().numpy()
            certainty[start:stop] = top.float().cpu().numpy()
            pred[start:stop] = cls.cpu().numpy()
            if recon is not None:
                pixels = torch.sigmoid(model.decode(mu)).mul_(255.0).round_().to(torch.uint8)
                recon[start:stop] = pixels.squeeze(1).cpu().numpy()
    finally:
        model.train(was_training)
    return Predictions(latent, recon, pred, certainty, all_probs)


@torch.no_grad()
def class_logits(
    model: SSVAE, images_uint8: np.ndarray | torch.Tensor, *, batch_size: int = 4096
) -> np.ndarray:
    """float32 [N, 10] uncalibrated classifier logits (what a temperature is fitted on)."""
    images = torch.as_tensor(images_uint8)
    device = next(model.parameters()).device
    out = np.empty((images.shape[0], N_CLASSES), np.float32)
    was_training = model.training
    model.eval()
    try:
        for start in range(0, images.shape[0], batch_size):
            x = to_input(images[start : start + batch_size].to(device))
            mu, _, h = model.encode_features(x)
            out[start : start + x.shape[0]] = model.classify(mu, h).float().cpu().numpy()
    finally:
        model.train(was_training)
    return out


def evaluate_accuracy(
    model: SSVAE, images_uint8: np.ndarray | torch.Tensor, targets: np.ndarray, **kwargs: object
) -> float:
    """Share of `images` whose predicted class equals `targets`."""
    out = predict(model, images_uint8, reconstruct=False, **kwargs)  # type: ignore[arg-type]
    return float((out.pred_class == np.asarray(targets)).mean()) if len(targets) else float("nan")


def view_2d(latent: np.ndarray) -> np.ndarray:
    """float32 [N, 2] to draw: the latent when d == 2, else its first two principal components.

    `ssvae.select.latent_view.LatentView.fit(latent)` is the same map with its way back.
    """
    latent = np.asarray(latent, dtype=np.float32)
    if latent.ndim != 2:
        raise ValueError(f"view_2d wants [N, d], got shape {latent.shape}")
    if latent.shape[1] == 2:
        return latent
    return LatentView.fit(latent).project(latent)
