"""A damaged points cache is only a missing cache: `serve`, `suggest` and `decode` work on,
and the next save writes a good one (a truncated cache gave exit 70 "bug (BadZipFile)" and
stopped `alctl serve`; a directory there stopped it with a message naming a temp file)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from ssvae.io.points_cache import load_cache
from ssvae.io.workspace import Workspace
from tests.cli_support import invoke, trained_workspace
from tests.live_server import running_server

# How to damage a good cache of `size` bytes at `path`.
Damage = Callable[[Path], None]


def _truncate(fraction: float) -> Damage:
    def damage(path: Path) -> None:
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])

    damage.__name__ = f"truncated to {fraction:.1%}"
    return damage


def _garbage(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 40)


def _directory(path: Path) -> None:
    path.unlink()
    (path / "somebody's").mkdir(parents=True)  # not empty: it is kept


def _empty_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


HALF = _truncate(0.5)
QUICK = [HALF, _directory]
ALL = [
    _truncate(0.0),
    _truncate(0.001),
    _truncate(0.03),
    HALF,
    _truncate(0.99),
    _garbage,
    _directory,
    _empty_directory,
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> Path:
    """A workspace with a 1-epoch checkpoint and the cache that save wrote."""
    root = tmp_path_factory.mktemp("cache-ws")
    trained_workspace(root, tiny_data_dir)
    assert Workspace(root, "mnist").points_cache.is_file()
    return root


def _damaged_copy(trained: Path, tmp_path: Path, damage: Damage) -> Workspace:
    root = tmp_path / "ws"
    shutil.copytree(trained, root)
    ws = Workspace(root, "mnist")
    damage(ws.points_cache)
    return ws


def _cache_fits(ws: Workspace) -> bool:
    found = load_cache(ws.points_cache, dataset="mnist", n_samples=600, checkpoint=ws.checkpoint)
    return found is not None


@pytest.mark.parametrize("damage", ALL, ids=lambda d: d.__name__)
def test_suggest_and_decode_without_a_server(
    trained: Path, tiny_data_dir: Path, tmp_path: Path, damage: Damage
) -> None:
    ws = _damaged_copy(trained, tmp_path, damage)
    assert not _cache_fits(ws)
    args = ["--workspace", ws.root, "--data-dir", tiny_data_dir, "--dataset", "mnist"]
    for command in (("suggest", "-n", "3"), ("decode", "0", "0"), ("decode", "--grid", "2",
                    "--out", tmp_path / "grid.png")):  # fmt: skip
        done = invoke(*command, *args)
        assert done.code == 0 and not done.stderr.strip(), (command, done)


def _serve_and_train(ws: Workspace, tiny_data_dir: Path) -> str:
    with running_server(ws.root, tiny_data_dir) as server:
        assert server.api("GET", "/api/points").status == 200
        assert server.api("GET", "/api/queue?n=3").status == 200
        body = {"points": [[0, 0]], "space": "view"}
        assert server.api("POST", "/api/decode", body).status == 200
        done = invoke("train", "--epochs", 1, "--workspace", ws.root)
        assert done.code == 0, done
        return server.output()


def _check_served(trained: Path, tiny_data_dir: Path, tmp_path: Path, damage: Damage) -> None:
    ws = _damaged_copy(trained, tmp_path, damage)
    log = _serve_and_train(ws, tiny_data_dir)
    assert "Traceback" not in log, log
    if damage is _directory:  # somebody's directory stays; the server says so and serves on
        assert (ws.points_cache / "somebody's").is_dir()
        assert "warning: the points cache was not written" in log and str(ws.points_cache) in log
    else:  # the save after the session wrote a good cache again
        assert _cache_fits(ws)


@pytest.mark.parametrize("damage", QUICK, ids=lambda d: d.__name__)
def test_serve_starts_and_saves_over_a_damaged_cache(
    trained: Path, tiny_data_dir: Path, tmp_path: Path, damage: Damage
) -> None:
    _check_served(trained, tiny_data_dir, tmp_path, damage)


@pytest.mark.slow
@pytest.mark.parametrize("damage", [d for d in ALL if d not in QUICK], ids=lambda d: d.__name__)
def test_serve_over_every_damage(
    trained: Path, tiny_data_dir: Path, tmp_path: Path, damage: Damage
) -> None:
    _check_served(trained, tiny_data_dir, tmp_path, damage)
