"""How training sees the data: a fixed validation split and mixed labeled/unlabeled batches.

Images stay uint8 on the training device and batches are gathered with one index
operation each; no DataLoader, no per-item Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from ssvae.config import LABEL_WORDS, N_CLASSES
from ssvae.data.augment import jitter
from ssvae.nn.model import to_input


def validation_split(n: int, val_split: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, val_idx): a subset fixed by (n, seed), the same in every session."""
    n_val = int(n * val_split)
    if val_split > 0 and n_val == 0 and n >= 10:
        n_val = 1
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


class Batch(NamedTuple):
    """One training step's rows."""

    x: torch.Tensor  # float [B, 1, 28, 28]
    y: torch.Tensor  # int64 [B], -1 = unlabeled
    spread: torch.Tensor  # int64 [B]: a class spread from the labels (pixel_graph), -1 = none


@dataclass
class TrainingData:
    """Images, labels and index sets on one device."""

    images: torch.Tensor  # uint8 [N, 28, 28]
    labels: torch.Tensor  # int64 [N], -1 = unlabeled
    train_idx: torch.Tensor  # int64
    val_idx: torch.Tensor  # int64
    labeled_idx: torch.Tensor  # int64, every labeled row (validation ones too)
    # Labeled rows kept out of the class terms for now (their labels read -1 until `release`):
    # the check labels a session calibrates its certainty on (ssvae.train.session_loop).
    withheld: torch.Tensor | None = None
    # Classes spread from the trained labels to unlabeled rows (-1 = none; see `spread_from`).
    spread: torch.Tensor | None = None
    _all_labels: torch.Tensor | None = None
    _all_labeled: torch.Tensor | None = None

    @classmethod
    def build(
        cls,
        images: np.ndarray | torch.Tensor,
        labels: np.ndarray | torch.Tensor,
        *,
        val_split: float,
        seed: int,
        device: torch.device,
    ) -> TrainingData:
        images_t = torch.as_tensor(images)
        labels_t = torch.as_tensor(labels)
        check_inputs(images_t, labels_t)
        train_idx, val_idx = validation_split(images_t.shape[0], val_split, seed)
        labels_np = labels_t.numpy() if labels_t.device.type == "cpu" else labels_t.cpu().numpy()
        # Every label trains, also one on an image of the validation split: with ~100 labels
        # none can be spared. Validation keeps its images for the unsupervised terms.
        labeled = np.flatnonzero(labels_np >= 0)

        def dev(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64)).to(device)

        return cls(
            images_t.to(device),
            labels_t.to(device=device, dtype=torch.int64),
            dev(train_idx),
            dev(val_idx),
            dev(labeled),
        )

    @property
    def all_labels(self) -> torch.Tensor:
        """The labels, the withheld ones included."""
        return self.labels if self._all_labels is None else self._all_labels

    def withhold(self, rows: np.ndarray) -> None:
        """Keep labeled `rows` out of training until `release()`."""
        rows_t = torch.from_numpy(np.asarray(rows, dtype=np.int64)).to(self.labels.device)
        self._all_labels, self._all_labeled = self.labels, self.labeled_idx
        self.labels = self.labels.clone()
        self.labels[rows_t] = -1
        self.labeled_idx = torch.from_numpy(
            np.setdiff1d(self.labeled_idx.cpu().numpy(), rows_t.cpu().numpy())
        ).to(self.labeled_idx.device)
        self.withheld = rows_t

    def release(self) -> None:
        """Every label trains from now on."""
        if self._all_labels is not None and self._all_labeled is not None:
            self.labels, self.labeled_idx = self._all_labels, self._all_labeled
        self.withheld = self._all_labels = self._all_labeled = None

    def spread_from(self, classes: np.ndarray) -> None:
        """Set the spread classes (int [N], -1 = none); labeled rows never carry one."""
        spread = torch.from_numpy(np.asarray(classes, dtype=np.int64)).to(self.labels.device)
        self.spread = torch.where(self.all_labels >= 0, -1, spread)

    def batches_per_epoch(self, batch_size: int) -> int:
        return -(-int(self.train_idx.numel()) // batch_size)

    def train_batches(
        self,
        batch_size: int,
        labeled_batch_size: int,
        generator: torch.Generator,
        augment: str = "none",
    ) -> Iterator[Batch]:
        """Shuffled batches; each gets `labeled_batch_size` labeled rows drawn
        with replacement, so even 10 labels shape every step. `augment` ("none", "shift",
        "shift_mirror") jitters those labeled rows (ssvae.data.augment)."""
        n = int(self.train_idx.numel())
        order = self.train_idx[torch.randperm(n, generator=generator).to(self.train_idx.device)]
        n_labeled = int(self.labeled_idx.numel())
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            spread = self.spread[idx] if self.spread is not None else torch.full_like(idx, -1)
            if n_labeled and labeled_batch_size:
                pick = torch.randint(n_labeled, (labeled_batch_size,), generator=generator)
                extra = self.labeled_idx[pick.to(idx.device)]
                spread = torch.cat([spread, torch.full_like(extra, -1)])
                if augment != "none":
                    images = torch.cat(
                        [
                            self.images[idx],
                            jitter(self.images[extra], generator, mirror=augment == "shift_mirror"),
                        ]
                    )
                    labels = torch.cat([self.labels[idx], self.labels[extra]])
                    yield Batch(to_input(images), labels, spread)
                    continue
                idx = torch.cat([idx, extra])
            yield Batch(to_input(self.images[idx]), self.labels[idx], spread)

    def val_batches(self, batch_size: int = 2048) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Validation images without their labels: those train (classification is measured
        on the test split)."""
        for start in range(0, int(self.val_idx.numel()), batch_size):
            idx = self.val_idx[start : start + batch_size]
            yield to_input(self.images[idx]), torch.full_like(self.labels[idx], -1)


def check_inputs(images: torch.Tensor, labels: torch.Tensor) -> None:
    """ValueError unless images are uint8 [N, 28, 28] and labels int [N] in -1..9."""
    if images.dtype != torch.uint8 or images.dim() != 3 or tuple(images.shape[1:]) != (28, 28):
        raise ValueError(
            f"images must be uint8 [N, 28, 28], got {images.dtype} {tuple(images.shape)}"
        )
    if images.shape[0] < 2:
        raise ValueError(f"need at least 2 images to train, got {images.shape[0]}")
    if labels.dim() != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"labels must be [N] with N = {images.shape[0]} images, got {tuple(labels.shape)}"
        )
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(f"labels must be integers (-1 = unlabeled), got {labels.dtype}")
    if labels.numel() and (int(labels.min()) < -1 or int(labels.max()) >= N_CLASSES):
        raise ValueError(f"labels must be -1 (unlabeled) or {LABEL_WORDS}")
