"""Datasets (MNIST, Fashion-MNIST) from IDX files on disk, or torchvision's download.

Preprocessing: none at load time. Images stay `uint8 [N, 28, 28]` in memory
(47 MB for 60k) and targets `int64 [N]`; the model turns a batch into
`x = images.float() / 255` shaped `[B, 1, 28, 28]` (values in [0, 1], no
normalisation, no augmentation). The 60k training split is what users label and
train on (its row index is the label CSV's Serial); the 10k test split is only
for evaluation.

Search order for one dataset: the `data_dir` argument (when given it must hold
the files), env `ALCTL_DATA_DIR`, the cache `$ALCTL_CACHE_DIR/<name>` (default
`~/.cache/alctl/<name>`), for fashion-mnist Debian's `/usr/share/datasets/fashion-mnist`,
then a torchvision download into the cache unless `download=False` or env
`ALCTL_NO_DOWNLOAD` is set. A directory qualifies when it holds the four standard IDX
names (each optionally `.gz`) directly, under `<dir>/<name>/`, or under
`<dir>/<TorchvisionName>/raw/`.

This module imports numpy only; torchvision is imported inside the download path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ssvae.data.download import (
    DownloadError,
    download_idx,
    forget_failure,
    recent_failure,
    remember_failure,
)
from ssvae.data.idx import IDXError, read_idx, read_idx_head, read_idx_shape

DATASETS = ("mnist", "fashion-mnist")
IDX_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CLASS_NAMES: dict[str, list[str]] = {
    "mnist": [str(d) for d in range(10)],
    "fashion-mnist": [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
}
_TORCHVISION_NAMES = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
_DISPLAY = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
_SYSTEM_DIRS = {"fashion-mnist": Path("/usr/share/datasets/fashion-mnist")}
# The first 12 training and test labels of the published files. Both datasets ship the same
# IDX names, format and sizes, so these tell a directory of one from the other's: Fashion-MNIST
# is never read (or shown) as MNIST, nor the other way round.
PUBLISHED_LABELS: dict[str, tuple[bytes, bytes]] = {
    "mnist": (
        bytes([5, 0, 4, 1, 9, 2, 1, 3, 1, 4, 3, 5]),
        bytes([7, 2, 1, 0, 4, 1, 4, 9, 5, 9, 0, 6]),
    ),
    "fashion-mnist": (
        bytes([9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9]),
        bytes([9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5]),
    ),
}


class DataError(Exception):
    """A dataset that cannot be loaded (bad files, bad shapes); the message says which file."""


class DataNotFoundError(DataError):
    """No copy of the dataset anywhere we looked; the message lists the places and the fixes."""


@dataclass
class Dataset:
    """One dataset in memory: uint8 images, int64 targets, and where it came from."""

    name: str
    train_images: np.ndarray  # uint8 [N, 28, 28]
    train_targets: np.ndarray  # int64 [N]
    test_images: np.ndarray  # uint8 [M, 28, 28]
    test_targets: np.ndarray  # int64 [M]
    class_names: list[str]
    source: str  # human text, e.g. "IDX files in /usr/share/datasets/fashion-mnist"

    @property
    def n_train(self) -> int:
        return int(self.train_images.shape[0])

    def split(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(images, targets) of "train" or "test"."""
        if split == "train":
            return self.train_images, self.train_targets
        if split == "test":
            return self.test_images, self.test_targets
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def cache_dir(name: str) -> Path:
    """Where downloads go and where we look first after the explicit places."""
    base = os.environ.get("ALCTL_CACHE_DIR") or Path.home() / ".cache" / "alctl"
    return Path(base).expanduser() / name


def find_idx_dir(directory: Path, name: str) -> Path | None:
    """The directory holding all four IDX files for `name` inside `directory`, if any; files
    that are the other published dataset's do not count."""
    candidates = [directory, directory / name, directory / _TORCHVISION_NAMES[name] / "raw"]
    return next(
        (c for c in candidates if _missing_files(c) == [] and published_as(c) in (None, name)),
        None,
    )


