"""A property-based fuzzer over every API route: no 500s, every refusal is a JSON error, and the
files stay whole (the CSV equals the API's labels; no temp files)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssvae.io.labels import LabelStore
from tests.live_server import SSEReader
from tests.thread_server import ThreadServer, served_workspace

pytestmark = pytest.mark.slow

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure here is never a fluke
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    # What float() cannot hold, and what strict JSON has no word for (json.dumps writes them).
    st.sampled_from([10**401, -(10**401), math.inf, -math.inf, math.nan]),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
serial_text = st.one_of(
    st.integers(min_value=-5, max_value=700).map(str),
    st.sampled_from(["\u0663", "\uff15", "+5", "1_0", " 5", "-0", "5.0", "0x1", "", "9" * 400]),
    st.text(max_size=12),
)
nasty = st.sampled_from(
    [b"[" * 100_000, b'{"labels": ' * 3000, b"\xff\xfe{", b"{}\x00", b"1e99999"]
)
labels = st.one_of(st.integers(min_value=-2, max_value=12), scalars)
train_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "epochs": st.one_of(st.integers(-2, 3), scalars),
            "batch_size": st.one_of(st.integers(-1, 10_000), scalars),
            "learning_rate": st.one_of(st.floats(-1, 20), scalars),
            "kl_weight": st.one_of(st.floats(-1, 1e40), scalars),
            "recon_weight": scalars,
            "label_weight": scalars,
            "bogus": scalars,
        },
    ),
)
label_bodies = st.one_of(
    json_values,
    nasty,
    st.fixed_dictionaries({"label": labels}, optional={"extra": scalars}),
    st.fixed_dictionaries(
        {"labels": st.dictionaries(serial_text, st.one_of(labels, st.none()), max_size=6)}
    ),
)


@pytest.fixture(scope="module")
def server(tiny_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    with served_workspace(tmp_path_factory.mktemp("fuzz"), tiny_data_dir) as running:
        yield running


def _quote(text: str) -> str:
    return "".join(
        c
        if c.isascii() and (c.isalnum() or c in "-_.")
        else "".join(f"%{b:02X}" for b in c.encode())
        for c in text
    )


def _send(server: ThreadServer, method: str, path: str, body: object) -> None:
    raw = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    answer = server.api(method, path, raw)
    assert answer.status < 500 or answer.status == 503, (method, path, answer.status, answer.body)
    if answer.status >= 400 and path.startswith("/api/") and method != "HEAD":
        error = answer.json()["error"]
        assert isinstance(error, str) and 0 < len(error) <= 700, (method, path, error)
    if path.startswith("/api/train") and answer.status == 202:
        server.api("POST", "/api/train/stop")  # keep the run short; the next start may 409


@FUZZ
@given(
    serial=serial_text, body=label_bodies, method=st.sampled_from(["PUT", "DELETE", "GET", "POST"])
)
def test_label_routes(server: ThreadServer, serial: str, body: object, method: str) -> None:
    _send(server, method, "/api/labels/" + _quote(serial), body)
    _send(server, "POST", "/api/labels", body)


@FUZZ
@given(
    body=st.one_of(train_bodies, st.binary(max_size=40), nasty),
    path=st.sampled_from(["/api/train", "/api/train/stop", "/api/checkpoint/rollback"]),
)
def test_training_routes(server: ThreadServer, body: object, path: str) -> None:
    _send(server, "POST", path, body)


grid_fields = st.one_of(st.integers(-3, 40), scalars)
decode_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "points": st.one_of(st.lists(st.lists(scalars, max_size=3), max_size=3), scalars),
            "grid": st.one_of(
                st.fixed_dictionaries(
                    {}, optional=dict.fromkeys(("x0", "x1", "y0", "y1", "n"), grid_fields)
                ),
                scalars,
            ),
            "space": st.one_of(st.sampled_from(["page", "view"]), scalars),
        },
    ),
)


@FUZZ
@given(body=decode_bodies, n=st.one_of(serial_text, st.sampled_from(["1e400", "nan", "%2B5"])))
def test_decode_and_queue_routes(server: ThreadServer, body: object, n: str) -> None:
    _send(server, "POST", "/api/decode", body)
    _send(server, "GET", "/api/queue?n=" + _quote(n), None)


@FUZZ
@given(
    serial=serial_text,
    tail=st.sampled_from(["", "/original.png", "/recon.png", "/x.png", "/"]),
    query=st.sampled_from(["", "?format=csv", "?format=xml", "?format=" + "j" * 300]),
    method=st.sampled_from(["GET", "HEAD", "PATCH", "OPTIONS"]),
)
def test_read_routes(server: ThreadServer, serial: str, tail: str, query: str, method: str) -> None:
    for path in ("/api/samples/" + _quote(serial) + tail, "/api/labels" + query, "/api/status",
                 "/api/history", "/api/" + _quote(serial)):  # fmt: skip
        _send(server, method, path, None)


def test_after_the_fuzz_the_files_are_whole(server: ThreadServer) -> None:
    with SSEReader(server.url) as events:
        events.next()
        if server.api("GET", "/api/status").json()["training"]["state"] != "idle":
            server.api("POST", "/api/train/stop")
            events.until("session_saved")
    ws = server.session.workspace
    on_disk = LabelStore(ws.labels_csv, 600).read() if ws.labels_csv.exists() else {}
    served = server.api("GET", "/api/labels").json()["labels"]
    assert {int(k): v for k, v in served.items()} == on_disk
    deadline = time.monotonic() + 30
    while list(ws.root.rglob("*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.1)  # a save that was running when we looked
    assert not list(ws.root.rglob("*.tmp"))
    assert server.api("GET", "/api/status").status == 200
