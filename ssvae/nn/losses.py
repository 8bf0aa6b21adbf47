"""The semi-supervised VAE objective as a pure function of one batch.

total = recon_weight × reconstruction + kl_weight × KL + label_weight × classification

- reconstruction: Bernoulli negative log-likelihood of the pixels (BCE with logits),
  summed over the 784 pixels and averaged over the batch;
- KL: the analytic KL(N(mu, sigma²) || N(0, I)) of Kingma & Welling (2014),
  "Auto-Encoding Variational Bayes", Appendix B, summed over latent dims, averaged over the batch;
- classification: cross-entropy of the classifier on the rows with a label (target >= 0)
  only, the explicit classification term of Kingma et al. (2014), "Semi-Supervised Learning
  with Deep Generative Models", eq. 9 (its alpha is our label_weight). Unlabeled rows add
  nothing to it; a batch without labels gives exactly 0 (not NaN).

Optional terms on the unlabeled rows (0 weight = off): `unlabeled_weight` × their mean
classifier entropy, and `consistency_weight` × `pseudo_label_loss` of jittered copies of
them (FixMatch, Sohn et al. 2020: the class predicted on the plain image, where the
classifier is sure enough, is the target of the jittered one; made by
ssvae.train.session_loop.batch_loss).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ssvae.config import SSVAEConfig
from ssvae.nn.model import SSVAEOutput


@dataclass
class LossTerms:
    total: torch.Tensor  # scalar, what is back-propagated
    reconstruction: torch.Tensor  # scalar, per image
    kl: torch.Tensor  # scalar, per image
    classification: torch.Tensor  # scalar, per labeled image; 0 when none
    accuracy: torch.Tensor  # scalar, over labeled rows; NaN when none
    n_labeled: int = 0


def ssvae_loss(
    out: SSVAEOutput,
    x: torch.Tensor,
    targets: torch.Tensor,
    config: SSVAEConfig,
    jittered: tuple[torch.Tensor, torch.Tensor] | None = None,
    prior: ClassPrior | None = None,
    spread: torch.Tensor | None = None,
) -> LossTerms:
    """Loss terms of one batch; `targets` is int64 [B] with -1 for unlabeled rows.

    `jittered` = (rows, logits): the class logits of jittered copies of the unlabeled rows
    whose plain logits are `out.class_logits[rows]` (the consistency term's pseudo-labels;
    `prior`, when given, aligns them, see `pseudo_label_loss`); `spread`: the spread classes
    of those rows (-1 = none), their targets where the plain view is not sure.
    """
    batch = x.shape[0]
    reconstruction = (
        F.binary_cross_entropy_with_logits(out.recon_logits, x, reduction="sum") / batch
    )
    kl = -0.5 * torch.sum(1 + out.logvar - out.mu.pow(2) - out.logvar.exp()) / batch
    if out.class_rows is not None:  # the classifier read these rows only
        targets = targets[out.class_rows]
    labeled = targets >= 0
    n_labeled = int(labeled.sum())
    if n_labeled:
        logits, wanted = out.class_logits[labeled], targets[labeled]
        classification = F.cross_entropy(logits, wanted, label_smoothing=config.label_smoothing)
        accuracy = (logits.argmax(dim=1) == wanted).float().mean().detach()
    else:
        classification = out.class_logits.new_zeros(())
        accuracy = out.class_logits.new_full((), float("nan"))
    total = weighted_total(config, reconstruction, kl, classification)
    if config.unlabeled_weight > 0 and n_labeled < len(targets):
        total = total + config.unlabeled_weight * mean_entropy(out.class_logits[~labeled])
    if config.consistency_weight > 0 and jittered is not None:
        rows, logits = jittered
        plain = out.class_logits[rows].detach()
        pseudo = pseudo_label_loss(
            plain,
            logits,
            config.consistency_threshold,
            prior,
            spread,
            config.propagation_weight,
        )
        total = total + config.consistency_weight * pseudo
    return LossTerms(total, reconstruction, kl, classification, accuracy, n_labeled)


def weighted_total(config: SSVAEConfig, reconstruction: Any, kl: Any, classification: Any) -> Any:
    """The objective from its terms (tensors or floats): the one place the weights apply.

    Validation calls this on terms averaged over the whole split.
    """
    return (
        config.recon_weight * reconstruction
        + config.kl_weight * kl
        + config.label_weight * classification
    )


def mean_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Mean entropy of softmax(logits): entropy minimisation (Grandvalet & Bengio 2004)
    pushes unlabeled images away from the class boundaries."""
    log_p = F.log_softmax(logits, dim=1)
    return -(log_p.exp() * log_p).sum(dim=1).mean()


class ClassPrior:
    """Running mean of the classifier's predicted class shares on unlabeled images, for
    distribution alignment (ReMixMatch, Berthelot et al. 2020): pseudo-labels are divided
    by it and renormalised, so classes the model over-predicts early (few labels, unequal
    picks) do not snowball through their own pseudo-labels. The classes are taken to be
    equally common."""

    def __init__(self, momentum: float = 0.999) -> None:
        self.momentum = momentum
        self.shares: torch.Tensor | None = None

    def align(self, probs: torch.Tensor) -> torch.Tensor:
        batch = probs.mean(dim=0)
        if self.shares is None:
            self.shares = batch
        else:
            self.shares = self.momentum * self.shares + (1 - self.momentum) * batch
        aligned = probs / self.shares.clamp_min(1e-6)
        return aligned / aligned.sum(dim=1, keepdim=True)


def pseudo_label_loss(
    plain_logits: torch.Tensor,
    jittered_logits: torch.Tensor,
    threshold: float,
    prior: ClassPrior | None = None,
    spread: torch.Tensor | None = None,
    spread_weight: float = 0.0,
) -> torch.Tensor:
    """FixMatch's unlabeled term: cross-entropy of the jittered view against the class the
    plain view predicts, on the rows whose plain certainty (max softmax, after `prior`'s
    alignment when given) is >= `threshold`, averaged over all rows (so few sure rows give a
    small term, none gives 0).

    `spread` (int64 [R], -1 = none): classes spread from the labels along the images'
    neighbour graph (ssvae.data.pixel_graph). A row the classifier is not sure of takes its
    spread class as the target instead, weighted `spread_weight`: early on, when the
    classifier is sure of little, the neighbours of the labeled images still teach it."""
    probs = torch.softmax(plain_logits.detach(), dim=1)
    if prior is not None:
        probs = prior.align(probs)
    certainty, pseudo = probs.max(dim=1)
    sure = certainty >= threshold
    weight = sure.to(jittered_logits.dtype)
    if spread is not None and spread_weight > 0:
        guided = ~sure & (spread >= 0)
        pseudo = torch.where(guided, spread, pseudo)
        weight = weight + spread_weight * guided.to(weight.dtype)
    per_row = F.cross_entropy(jittered_logits, pseudo, reduction="none")
    return (per_row * weight).sum() / max(len(per_row), 1)