def published_as(directory: Path) -> str | None:
    """Which published dataset the IDX files in `directory` are, by their first labels; None
    for any other files (generated, subsets, relabelled)."""
    try:
        heads = (
            read_idx_head(_idx_file(directory, "train-labels-idx1-ubyte"), 12),
            read_idx_head(_idx_file(directory, "t10k-labels-idx1-ubyte"), 12),
        )
    except (OSError, IDXError):
        return None
    return next((name for name, first in PUBLISHED_LABELS.items() if first == heads), None)


def load_dataset(
    name: str, data_dir: str | os.PathLike[str] | None = None, download: bool = True
) -> Dataset:
    """Load `name` ("mnist", "fashion-mnist" or "auto"); see the module docstring for where."""
    if name == "auto":
        return _load_auto(data_dir, download)
    return _load_one(name, data_dir, _download_blocked(download))


def _load_one(name: str, data_dir: str | os.PathLike[str] | None, blocked: str | None) -> Dataset:
    """Local copy, else a download unless `blocked` says why not."""
    try:
        found = find_local(name, data_dir)
    except DataNotFoundError:
        if data_dir is not None:  # an explicit directory must hold the files: no fallback
            raise
        download_error = blocked
        if download_error is None:
            try:
                raw = download_idx(cache_dir(name), _TORCHVISION_NAMES[name])
                if _missing_files(raw):
                    raise DownloadError(f"the download into {raw} lacks the IDX files")
                forget_failure(cache_dir(name))
                return read_idx_dataset(raw, name, f"downloaded by torchvision into {raw}")
            except DownloadError as exc:
                download_error = str(exc)
                remember_failure(cache_dir(name), download_error)
        looked = [str(p) for p in _local_places(name)]
        raise DataNotFoundError(_not_found_message(name, looked, download_error)) from None
    return read_idx_dataset(found, name, f"IDX files in {found}")


def find_local(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The directory of a local copy of `name` (search order as in `load_dataset`, no download)."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)} or auto")
    if data_dir is not None:
        directory = Path(data_dir).expanduser()
        found = find_idx_dir(directory, name)
        if found is None:
            raise DataNotFoundError(_bad_data_dir_message(directory, name))
        return found
    for directory in _local_places(name):
        found = find_idx_dir(directory, name)
        if found is not None:
            return found
    places = [str(p) for p in _local_places(name)]
    raise DataNotFoundError(_not_found_message(name, places, "not attempted (local copies only)"))


def read_idx_dataset(directory: Path, name: str, source: str) -> Dataset:
    """Read the four IDX files in `directory` and check their shapes and values."""
    arrays = []
    for stem in IDX_NAMES:
        path = _idx_file(directory, stem)
        try:
            arrays.append(read_idx(path))
        except (IDXError, OSError) as exc:
            raise DataError(f"cannot read {path}: {exc}") from exc
    train_x, train_y, test_x, test_y = arrays
    train_x, train_y = _checked_split(directory, "train", train_x, train_y)
    test_x, test_y = _checked_split(directory, "t10k", test_x, test_y)
    return Dataset(name, train_x, train_y, test_x, test_y, list(CLASS_NAMES[name]), source)


