"""Dataset loading: IDX files (gz or not), search order, shape checks, clear errors."""

from __future__ import annotations

import gzip
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from ssvae.data import datasets as data
from ssvae.data.datasets import DataError, DataNotFoundError, load_dataset
from ssvae.data.download import (
    DownloadError,
    forget_failure,
    probe,
    recent_failure,
    remember_failure,
)
from ssvae.data.idx import read_idx, write_idx
from tests.datagen import FILES, write_synthetic_idx


def test_plain_and_gzipped_idx_give_the_same_arrays(
    tiny_data_dir: Path, tiny_data_dir_gz: Path
) -> None:
    plain = load_dataset("mnist", tiny_data_dir)
    packed = load_dataset("mnist", tiny_data_dir_gz)
    assert plain.train_images.shape == (600, 28, 28) and plain.train_images.dtype == np.uint8
    assert plain.train_targets.shape == (600,) and plain.train_targets.dtype == np.int64
    assert plain.test_images.shape == (200, 28, 28) and plain.test_targets.dtype == np.int64
    np.testing.assert_array_equal(plain.train_images, packed.train_images)
    np.testing.assert_array_equal(plain.test_targets, packed.test_targets)
    assert plain.class_names == [str(d) for d in range(10)]
    assert str(tiny_data_dir) in plain.source


def test_idx_round_trip_and_gzip_detected_by_content(tmp_path: Path) -> None:
    array = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    write_idx(tmp_path / "a", array, compress=True)  # gzipped without a .gz name
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), array)


def test_truncated_file_is_an_error_naming_it(tmp_path: Path) -> None:
    write_synthetic_idx(tmp_path, 50, 20)
    victim = tmp_path / FILES["train_images"]
    victim.write_bytes(victim.read_bytes()[:-100])
    with pytest.raises(DataError, match=str(victim)):
        load_dataset("mnist", tmp_path)


def test_truncated_gzip_is_an_error_naming_it(tmp_path: Path) -> None:
    write_synthetic_idx(tmp_path, 50, 20, gz=True)
    victim = tmp_path / (FILES["test_labels"] + ".gz")
    victim.write_bytes(victim.read_bytes()[:20])
    with pytest.raises(DataError, match="t10k-labels"):
        load_dataset("mnist", tmp_path)


def test_mismatched_counts_are_rejected(tmp_path: Path) -> None:
    write_synthetic_idx(tmp_path, 50, 20)
    write_idx(tmp_path / FILES["train_labels"], np.zeros(49, np.uint8))
    with pytest.raises(DataError, match="50 images but 49 labels"):
        load_dataset("mnist", tmp_path)


def test_wrong_image_shape_is_rejected(tmp_path: Path) -> None:
    write_synthetic_idx(tmp_path, 50, 20)
    write_idx(tmp_path / FILES["test_images"], np.zeros((20, 32, 32), np.uint8))
    with pytest.raises(DataError, match=r"\[N, 28, 28\]"):
        load_dataset("mnist", tmp_path)


def test_labels_outside_0_9_are_rejected(tmp_path: Path) -> None:
    write_synthetic_idx(tmp_path, 50, 20)
    write_idx(tmp_path / FILES["train_labels"], np.full(50, 12, np.uint8))
    with pytest.raises(DataError, match="0-9"):
        load_dataset("mnist", tmp_path)


def test_explicit_data_dir_must_hold_the_files(tmp_path: Path) -> None:
    write_synthetic_idx(tmp_path / "partial", 50, 20)
    (tmp_path / "partial" / FILES["test_labels"]).unlink()
    with pytest.raises(DataNotFoundError, match="missing: t10k-labels-idx1-ubyte"):
        load_dataset("mnist", tmp_path / "partial")
    with pytest.raises(DataNotFoundError, match="does not exist"):
        load_dataset("mnist", tmp_path / "nowhere")


def test_torchvision_and_named_layouts_qualify(tmp_path: Path) -> None:
    write_synthetic_idx(tmp_path / "root" / "MNIST" / "raw", 50, 20, gz=True)
    assert load_dataset("mnist", tmp_path / "root").n_train == 50
    write_synthetic_idx(tmp_path / "many" / "fashion-mnist", 30, 20)
    ds = load_dataset("fashion-mnist", tmp_path / "many")
    assert ds.n_train == 30 and ds.class_names[0] == "T-shirt/top"


