"""Model-free image features for the queue's "typical" strategy: the pixels' principal
components.

TypiClust clusters an embedding in which classes separate. A 2-D VAE latent folds several
Fashion-MNIST classes (shirt, pullover, coat) onto one region; the first 20 principal
components of the pixels keep them apart better (docs/EXPERIMENTS.md: the 100 most typical
images of label-free clusters name the class of 70 % of the training images by their
nearest one, 52 % in the latent), and they need no model, so the queue is meaningful
before the first training.
"""

from __future__ import annotations

import threading

import numpy as np

PCA_DIMS = 20

FIT_SAMPLE = 5000  # images the components are fitted on (seeded), enough for 20 components


def pixel_pca(images: np.ndarray, dims: int = PCA_DIMS, seed: int = 0) -> np.ndarray:
    """float32 [N, dims]: images [N, 28, 28] uint8 projected on the first `dims` principal
    components of a seeded sample of them (about half a second for 60k images)."""
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[0] < 2:
        raise ValueError(f"want images [N >= 2, H, W], got {images.shape}")
    n = images.shape[0]
    flat = images.reshape(n, -1)
    rng = np.random.default_rng(seed)
    sample = flat[rng.choice(n, min(n, FIT_SAMPLE), replace=False)].astype(np.float32) / 255
    mean = sample.mean(axis=0)
    _, _, vt = np.linalg.svd(sample - mean, full_matrices=False)
    basis = vt[:dims].T.astype(np.float32)
    out = np.empty((n, basis.shape[1]), np.float32)
    for start in range(0, n, 8192):
        block = flat[start : start + 8192].astype(np.float32) / 255
        out[start : start + 8192] = (block - mean) @ basis
    return out


class PixelFeatures:
    """`pixel_pca` of one image set, computed on first use and kept (thread-safe): the server's
    queue and its warm-up thread share one copy."""

    def __init__(self, images: np.ndarray) -> None:
        self._images = images
        self._lock = threading.Lock()
        self._features: np.ndarray | None = None

    def get(self) -> np.ndarray:
        with self._lock:
            if self._features is None:
                self._features = pixel_pca(self._images)
            return self._features
