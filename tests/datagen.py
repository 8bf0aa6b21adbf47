"""Small, learnable IDX datasets that tests generate instead of downloading MNIST.

The images come from ssvae.data.synthetic (class c is a bright square at a position set by c).
"""

from __future__ import annotations

from pathlib import Path

from ssvae.data.idx import write_idx
from ssvae.data.synthetic import synthetic_digits

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


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


def seed_labels(workspace: Path, count: int, dataset: str = "mnist") -> Path:
    """Label serials 0..count-1 as serial % 10 in the workspace's CSV (created); its path."""
    labels = workspace / "data" / dataset / "labels.csv"
    labels.parent.mkdir(parents=True, exist_ok=True)
    labels.write_text("Serial,label\n" + "".join(f"{i},{i % 10}\n" for i in range(count)))
    return labels