def _checked_split(
    directory: Path, prefix: str, images: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    where = f"{directory}/{prefix}-*"
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise DataError(
            f"{where}: images must be uint8 [N, 28, 28], got {images.dtype} {images.shape}"
        )
    if labels.ndim != 1:
        raise DataError(f"{where}: labels must be one-dimensional [N], got shape {labels.shape}")
    if labels.shape[0] != images.shape[0]:
        raise DataError(f"{where}: {images.shape[0]} images but {labels.shape[0]} labels")
    if images.shape[0] == 0:
        raise DataError(f"{where}: the split is empty")
    labels = labels.astype(np.int64)
    if labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{where}: labels must be 0-9, found {labels.min()}..{labels.max()}")
    return images, labels


def _load_auto(data_dir: str | os.PathLike[str] | None, download: bool) -> Dataset:
    # MNIST first (the classic), then a Fashion-MNIST that is already on disk. The
    # caller prints `source`, so the choice is never hidden.
    try:
        return _load_one(
            "mnist",
            data_dir,
            _download_blocked(download) or recent_failure(cache_dir("mnist"), "mnist"),
        )
    except DataNotFoundError as mnist_error:
        try:
            dataset = load_dataset("fashion-mnist", data_dir, download=False)
        except DataNotFoundError:
            raise mnist_error from None
        dataset.source = f"auto: MNIST not available, using Fashion-MNIST ({dataset.source})"
        return dataset


def _local_places(name: str) -> list[Path]:
    places = []
    if os.environ.get("ALCTL_DATA_DIR"):
        places.append(Path(os.environ["ALCTL_DATA_DIR"]).expanduser())
    places.append(cache_dir(name))
    if name in _SYSTEM_DIRS:
        places.append(_SYSTEM_DIRS[name])
    return places


def _idx_file(directory: Path, stem: str) -> Path:
    plain = directory / stem
    return plain if plain.is_file() else directory / (stem + ".gz")


def _missing_files(directory: Path) -> list[str]:
    return [s for s in IDX_NAMES if not _idx_file(directory, s).is_file()]


def _bad_data_dir_message(directory: Path, name: str) -> str:
    if not directory.is_dir():
        return f"--data-dir {directory} does not exist; give a directory holding the four IDX files"
    missing = _missing_files(directory)
    other = published_as(directory) if not missing else None
    if other is not None and other != name:
        return (
            f"--data-dir {directory} holds {_DISPLAY[other]}'s IDX files (their first labels are "
            f"the published {_DISPLAY[other]}'s), not {_DISPLAY[name]}'s: use --dataset {other}"
        )
    return (
        f"--data-dir {directory} does not hold the {name} IDX files (missing: "
        f"{', '.join(missing)}, each optionally .gz; also looked in {name}/ and "
        f"{_TORCHVISION_NAMES[name]}/raw/ under it)"
    )


def _not_found_message(name: str, looked: list[str], download_error: str) -> str:
    fixes = [
        f"go online once so torchvision can download it into {cache_dir(name)}",
        "pass --data-dir DIR (or set ALCTL_DATA_DIR) with the four IDX files "
        f"({', '.join(IDX_NAMES)}, gzipped or not)",
    ]
    if name == "fashion-mnist":
        fixes.append("on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist")
    else:
        fixes.append("or use --dataset fashion-mnist (apt-get install dataset-fashion-mnist)")
    return (
        f"{name} not found; looked in: {'; '.join(looked)}; download: {download_error}. "
        f"Fix: {' | '.join(f'({i}) {fix}' for i, fix in enumerate(fixes, 1))}"
    )


def _download_blocked(download: bool) -> str | None:
    if not download:
        return "not attempted (download=False)"
    if os.environ.get("ALCTL_NO_DOWNLOAD"):
        return "not attempted (ALCTL_NO_DOWNLOAD is set)"
    return None


def dataset_size(
    name: str, data_dir: str | os.PathLike[str] | None = None, download: bool = True
) -> tuple[str, int]:
    """(resolved name, number of training images) without loading the dataset.

    Same search and `auto` rule as `load_dataset`; reads only the train-images IDX header
    when the files are on disk (the CLI labels without paying for a full load).
    """
    if name == "auto":
        try:
            retry = download and recent_failure(cache_dir("mnist"), "mnist") is None
            return dataset_size("mnist", data_dir, retry)
        except DataNotFoundError as mnist_error:
            try:
                return dataset_size("fashion-mnist", data_dir, download=False)
            except DataNotFoundError:
                raise mnist_error from None
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)} or auto")
    places = [Path(data_dir).expanduser()] if data_dir is not None else _local_places(name)
    for directory in places:
        found = find_idx_dir(directory, name)
        if found is not None:
            path = _idx_file(found, IDX_NAMES[0])
            try:
                return name, int(read_idx_shape(path)[0])
            except IDXError as exc:
                raise DataError(f"cannot read {path}: {exc}") from exc
    # Not on disk: load_dataset downloads it or raises the full not-found message.
    return name, load_dataset(name, data_dir, download).n_train