def test_search_order_env_then_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("ALCTL_CACHE_DIR", str(cache))
    write_synthetic_idx(cache / "mnist", 40, 20)
    assert load_dataset("mnist").n_train == 40
    write_synthetic_idx(tmp_path / "env", 70, 20)
    monkeypatch.setenv("ALCTL_DATA_DIR", str(tmp_path / "env"))
    assert load_dataset("mnist").n_train == 70  # env beats the cache
    write_synthetic_idx(tmp_path / "arg", 90, 20)
    assert load_dataset("mnist", tmp_path / "arg").n_train == 90  # the argument beats both


def test_not_found_lists_places_and_three_fixes(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError) as info:
        load_dataset("mnist")
    message = str(info.value)
    assert str(tmp_path / "cache" / "mnist") in message  # the cache the fixture points at
    assert "ALCTL_NO_DOWNLOAD" in message
    assert "(1) go online once" in message and "(2) pass --data-dir" in message
    assert "(3)" in message and "dataset-fashion-mnist" in message
    assert "\n" not in message


def test_fashion_not_found_suggests_apt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(data, "_SYSTEM_DIRS", {"fashion-mnist": tmp_path / "no-system-copy"})
    with pytest.raises(DataNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion-mnist", download=False)


def test_auto_prefers_mnist_then_local_fashion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data, "_SYSTEM_DIRS", {"fashion-mnist": tmp_path / "no-system-copy"})
    cache = tmp_path / "cache"
    write_synthetic_idx(cache / "fashion-mnist", 30, 20)
    chosen = load_dataset("auto")
    assert chosen.name == "fashion-mnist" and "MNIST not available" in chosen.source
    write_synthetic_idx(cache / "mnist", 40, 20)
    assert load_dataset("auto").name == "mnist"
    shutil.rmtree(cache)
    with pytest.raises(DataNotFoundError, match="mnist not found"):
        load_dataset("auto")


def test_unknown_dataset_name() -> None:
    with pytest.raises(DataError, match="unknown dataset 'cifar'"):
        load_dataset("cifar")


def test_download_probe_fails_fast_on_a_closed_port() -> None:
    started = time.perf_counter()
    with pytest.raises(DownloadError, match=r"cannot reach 127\.0\.0\.1"):
        probe("127.0.0.1", 9)  # discard port: nothing listens there
    assert time.perf_counter() - started < 2


def test_failure_memory(tmp_path: Path) -> None:
    cache = tmp_path / "mnist"
    assert recent_failure(cache, "mnist") is None
    remember_failure(cache, "no answer from example.org within 5 s")
    reason = recent_failure(cache, "mnist")
    assert reason and "no answer from example.org" in reason and "--dataset mnist" in reason
    forget_failure(cache)
    assert recent_failure(cache, "mnist") is None


def test_auto_does_not_retry_a_recent_failed_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALCTL_NO_DOWNLOAD")  # downloads allowed: only the memory can skip it
    monkeypatch.setattr(data, "_SYSTEM_DIRS", {"fashion-mnist": tmp_path / "no-system-copy"})
    cache = tmp_path / "cache"
    write_synthetic_idx(cache / "fashion-mnist", 30, 20)
    remember_failure(cache / "mnist", "cannot reach the mirror")
    started = time.perf_counter()
    assert load_dataset("auto").name == "fashion-mnist"
    assert data.dataset_size("auto") == ("fashion-mnist", 30)
    assert time.perf_counter() - started < 2, "the network must not be tried again"
    shutil.rmtree(cache / "fashion-mnist")
    with pytest.raises(DataNotFoundError, match="download: skipped: it failed"):
        load_dataset("auto")


