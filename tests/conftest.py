"""Shared fixtures: small generated IDX datasets and throwaway workspaces."""

from __future__ import annotations

# Before anything below imports numpy: this process's threads compute with numpy (in-process
# servers) while it forks CLI children, and its children inherit the setting.
from ssvae.config.blas import one_blas_thread

one_blas_thread()

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.datagen import write_synthetic_idx
from tests.live_server import LiveServer, running_server


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 600/200-image MNIST-named IDX dataset (plain files)."""
    return write_synthetic_idx(tmp_path_factory.mktemp("idx"), n_train=600, n_test=200)


@pytest.fixture(scope="session")
def tiny_data_dir_gz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same kind of dataset, gzipped."""
    return write_synthetic_idx(tmp_path_factory.mktemp("idxgz"), n_train=600, n_test=200, gz=True)


@pytest.fixture()
def torch_one_thread() -> Iterator[None]:
    """Run a test with torch on one thread, restoring the previous setting after."""
    import torch  # here, not at the top: most tests never need torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture()
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


@pytest.fixture(autouse=True)
def _offline_and_quiet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Tests never download: point the dataset cache at an empty dir and forbid downloads.
    monkeypatch.setenv("ALCTL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ALCTL_NO_DOWNLOAD", "1")
    monkeypatch.delenv("ALCTL_DATA_DIR", raising=False)
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture()
def live_server(tiny_data_dir: Path, workspace: Path) -> Iterator[LiveServer]:
    """`alctl serve` as a real subprocess on a free port; stopped with SIGINT (must exit)."""
    with running_server(workspace, tiny_data_dir) as server:
        yield server


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A browser test fails at once, with the fix in one line, when Chromium, the page's
    vendored scripts or playwright are missing; `-m 'not browser'` deselects them."""
    if item.get_closest_marker("browser") is not None:
        from tests.browser import browser_problem

        problem = browser_problem()
        if problem is not None:
            pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per browser test module, with the settings of tests/browser.py."""
    from tests.browser import launched_chromium

    with launched_chromium() as instance:
        yield instance
