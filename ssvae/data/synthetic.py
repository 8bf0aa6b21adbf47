"""Small, learnable generated datasets: for tests and `alctl simulate --quick` (no download).

Class c is a bright 6x6 square at a position set by c, plus noise, so a model can
learn it in an epoch or two and a check can see that training actually helps.
"""

from __future__ import annotations

import numpy as np

from ssvae.data.datasets import Dataset


def synthetic_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images [n, 28, 28] and uint8 labels [n], balanced over 10 classes."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 10).astype(np.uint8)
    rng.shuffle(labels)
    images = rng.integers(0, 40, size=(n, 28, 28), dtype=np.uint8)
    for c in range(10):
        row, col = 3 + 5 * (c // 5) * 2, 2 + 5 * (c % 5)
        images[labels == c, row : row + 6, col : col + 6] = 230
    return images, labels


def synthetic_dataset(n_train: int = 600, n_test: int = 200, seed: int = 0) -> Dataset:
    """An in-memory Dataset named "synthetic"."""
    train_x, train_y = synthetic_digits(n_train, seed)
    test_x, test_y = synthetic_digits(n_test, seed + 1)
    return Dataset(
        name="synthetic",
        train_images=train_x,
        train_targets=train_y.astype(np.int64),
        test_images=test_x,
        test_targets=test_y.astype(np.int64),
        class_names=[f"square {c}" for c in range(10)],
        source="generated squares (ssvae.data.synthetic)",
    )
