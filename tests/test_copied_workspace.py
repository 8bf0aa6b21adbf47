"""A copied workspace carries the original's server.json; the copy must not drive that server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from alctl.discovery import discovery_path
from ssvae.io.labels import LabelStore
from tests.cli_support import invoke
from tests.live_server import LiveServer, running_server


def _labels(ws: Path) -> dict[int, int]:
    return LabelStore(ws / "data" / "mnist" / "labels.csv", 600).read()


def test_a_copy_works_on_its_own_files(
    live_server: LiveServer, tiny_data_dir: Path, tmp_path: Path
) -> None:
    original = live_server.workspace
    assert live_server.api("PUT", "/api/labels/1", {"label": 1}).status == 200
    copy = tmp_path / "ws-copy"
    shutil.copytree(original, copy, symlinks=True)  # what `cp -rp ws ws-copy` does
    assert discovery_path(copy).exists()

    done = invoke("label", 50, 7, "--workspace", copy, "--data-dir", tiny_data_dir)
    assert done.code == 0, done
    assert "a copied workspace?" in done.stderr
    assert _labels(copy) == {1: 1, 50: 7}
    assert _labels(original) == {1: 1}  # the original's server and files saw nothing
    assert live_server.api("GET", "/api/labels").json()["labels"] == {"1": 1}
    status = invoke("status", "--workspace", copy, "--data-dir", tiny_data_dir)
    assert "none running (working on the files)" in status.stdout

    # And `serve` on the copy starts instead of refusing "already running".
    with running_server(copy, tiny_data_dir) as second:
        assert second.api("GET", "/api/labels").json()["labels"] == {"1": 1, "50": 7}
        assert json.loads(discovery_path(copy).read_text())["url"] == second.url
    assert live_server.api("GET", "/api/status").status == 200


def test_a_server_that_says_it_serves_another_directory_is_not_used(
    live_server: LiveServer, tiny_data_dir: Path, tmp_path: Path
) -> None:
    # A discovery file that names this directory but points at a server of another one.
    copy = tmp_path / "other"
    copy.mkdir()
    record = json.loads(discovery_path(live_server.workspace).read_text())
    discovery_path(copy).parent.mkdir()
    discovery_path(copy).write_text(json.dumps({**record, "workspace": str(copy)}))
    done = invoke("label", 60, 3, "--workspace", copy, "--data-dir", tiny_data_dir)
    assert done.code == 0 and "a copied workspace?" in done.stderr
    assert _labels(copy) == {60: 3}
    assert live_server.api("GET", "/api/labels").json()["labels"] == {}
