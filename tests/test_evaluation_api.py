"""Did it get better, from the API and the shell: the persisted accuracy-vs-labels curve,
`GET /api/evaluation` and `alctl evaluate` (with and without a server, same numbers), and the
report written by `POST /api/report` and served at `/report`. Real `alctl serve` processes."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import wait_for
from tests.cli_support import invoke
from tests.datagen import seed_labels
from tests.live_server import LiveServer, SSEReader, running_server
from tests.thread_server import served_workspace

SEEDED = 30  # labels before the first session


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> Path:
    """A workspace with one session trained from the shell (`alctl train --no-server`)."""
    workspace = tmp_path_factory.mktemp("evaluated-ws")
    seed_labels(workspace, SEEDED)
    done = invoke("train", "--no-server", *_files(workspace, tiny_data_dir), "--epochs", "1")
    assert done.code == 0, done.stderr
    assert "saved " in done.stdout and "test accuracy" in done.stdout
    return workspace


@pytest.fixture(scope="module")
def server(trained: Path, tiny_data_dir: Path) -> Iterator[LiveServer]:
    with running_server(trained, tiny_data_dir) as live:
        # Served from the cache at once; evaluating needs the model, loaded in the background.
        wait_for(lambda: _model_ready(live), what="the model to load")
        yield live


def _model_ready(live: LiveServer) -> bool:
    return live.api("GET", "/api/status").json()["model"]["state"] == "ready"


def _files(workspace: Path, data_dir: Path) -> list[str]:
    return ["--workspace", str(workspace), "--data-dir", str(data_dir), "-d", "mnist"]


def _json(*args: str) -> dict:
    done = invoke(*args)
    assert done.code == 0, done.stderr
    return json.loads(done.stdout)


def test_the_shell_evaluates_the_checkpoint_without_a_server(
    trained: Path, tiny_data_dir: Path
) -> None:
    files = _files(trained, tiny_data_dir)
    answer = _json("evaluate", "--json", "--no-server", *files)
    confusion = answer["confusion"]
    assert len(confusion) == 10 and all(len(row) == 10 for row in confusion)
    assert sum(map(sum, confusion)) == answer["n"] == 200  # the tiny test split
    diagonal = sum(confusion[c][c] for c in range(10))
    assert answer["accuracy"] == pytest.approx(diagonal / 200)
    for row in answer["per_class"]:
        c = row["class"]
        assert row["n"] == sum(confusion[c])
        assert row["accuracy"] == pytest.approx(confusion[c][c] / row["n"])
    human = invoke("evaluate", "--no-server", *files).stdout
    assert "confusion matrix (rows: truth, columns: prediction)" in human
    assert f"accuracy {answer['accuracy'] * 100:.1f}%" in human

    status = _json("status", "--json", "--no-server", *files)
    (point,) = status["evaluations"]
    assert point["session"] == 1 and point["n_labeled"] == SEEDED
    assert point["test_accuracy"] == pytest.approx(answer["accuracy"])
    assert "test accuracy by labels" in invoke("status", "--no-server", *files).stdout


def test_the_api_gives_the_shells_numbers_and_caches_them(
    server: LiveServer, trained: Path, tiny_data_dir: Path
) -> None:
    first = server.api("GET", "/api/evaluation")
    assert first.status == 200, first.body
    body = first.json()
    offline = _json("evaluate", "--json", "--no-server", *_files(trained, tiny_data_dir))
    assert body["confusion"] == offline["confusion"]
    assert body["class_names"] == offline["class_names"]
    again = server.api("GET", "/api/evaluation").json()
    assert again["cached"] and again["confusion"] == body["confusion"]
    assert again["latent_version"] == body["latent_version"]
    through = _json("evaluate", "--json", *_files(trained, tiny_data_dir))
    assert through["confusion"] == body["confusion"]
    status = _json("status", "--json", *_files(trained, tiny_data_dir))
    assert status["server"] is not None  # answered by the server, with the same curve
    assert status["evaluations"] == server.api("GET", "/api/status").json()["evaluations"]


def test_the_report_button_writes_a_file_the_server_serves(server: LiveServer) -> None:
    assert server.api("POST", "/api/report", token=None).status == 403
    assert server.api("POST", "/api/report", {"path": "/tmp/x.html"}).status == 400
    written = server.api("POST", "/api/report")
    assert written.status == 201, written.body
    answer = written.json()
    path = Path(answer["path"])
    assert path == server.workspace / "artifacts" / "mnist" / "report.html"
    assert path.stat().st_size == answer["bytes"] > 10_000 and answer["url"] == "/report"
    page = server.api("GET", answer["url"])
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert page.body == path.read_bytes()
    assert b"alctl report: mnist" in page.body
    # One fixed file: a query or a longer path names nothing else.
    assert server.api("GET", "/report?path=../../../etc/passwd").body == page.body
    assert server.api("GET", "/report/../../etc/passwd").status == 404


def test_the_curve_survives_a_restart_and_includes_the_servers_sessions(
    trained: Path, tiny_data_dir: Path, server: LiveServer
) -> None:
    before = server.api("GET", "/api/status").json()
    assert [p["session"] for p in before["evaluations"]] == [1]  # trained from the shell
    with SSEReader(server.url) as events:
        assert server.api("POST", "/api/train", {"epochs": 1}).status == 202
        events.until("latent_refreshed")
    after = server.api("GET", "/api/status").json()
    curve = after["evaluations"]
    assert [p["session"] for p in curve] == [1, 2]
    assert curve[1]["previous_test_accuracy"] == curve[0]["test_accuracy"]
    assert curve[1]["n_labeled"] == SEEDED and curve[1]["labeled_accuracy"] is not None
    # No label was given since the shell's session: nothing to be blind about.
    assert curve[1]["blind_accuracy"] is None and curve[1]["blind_n"] == 0
    assert after["checkpoint"]["test_accuracy"] == curve[1]["test_accuracy"]
    evaluation = server.api("GET", "/api/evaluation").json()
    assert not evaluation["cached"]  # new weights: computed again
    assert evaluation["accuracy"] == pytest.approx(curve[1]["test_accuracy"])

    server.process.send_signal(signal.SIGINT)  # a new server process over the same files
    server.process.wait(30)
    with running_server(trained, tiny_data_dir) as again:
        status = again.api("GET", "/api/status").json()  # from the cache, before the model
        assert status["evaluations"] == curve
        last = status["training"]["last_result"]
        assert (last["session"], last["status"], last["global_epoch"]) == (2, "completed", 2)


def test_an_untrained_model_is_refused_with_a_reason(workspace: Path, tiny_data_dir: Path) -> None:
    with served_workspace(workspace, tiny_data_dir) as live:
        answer = live.api("GET", "/api/evaluation")
        assert answer.status == 409 and "not been trained yet" in answer.json()["error"]
        report = live.api("POST", "/api/report")
        assert report.status == 409 and "train first" in report.json()["error"]
        assert live.api("GET", "/report").status == 404
        assert live.api("GET", "/api/status").json()["evaluations"] == []
    offline = invoke("evaluate", "--no-server", *_files(workspace, tiny_data_dir))
    assert offline.code == 1 and "no trained model" in offline.stderr
