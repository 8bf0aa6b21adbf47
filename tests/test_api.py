"""The JSON API of docs/api.md against a real uvicorn server (in a thread)."""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from alctl.resources import static_dir
from tests.live_server import SSEReader
from tests.thread_server import ThreadServer, make_session, thread_server


@pytest.fixture()
def server(tiny_data_dir: Path, workspace: Path) -> Iterator[ThreadServer]:
    session = make_session(workspace, tiny_data_dir)
    with thread_server(session) as running:
        yield running


def decode_png(data: bytes) -> np.ndarray:
    """A grayscale 8-bit PNG with filter 0 rows (what alctl.images writes) -> uint8 [H, W]."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (depth, colour) == (8, 0)
    idat_len = struct.unpack(">I", data[33:37])[0]
    rows = np.frombuffer(zlib.decompress(data[41 : 41 + idat_len]), np.uint8)
    return rows.reshape(height, width + 1)[:, 1:]


def test_status_has_every_documented_field(server: ThreadServer) -> None:
    status = server.api("GET", "/api/status").json()
    assert status["dataset"] == "mnist" and status["n_samples"] == 600
    assert status["class_names"] == [str(d) for d in range(10)]
    assert "IDX files" in status["dataset_source"]
    assert set(status["labels"]) == {"labeled", "coverage", "per_class", "version", "file_error"}
    assert set(status["checkpoint"]) == {
        "path", "exists", "epochs_trained", "test_accuracy", "unsaved", "backup_warning"
    }  # fmt: skip
    assert status["checkpoint"]["backup_warning"] is None
    assert set(status["training"]) == {
        "state", "session", "epoch", "epochs", "batch", "batches", "eta_s", "last_result"
    }  # fmt: skip
    assert status["training"]["state"] == "idle"
    assert set(status["hparams"]) == {
        "epochs", "recon_weight", "kl_weight", "label_weight", "learning_rate", "batch_size"
    }  # fmt: skip
    assert len(status["latent"]["bounds"]) == 4 and status["latent"]["version"] >= 1
    assert status["device"].startswith("cpu")
    assert set(status["server"]) == {"pid", "started_at", "workspace", "instance"}
    assert len(status["server"]["instance"]) == 16


def test_points_binary_layout(server: ThreadServer) -> None:
    server.api("PUT", "/api/labels/7", {"label": 2})
    answer = server.api("GET", "/api/points")
    n = 600
    assert answer.status == 200 and answer.headers["content-type"] == "application/octet-stream"
    assert answer.headers["x-points-count"] == str(n)
    version = server.api("GET", "/api/status").json()["latent"]["version"]
    assert answer.headers["x-latent-version"] == str(version)
    body = answer.body
    assert len(body) == 15 * n
    xy = np.frombuffer(body[: 8 * n], "<f4").reshape(n, 2)
    certainty = np.frombuffer(body[8 * n : 12 * n], "<f4")
    pred, truth, label = (np.frombuffer(body[k * n : (k + 1) * n], np.int8) for k in (12, 13, 14))
    assert np.abs(xy).max() <= 1.0 + 1e-6 and np.isclose(np.abs(xy).max(), 1.0)
    assert certainty.min() >= 0.0 and certainty.max() <= 1.0
    assert pred.min() >= 0 and pred.max() <= 9
    assert truth.tolist() == server.session.dataset.train_targets.tolist()
    assert label[7] == 2 and (np.delete(label, 7) == -1).all()


def test_sample_json_and_thumbnails(server: ThreadServer) -> None:
    sample = server.api("GET", "/api/samples/12").json()
    image = server.session.dataset.train_images[12]
    assert sample["serial"] == 12 and sample["truth"] == int(
        server.session.dataset.train_targets[12]
    )
    assert sample["label"] is None and 0 <= sample["pred"] <= 9 and 0 <= sample["certainty"] <= 1
    assert len(sample["latent"]) == 2 and all(isinstance(v, float) for v in sample["latent"])
    assert base64.b64decode(sample["original"]) == image.tobytes()
    recon = np.frombuffer(base64.b64decode(sample["recon"]), np.uint8)
    assert recon.shape == (784,)
    original_png = server.api("GET", "/api/samples/12/original.png")
    assert original_png.headers["content-type"] == "image/png"
    assert (decode_png(original_png.body) == image).all()
    recon_png = decode_png(server.api("GET", "/api/samples/12/recon.png").body)
    assert (recon_png.reshape(-1) == recon).all()


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/samples/600", 404),
        ("/api/samples/-1", 404),
        ("/api/samples/abc", 400),
        ("/api/samples/3/thumb.png", 404),
        ("/api/nothing", 404),
        ("/api/train", 405),  # the route exists, for POST
    ],
)
def test_bad_get_requests_answer_json_errors(server: ThreadServer, path: str, status: int) -> None:
    answer = server.api("GET", path)
    assert answer.status == status
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]


def test_label_put_delete_and_listing(server: ThreadServer) -> None:
    put = server.api("PUT", "/api/labels/5", {"label": 3})
    assert put.status == 200
    timing = put.headers.get("server-timing") or put.headers.get("Server-Timing")
    assert timing is not None and timing.startswith("label;dur=")
    assert 0 < float(timing.split("dur=")[1]) < 10_000
    assert put.json() | {"stats": None} == {
        "serial": 5,
        "label": 3,
        "previous": None,
        "stats": None,
    }
    assert put.json()["stats"]["labeled"] == 1 and put.json()["stats"]["per_class"][3] == 1
    again = server.api("PUT", "/api/labels/5", {"label": 4}).json()
    assert again["previous"] == 3
    csv_path = server.session.workspace.labels_csv
    assert csv_path.read_text() == "Serial,label\n5,4\n"  # durable before the answer
    listing = server.api("GET", "/api/labels").json()
    assert listing["labels"] == {"5": 4} and listing["version"] == again["stats"]["version"]
    assert server.api("GET", "/api/labels?format=csv").body.decode() == "Serial,label\n5,4\n"
    gone = server.api("DELETE", "/api/labels/5").json()
    assert (gone["label"], gone["previous"], gone["stats"]["labeled"]) == (None, 4, 0)
    assert csv_path.read_text() == "Serial,label\n"


def test_an_abandoned_write_arriving_late_is_refused(server: ThreadServer) -> None:
    """The page retries a write that got no answer; its first attempt must not win later."""

    def write(method: str, ticket: str, label: int | None = None) -> Any:
        body = None if label is None else {"label": label}
        return server.api(method, "/api/labels/7", body, headers={"X-Alctl-Write": ticket})

    assert write("PUT", "page-a/2", 3).status == 200  # the retry of attempt 1
    assert write("DELETE", "page-a/3").status == 200  # the next write
    late = write("PUT", "page-a/1", 3)  # attempt 1 turns up
    assert late.status == 409 and "not applied" in late.json()["error"]
    assert write("PUT", "page-a/3", 4).status == 409  # a repeated number, too
    csv = server.session.workspace.labels_csv
    assert csv.read_text() == "Serial,label\n"
    assert write("PUT", "page-b/1", 2).status == 200  # another page counts on its own
    for bad in ("page-a", "page-a/x", "a b/1", "page-a/-1"):
        answer = write("PUT", bad, 5)
        assert answer.status == 400 and "X-Alctl-Write" in answer.json()["error"]
    assert csv.read_text() == "Serial,label\n7,2\n"
    bulk = server.api(
        "POST", "/api/labels", {"labels": {"7": 1}}, headers={"X-Alctl-Write": "page-b/1"}
    )
    assert bulk.status == 409 and csv.read_text() == "Serial,label\n7,2\n"


def test_bulk_labels_are_all_validated_before_any_write(server: ThreadServer) -> None:
    bad = server.api("POST", "/api/labels", {"labels": {"1": 1, "2": 11}})
    assert bad.status == 400 and "serial 2" in bad.json()["error"]
    assert not server.session.workspace.labels_csv.exists()
    good = server.api("POST", "/api/labels", {"labels": {"1": 1, "2": 9, "3": None}})
    assert good.status == 200 and good.json()["changed"] == 2
    assert good.json()["stats"]["labeled"] == 2
    assert server.session.workspace.labels_csv.read_text() == "Serial,label\n1,1\n2,9\n"


@pytest.mark.parametrize(
    ("method", "path", "body", "words"),
    [
        ("PUT", "/api/labels/600", {"label": 1}, "outside the dataset"),
        ("PUT", "/api/labels/x", {"label": 1}, "serial must be an integer"),
        ("PUT", "/api/labels/1", {"label": 10}, "label must be an integer 0-9"),
        ("PUT", "/api/labels/1", {"label": "3"}, "label must be an integer 0-9"),
        ("PUT", "/api/labels/1", {"label": True}, "label must be an integer 0-9"),
        ("PUT", "/api/labels/1", {"label": 3.0}, "label must be an integer 0-9"),
        ("PUT", "/api/labels/1", {}, "send {"),
        ("PUT", "/api/labels/1", b"{not json", "not valid JSON"),
        ("PUT", "/api/labels/1", [1], "must be a JSON object"),
        ("POST", "/api/labels", {"labels": [1]}, "send {"),
        ("POST", "/api/labels", {"labels": {"a": 1}}, "not an integer"),
        ("POST", "/api/labels", {"labels": {"-4": 1}}, "outside the dataset"),
    ],
)
def test_bad_label_requests_say_what_to_fix(
    server: ThreadServer, method: str, path: str, body: object, words: str
) -> None:
    answer = server.api(method, path, body)
    assert 400 <= answer.status < 500
    assert words in answer.json()["error"]
    assert not server.session.workspace.labels_csv.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"epochs": -1}, "epochs"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": 1001}, "epochs"),
        ({"epochs": 2.5}, "epochs"),
        (b'{"epochs": 1, "learning_rate": NaN}', "learning_rate"),
        ({"epochs": 1, "learning_rate": -0.1}, "learning_rate"),
        ({"epochs": 1, "learning_rate": 0}, "learning_rate"),
        ({"epochs": 1, "kl_weight": -1}, "kl_weight"),
        ({"epochs": 1, "recon_weight": "big"}, "recon_weight"),
        ({"epochs": 1, "batch_size": 0}, "batch_size"),
        ({"epochs": 1, "batch_size": 8193}, "batch_size"),
        ({"epochs": 1, "momentum": 0.9}, "momentum"),
    ],
)
def test_absurd_hyperparameters_are_refused(server: ThreadServer, body: object, field: str) -> None:
    answer = server.api("POST", "/api/train", body)
    assert answer.status == 400 and field in answer.json()["error"]
    assert server.api("GET", "/api/status").json()["training"]["state"] == "idle"


def test_train_start_conflict_stop_and_history(server: ThreadServer) -> None:
    assert server.api("POST", "/api/train/stop").status == 409
    with SSEReader(server.url) as events:
        events.next()
        start = server.api("POST", "/api/train", {"epochs": 300, "batch_size": 16})
        assert start.status == 202
        assert start.json()["session"] == 1 and start.json()["hparams"]["batch_size"] == 16
        busy = server.api("POST", "/api/train", {"epochs": 1})
        assert busy.status == 409 and "already running" in busy.json()["error"]
        events.until("train_progress")
        stop = server.api("POST", "/api/train/stop")
        assert stop.status == 202 and stop.json() == {"stopping": True}
        ended = events.until("train_ended")[-1]
        assert ended.data["status"] == "stopped"
        events.until("session_saved")
    history = server.api("GET", "/api/history").json()
    assert history["sessions"][0]["session"] == 1
    assert history["sessions"][0]["status"] == "stopped"
    assert history["sessions"][0]["hparams"]["batch_size"] == 16


def test_failed_training_is_visible_and_the_next_session_runs(server: ThreadServer) -> None:
    with SSEReader(server.url) as events:
        events.next()
        assert server.api("POST", "/api/train", {"epochs": 1, "recon_weight": 1e38}).status == 202
        ended = events.until("train_ended")[-1].data
        assert ended["status"] == "failed" and "loss" in ended["error"]
        saved = events.until("session_saved")[-1].data
        assert saved["status"] == "failed" and saved["saved"] is False
        status = server.api("GET", "/api/status").json()
        assert status["training"]["last_result"]["status"] == "failed"
        assert server.api("POST", "/api/train", {"epochs": 1, "recon_weight": 1}).status == 202
        assert events.until("train_ended")[-1].data["status"] == "completed"
        events.until("latent_refreshed")
    records = server.api("GET", "/api/history").json()["records"]
    assert [r["global_epoch"] for r in records] == [1]


def test_progress_reaches_the_page_two_to_five_times_a_second(server: ThreadServer) -> None:
    with SSEReader(server.url) as events:
        events.next()
        # Long enough (a few seconds even on a quiet machine) to see several updates.
        server.api("POST", "/api/train", {"epochs": 3, "batch_size": 2})
        seen = events.until("train_ended")
    elapsed = [e.data["elapsed_s"] for e in seen if e.event == "train_progress"]
    gaps = np.diff(elapsed)
    assert len(elapsed) >= 3
    # By the server's clock: never more than 5/s, never a silence over half a second.
    assert gaps.min() >= 0.2 and gaps.max() <= 0.55, gaps


def test_label_source_header_and_outside_edits(server: ThreadServer) -> None:
    with SSEReader(server.url) as events:
        events.next()
        server.api("PUT", "/api/labels/20", {"label": 6}, headers={"X-Alctl-Source": "cli"})
        assert events.next().data["source"] == "cli"
        # Another program (scripts/view_latent.py, a shell) rewrites the CSV.
        server.session.workspace.labels_csv.write_text("Serial,label\n20,6\n21,0\n")
        change = events.next()
    assert change.event == "labels" and change.data["source"] == "file"
    assert change.data["changes"] == [{"serial": 21, "label": 0, "previous": None}]
    assert server.api("GET", "/api/labels").json()["labels"] == {"20": 6, "21": 0}


def test_page_and_static_files(server: ThreadServer) -> None:
    page = server.api("GET", "/")
    assert page.status == 200 and page.headers["cache-control"] == "no-store"
    html = page.body.decode()
    assert server.token in html and "mnist" in html
    some_file = next(p for p in sorted(static_dir().rglob("*")) if p.is_file())
    relative = some_file.relative_to(static_dir()).as_posix()
    asset = server.api("GET", f"/static/{relative}")
    assert asset.status == 200 and asset.body == some_file.read_bytes()
