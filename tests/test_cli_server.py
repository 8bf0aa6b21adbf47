"""The CLI against a real `alctl serve`: labels, listing, status and discovery over HTTP."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alctl.cli.server_client import ApiClient, SSEEvent
from alctl.discovery import ServerInfo, write_discovery
from ssvae.io.labels import LabelStore
from tests.cli_support import api_client, one_error_line, run
from tests.live_server import LiveServer, running_server
from tests.waiting import wait_for


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> Iterator[LiveServer]:
    # One server for the module: these tests touch distinct serials, so they share it.
    with running_server(tmp_path_factory.mktemp("served-ws"), tiny_data_dir) as served:
        yield served


def ws(server: LiveServer) -> list[str]:
    return ["--workspace", str(server.workspace)]


def csv_labels(server: LiveServer) -> dict[int, int]:
    return LabelStore(server.workspace / "data" / "mnist" / "labels.csv", 600).read()


def next_event(events: Iterator[SSEEvent], name: str, timeout: float = 30.0) -> SSEEvent:
    deadline = time.monotonic() + timeout
    for event in events:
        if event.event == name:
            return event
        assert time.monotonic() < deadline, f"no {name} event"
    raise AssertionError("stream ended")


def test_shell_label_is_live_on_the_event_stream(server: LiveServer) -> None:
    with api_client(server).events(timeout=30) as stream:
        events = iter(stream)
        assert next(events).event == "snapshot"
        done = run("label", 101, 4, *ws(server))
        assert done.code == 0, done.stderr
        assert "serial 101: label 4 (was unlabeled)" in done.stdout
        event = next_event(events, "labels")
    assert event.data["source"] == "cli"
    assert event.data["changes"] == [{"serial": 101, "label": 4, "previous": None}]
    assert csv_labels(server)[101] == 4

    gone = run("label", 101, "--delete", *ws(server))
    assert "label deleted (was 4)" in gone.stdout
    assert 101 not in csv_labels(server)


def test_bad_labels_through_the_server(server: LiveServer) -> None:
    before = csv_labels(server)
    assert "label 10 for serial 5 must be 0-9" in one_error_line(run("label", 5, 10, *ws(server)))
    assert "serial 600 is outside" in one_error_line(run("label", 600, 1, *ws(server)))
    assert csv_labels(server) == before


def test_import_and_list_through_the_server(server: LiveServer, tmp_path: Path) -> None:
    client = api_client(server)
    bad = tmp_path / "bad.csv"
    bad.write_text("Serial,label\n201,1\n202,99\n")
    assert "label 99 outside 0..9" in one_error_line(run("label", "--import", bad, *ws(server)))
    assert "201" not in client.labels_csv()

    good = tmp_path / "good.csv"
    good.write_text("Serial,label\n201,1\n202,2\n203.0,3.0\n")
    with client.events(timeout=30) as stream:
        events = iter(stream)
        next(events)
        done = run("label", "--import", good, *ws(server))
        assert done.code == 0, done.stderr
        event = next_event(events, "labels")
    assert "imported 3 labels" in done.stdout
    assert event.data["source"] == "import"
    assert {c["serial"] for c in event.data["changes"]} == {201, 202, 203}

    listing = run("labels", *ws(server))
    assert listing.stdout == client.labels_csv()
    assert "201,1\n202,2\n203,3\n" in listing.stdout


def test_status_comes_from_the_server_without_torch(server: LiveServer) -> None:
    done = run("status", "--json", *ws(server))
    assert done.code == 0, done.stderr
    facts = json.loads(done.stdout)
    assert facts["server"]["url"] == server.url.rstrip("/")
    assert facts["server"]["pid"] == server.process.pid
    assert facts["dataset"] == {
        "name": "mnist",
        "n_samples": 600,
        "source": facts["dataset"]["source"],
    }
    assert facts["labels"]["labeled"] == len(csv_labels(server))
    human = run("status", *ws(server)).stdout
    assert re.search(r"server +http://127\.0\.0\.1:\d+ \(pid \d+\): (idle|running)", human)

    # The fast path: neither torch, numpy nor pydantic is imported when a server answers.
    traced = run("status", *ws(server), python_args=("-X", "importtime"))
    imported = {line.split("|")[-1].strip() for line in traced.stderr.splitlines()}
    assert not {"torch", "numpy", "pydantic", "starlette", "uvicorn"} & imported


def test_stale_discovery_file_is_noted_and_ignored(tmp_path: Path, tiny_data_dir: Path) -> None:
    root = tmp_path / "stale"
    root.mkdir()
    dead = ServerInfo("http://127.0.0.1:9/", 2**22 + 7, "t", "mnist", str(root), "then")
    write_discovery(root, dead)
    done = run("label", 7, 1, "--workspace", root, "--data-dir", tiny_data_dir)
    assert done.code == 0, done.stderr
    assert "removed stale" in done.stderr and "is gone" in done.stderr
    assert not (root / ".alctl" / "server.json").exists()
    assert LabelStore(root / "data" / "mnist" / "labels.csv", 600).read() == {7: 1}

    # A live pid that does not answer (here: this test process) is skipped, not removed.
    hung = ServerInfo("http://127.0.0.1:9/", os.getpid(), "t", "mnist", str(root), "now")
    write_discovery(root, hung)
    done = run("label", 8, 2, "--workspace", root, "--data-dir", tiny_data_dir)
    assert done.code == 0 and "does not answer" in done.stderr
    assert (root / ".alctl" / "server.json").exists()


def test_no_server_flag_works_on_the_files(server: LiveServer, tiny_data_dir: Path) -> None:
    done = run("label", 301, 3, "--no-server", "--data-dir", tiny_data_dir, *ws(server))
    assert done.code == 0, done.stderr
    assert csv_labels(server)[301] == 3
    # The server's label-file watcher picks the outside edit up.
    client: ApiClient = api_client(server)
    wait_for(lambda: "301,3" in client.labels_csv(), 15, "the server to see the file change")
