"""The queue's model-free features: the pixels' principal components (ssvae.data.pixel_features)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ssvae.data.pixel_features import PixelFeatures, pixel_pca


def two_kinds(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noisy images of two kinds: a bright left half or a bright top half."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 2, n)
    images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    images[kind == 0, :, :14] += 200
    images[kind == 1, :14, :] += 200
    return images, kind


def kinds_split_by_first(feats: np.ndarray, kind: np.ndarray) -> bool:
    """Whether one threshold on the first component puts every image on its kind's side."""
    first = feats[:, 0]
    threshold = (first[kind == 0].mean() + first[kind == 1].mean()) / 2
    split = (first > threshold).astype(int)
    return bool(np.all(split == kind) or np.all(split != kind))


def test_the_first_component_tells_the_kinds_apart() -> None:
    images, kind = two_kinds()
    feats = pixel_pca(images, dims=5)
    assert feats.shape == (400, 5) and feats.dtype == np.float32
    assert kinds_split_by_first(feats, kind)
    # Ordered by variance, as principal components are.
    assert np.all(np.diff(feats.var(axis=0)) <= 1e-6)


def test_seeded_and_the_same_projection_past_the_first_block() -> None:
    images, kind = two_kinds(n=400)
    assert np.array_equal(pixel_pca(images, dims=3, seed=1), pixel_pca(images, dims=3, seed=1))
    images, kind = two_kinds(n=8300)
    # Rows are projected in blocks of 8192: those past the first land where the kind says.
    assert kinds_split_by_first(pixel_pca(images, dims=3), kind)


def test_bad_images_are_refused() -> None:
    with pytest.raises(ValueError, match="want images"):
        pixel_pca(np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="want images"):
        pixel_pca(np.zeros((10, 784), np.uint8))


def test_computed_once_for_every_thread() -> None:
    images, _ = two_kinds()
    features = PixelFeatures(images)
    got: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: got.append(features.get())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and all(g is got[0] for g in got)
    assert np.array_equal(got[0], pixel_pca(images))
