"""Every numeric field of every route, sent absurd numbers: a 400 (404 for a serial in the path)
that says what to send, never a 500 and never a started session (the 401-digit integer gave
500 OverflowError in /api/decode and /api/train)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ssvae.config import SESSION_PARAMS
from tests.thread_server import ThreadServer, served_workspace

# As JSON text: what a client can put where a number goes.
HUGE = "9" * 401
HOSTILE = [HUGE, "-" + HUGE, "1e400", "-1e400", "NaN", "Infinity", "-Infinity", "true", "false"]


@pytest.fixture(scope="module")
def server(tiny_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    with served_workspace(tmp_path_factory.mktemp("hostile"), tiny_data_dir) as running:
        yield running


def _post(server: ThreadServer, path: str, text: str) -> tuple[int, str]:
    answer = server.api("POST", path, text.encode())
    body = answer.json()
    return answer.status, body.get("error", "")


def _refused(status: int, error: str, *, code: int = 400) -> None:
    assert status == code, error
    assert 0 < len(error) <= 300, error  # one short sentence, never the 401 digits echoed
    assert HUGE not in error


@pytest.mark.parametrize("field", [*SESSION_PARAMS])
@pytest.mark.parametrize("value", HOSTILE)
def test_train_fields(server: ThreadServer, field: str, value: str) -> None:
    status, error = _post(server, "/api/train", f'{{"{field}": {value}}}')
    _refused(status, error)
    assert field in error
    assert server.api("GET", "/api/status").json()["training"]["state"] == "idle"


DECODE_BODIES = [
    '{{"points": [[{v}, 0]], "space": "view"}}',
    '{{"points": [[0, {v}]]}}',
    '{{"grid": {{"x0": {v}, "x1": 1, "y0": 0, "y1": 1, "n": 2}}}}',
    '{{"grid": {{"x0": 0, "x1": 1, "y0": 0, "y1": {v}, "n": 2}}}}',
    '{{"grid": {{"x0": 0, "x1": 1, "y0": 0, "y1": 1, "n": {v}}}}}',
    '{{"grid": {{"x0": 0, "x1": 1, "y0": 0, "y1": 1, "n": [{v}, 2]}}}}',
]


@pytest.mark.parametrize("template", DECODE_BODIES)
@pytest.mark.parametrize("value", HOSTILE)
def test_decode_fields(server: ThreadServer, template: str, value: str) -> None:
    _refused(*_post(server, "/api/decode", template.format(v=value)))


@pytest.mark.parametrize("value", [HUGE, "1e400", "nan", "inf", "-inf", "2e6", "true"])
def test_decode_query(server: ThreadServer, value: str) -> None:
    for query in (f"x={value}&y=0", f"x=0&y={value}"):
        answer = server.api("GET", "/api/decode?" + query)
        _refused(answer.status, answer.json()["error"])


@pytest.mark.parametrize("value", HOSTILE)
def test_label_values(server: ThreadServer, value: str) -> None:
    _refused(*_post(server, "/api/labels", f'{{"labels": {{"3": {value}}}}}'))
    answer = server.api("PUT", "/api/labels/3", f'{{"label": {value}}}'.encode())
    _refused(answer.status, answer.json()["error"])
    assert server.api("GET", "/api/labels").json()["labels"] == {}


@pytest.mark.parametrize("serial", [HUGE, "1e400", "NaN", "-" + HUGE, "+5", "%205", "5%20"])
def test_serials_in_the_path(server: ThreadServer, serial: str) -> None:
    for method, path, body in [
        ("GET", f"/api/samples/{serial}", None),
        ("PUT", f"/api/labels/{serial}", b'{"label": 1}'),
        ("DELETE", f"/api/labels/{serial}", None),
    ]:
        answer = server.api(method, path, body)
        assert answer.status in (400, 404), (path, answer.body)
        _refused(answer.status, answer.json()["error"], code=answer.status)


@pytest.mark.parametrize(
    "n", [HUGE, "1e400", "nan", "true", "+5", "%205", "5%20", "%2B5", "05", "5.0", "-5", "0"]
)
def test_queue_count(server: ThreadServer, n: str) -> None:
    # Only the digits 0-9, as for serials: `+5` and ` 5` were taken for 5.
    answer = server.api("GET", f"/api/queue?n={n}")
    _refused(answer.status, answer.json()["error"])
    assert "n must be" in answer.json()["error"]


def test_queue_count_plain_digits_are_fine(server: ThreadServer) -> None:
    answer = server.api("GET", "/api/queue?n=5")
    assert answer.status == 200 and len(answer.json()["items"]) == 5
