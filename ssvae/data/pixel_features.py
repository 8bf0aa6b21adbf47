"""Model-free image features for the queue's "typical" strategy: the pixels' principal
components.

TypiClust clusters an embedding in which classes separate. A 2-D VAE latent folds several
Fashion-MNIST classes (shirt, pullover, coat) onto one region; the first 20 principal
components of the pixels keep them apart better (docs/EXPERIMENTS.md: the 100 most typical
images of label-free clusters name the class of 70 % of the training images by their
nearest one, 52 % in the latent), and they need no model, so the queue is meaningful
before the first training.

The components come from the covariance of a seeded sample (an eigendecomposition of 784 ×
784: a fifth of a second, where an SVD of the sample took a second), in steps that call
`pace()` between them when given one: the server's background caller pauses there while a
training session runs and stops there when the server stops.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

PCA_DIMS = 20

FIT_SAMPLE = 5000  # images the components are fitted on (seeded), enough for 20 components
BLOCK = 8192  # rows projected at a time (bounded memory; a pace point between blocks)
COVARIANCE_BLOCK = 1000  # sample rows per step of the covariance
# What names these features where they are kept (ssvae.io.queue_cache): other settings or
# another method make other features.
RECIPE = f"pixel-pca-cov dims={PCA_DIMS} fit={FIT_SAMPLE} seed=0"


def pixel_pca(
    images: np.ndarray,
    dims: int = PCA_DIMS,
    seed: int = 0,
    pace: Callable[[], None] | None = None,
) -> np.ndarray:
    """float32 [N, dims]: images [N, 28, 28] uint8 projected on the first `dims` principal
    components of a seeded sample of them (about a third of a second for 60k images)."""
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[0] < 2:
        raise ValueError(f"want images [N >= 2, H, W], got {images.shape}")
    step = pace or (lambda: None)
    n = images.shape[0]
    flat = images.reshape(n, -1)
    rng = np.random.default_rng(seed)
    sample = flat[rng.choice(n, min(n, FIT_SAMPLE), replace=False)].astype(np.float64) / 255
    mean = sample.mean(axis=0)
    sample -= mean
    covariance = np.zeros((sample.shape[1], sample.shape[1]))
    for start in range(0, len(sample), COVARIANCE_BLOCK):
        step()
        block = sample[start : start + COVARIANCE_BLOCK]
        covariance += block.T @ block
    step()
    _, vectors = np.linalg.eigh(covariance)  # ascending eigenvalues
    basis = vectors[:, ::-1][:, :dims]
    # A component's sign is arbitrary: make each one's largest entry positive.
    basis = basis * np.sign(basis[np.abs(basis).argmax(axis=0), np.arange(basis.shape[1])])
    basis, mean = basis.astype(np.float32), mean.astype(np.float32)
    out = np.empty((n, basis.shape[1]), np.float32)
    for start in range(0, n, BLOCK):
        step()
        block = flat[start : start + BLOCK].astype(np.float32) / 255
        out[start : start + BLOCK] = (block - mean) @ basis
    return out


def queue_features(images: np.ndarray, pace: Callable[[], None] | None = None) -> np.ndarray:
    """The features "typical" clusters, made as RECIPE says (ssvae.io.queue_cache keeps them)."""
    return pixel_pca(images, pace=pace)


class PixelFeatures:
    """`pixel_pca` of one image set, computed on first use and kept (thread-safe): the
    simulation's rounds share one copy."""

    def __init__(self, images: np.ndarray) -> None:
        self._images = images
        self._lock = threading.Lock()
        self._features: np.ndarray | None = None

    def get(self) -> np.ndarray:
        with self._lock:
            if self._features is None:
                self._features = pixel_pca(self._images)
            return self._features