def test_debians_fashion_mnist_loads_whole_and_as_itself() -> None:
    # How fast it loads is benchmarks/bench_library.py's first row, not a test's business.
    system = Path("/usr/share/datasets/fashion-mnist")
    if not (system / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    ds = load_dataset("fashion-mnist", system)
    assert ds.train_images.shape == (60000, 28, 28) and ds.test_images.shape == (10000, 28, 28)
    assert data.published_as(system) == "fashion-mnist"
    assert load_dataset("auto", system, download=False).name == "fashion-mnist"


def test_gzip_magic_not_name_decides(tmp_path: Path) -> None:
    write_synthetic_idx(tmp_path, 30, 20)
    name = tmp_path / FILES["train_labels"]
    raw = name.read_bytes()
    name.unlink()
    (tmp_path / (FILES["train_labels"] + ".gz")).write_bytes(gzip.compress(raw))
    assert load_dataset("mnist", tmp_path).n_train == 30


def test_dataset_size_reads_only_the_header(tiny_data_dir_gz: Path, tmp_path: Path) -> None:
    assert data.dataset_size("mnist", tiny_data_dir_gz) == ("mnist", 600)
    write_synthetic_idx(tmp_path / "cache" / "fashion-mnist", 30, 20)
    with pytest.raises(DataNotFoundError, match="mnist not found"):
        data.dataset_size("mnist")
    name, n = data.dataset_size("auto")
    assert name == "fashion-mnist" and n in (30, 60000)  # the cache, or Debian's copy first


def test_read_idx_shape(tmp_path: Path) -> None:
    from ssvae.data.idx import IDXError, read_idx_shape

    write_idx(tmp_path / "x.gz", np.zeros((3, 28, 28), np.uint8))
    write_idx(tmp_path / "y", np.zeros(5, np.uint8))
    assert read_idx_shape(tmp_path / "x.gz") == (3, 28, 28)
    assert read_idx_shape(tmp_path / "y") == (5,)
    (tmp_path / "z").write_bytes(b"\x00\x00\x08\x03\x00")
    with pytest.raises(IDXError, match="truncated header"):
        read_idx_shape(tmp_path / "z")


def _published_lookalike(directory: Path, name: str, gz: bool = True) -> Path:
    """Generated IDX files whose first labels are those of the published `name` files."""
    write_synthetic_idx(directory, 40, 20, gz=gz)
    suffix = ".gz" if gz else ""
    train, test = data.PUBLISHED_LABELS[name]
    for stem, first in ((FILES["train_labels"], train), (FILES["test_labels"], test)):
        labels = read_idx(directory / (stem + suffix))
        labels[:12] = np.frombuffer(first, np.uint8)
        write_idx(directory / (stem + suffix), labels)
    return directory


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_files_are_never_read_as_mnist(tmp_path: Path, gz: bool) -> None:
    fashion = _published_lookalike(tmp_path / "fm", "fashion-mnist", gz)
    assert data.published_as(fashion) == "fashion-mnist"
    with pytest.raises(
        DataNotFoundError, match=r"holds Fashion-MNIST's IDX files.*--dataset fashion-mnist"
    ):
        load_dataset("mnist", fashion, download=False)
    chosen = load_dataset("auto", fashion, download=False)  # MNIST first, but these are not
    assert chosen.name == "fashion-mnist" and "MNIST not available" in chosen.source
    assert chosen.class_names[0] == "T-shirt/top"
    assert load_dataset("fashion-mnist", fashion, download=False).name == "fashion-mnist"


def test_mnist_files_are_never_read_as_fashion_and_others_are_what_is_asked(
    tmp_path: Path,
) -> None:
    mnist = _published_lookalike(tmp_path / "m", "mnist")
    assert data.published_as(mnist) == "mnist"
    with pytest.raises(DataNotFoundError, match=r"holds MNIST's IDX files.*--dataset mnist"):
        load_dataset("fashion-mnist", mnist, download=False)
    assert load_dataset("auto", mnist, download=False).name == "mnist"
    generated = write_synthetic_idx(tmp_path / "g", 40, 20)  # neither: taken as named
    assert data.published_as(generated) is None
    assert load_dataset("fashion-mnist", generated, download=False).name == "fashion-mnist"
    assert load_dataset("mnist", generated, download=False).name == "mnist"
