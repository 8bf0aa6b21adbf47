"""Small, learnable IDX datasets that tests generate instead of downloading MNIST.

Class c is a bright 6x6 square at a position set by c, plus noise, so a model can
learn it in an epoch or two and tests can check that training actually helps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ssvae.idx import write_idx

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def synthetic_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 10).astype(np.uint8)
    rng.shuffle(labels)
    images = rng.integers(0, 40, size=(n, 28, 28), dtype=np.uint8)
    for c in range(10):
        row, col = 3 + 5 * (c // 5) * 2, 2 + 5 * (c % 5)
        images[labels == c, row : row + 6, col : col + 6] = 230
    return images, labels


def write_synthetic_idx(
    directory: Path, n_train: int = 600, n_test: int = 200, *, gz: bool = False, seed: int = 0
) -> Path:
    """Write the four MNIST-named IDX files into `directory` and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    train_x, train_y = synthetic_digits(n_train, seed)
    test_x, test_y = synthetic_digits(n_test, seed + 1)
    write_idx(directory / (FILES["train_images"] + suffix), train_x)
    write_idx(directory / (FILES["train_labels"] + suffix), train_y)
    write_idx(directory / (FILES["test_images"] + suffix), test_x)
    write_idx(directory / (FILES["test_labels"] + suffix), test_y)
    return directory
