"""Host, Origin and token checks against a real server, plus the middleware alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from alctl.server.security import SecurityMiddleware, host_name, is_loopback
from tests.thread_server import ThreadServer, make_session, thread_server


@pytest.fixture(scope="module")
def server(tiny_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    # One server for the module: every test here is refused, except one that writes serial 4.
    session = make_session(tmp_path_factory.mktemp("ws"), tiny_data_dir)
    with thread_server(session, token="s3cret-token") as running:
        yield running


def port_of(server: ThreadServer) -> int:
    return int(server.url.rstrip("/").rsplit(":", 1)[1])


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "10.0.0.5:{port}", ""])
def test_foreign_host_is_refused_even_for_reads(server: ThreadServer, host: str) -> None:
    # What a DNS-rebinding page sends: our address, its own name.
    answer = server.api("GET", "/api/status", headers={"Host": host.format(port=port_of(server))})
    assert answer.status == 403 and "127.0.0.1 or localhost" in answer.json()["error"]


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}", "localhost"]
)
def test_loopback_names_are_answered(server: ThreadServer, host: str) -> None:
    answer = server.api("GET", "/api/status", headers={"Host": host.format(port=port_of(server))})
    assert answer.status == 200


def test_reads_need_no_token(server: ThreadServer) -> None:
    for path in ("/", "/api/status", "/api/points", "/api/labels", "/api/history"):
        assert server.api("GET", path, token=None).status == 200, path


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/api/labels/3", {"label": 1}),
        ("DELETE", "/api/labels/3", None),
        ("POST", "/api/labels", {"labels": {"3": 1}}),
        ("POST", "/api/train", {"epochs": 1}),
        ("POST", "/api/train/stop", None),
        ("POST", "/api/report", None),
    ],
)
@pytest.mark.parametrize(("token", "words"), [(None, "missing"), ("guess", "wrong")])
def test_state_changes_need_the_token(
    server: ThreadServer, method: str, path: str, body: object, token: str | None, words: str
) -> None:
    answer = server.api(method, path, body, token=token)
    assert answer.status == 403
    assert f"{words} X-Alctl-Token" in answer.json()["error"]
    assert server.session.labels.get(3) is None
    assert server.api("GET", "/api/status").json()["training"]["state"] == "idle"
    assert not server.session.report.path.exists()


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1"])
def test_cross_origin_state_changes_are_refused_even_with_the_token(
    server: ThreadServer, origin: str
) -> None:
    answer = server.api("PUT", "/api/labels/3", {"label": 1}, headers={"Origin": origin})
    assert answer.status == 403 and "cross-origin" in answer.json()["error"]
    assert server.session.labels.get(3) is None


def test_same_origin_with_token_is_accepted(server: ThreadServer) -> None:
    origin = server.url.rstrip("/")
    answer = server.api("PUT", "/api/labels/4", {"label": 1}, headers={"Origin": origin})
    assert answer.status == 200
    # No CORS grant: other sites' pages cannot read our answers either.
    assert "access-control-allow-origin" not in {k.lower() for k in answer.headers}


def _guarded_app(bind_host: str) -> SecurityMiddleware:
    async def ok(request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", ok, methods=["GET", "POST"])])
    return SecurityMiddleware(app, token="t", bind_host=bind_host)


async def _call(app: SecurityMiddleware, method: str, host: str, **headers: str) -> int:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as client:
        return (await client.request(method, "/", headers=headers)).status_code


@pytest.mark.anyio
async def test_an_explicit_lan_bind_answers_other_names_but_still_guards_writes() -> None:
    loopback, lan = _guarded_app("127.0.0.1"), _guarded_app("0.0.0.0")
    assert await _call(loopback, "GET", "box.lan:8050") == 403
    assert await _call(lan, "GET", "box.lan:8050") == 200
    assert await _call(lan, "POST", "box.lan:8050") == 403
    assert await _call(lan, "POST", "box.lan:8050", **{"X-Alctl-Token": "t"}) == 200
    cross = {"X-Alctl-Token": "t", "Origin": "http://evil.example"}
    assert await _call(lan, "POST", "box.lan:8050", **cross) == 403


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


def test_host_parsing() -> None:
    assert host_name("LocalHost:8050") == "localhost"
    assert host_name("[::1]:8050") == "::1"
    assert host_name("127.0.0.1") == "127.0.0.1"
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")


def _raw(server: ThreadServer, method: str, path: str, headers: list[tuple[str, str]]) -> int:
    """A request with exactly these headers, repeated ones included (urllib merges them)."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port_of(server), timeout=30)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        body = b'{"label": 1}' if method == "PUT" else b""
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.mark.parametrize(
    "twice",
    [
        [("X-Alctl-Token", "s3cret-token"), ("X-Alctl-Token", "guess")],
        [("X-Alctl-Token", "s3cret-token"), ("X-Alctl-Token", "s3cret-token")],
        [("Origin", "{origin}"), ("Origin", "http://evil.example")],
        [("Origin", "{origin}"), ("Origin", "{origin}")],
        [("X-Alctl-Source", "cli"), ("X-Alctl-Source", "page")],
        [("X-Alctl-Write", "w/1"), ("X-Alctl-Write", "w/2")],
    ],
)
def test_a_guard_header_sent_twice_is_refused(
    server: ThreadServer, twice: list[tuple[str, str]]
) -> None:
    origin = server.url.rstrip("/")
    host = origin.removeprefix("http://")
    token = [("X-Alctl-Token", "s3cret-token")] if twice[0][0] != "X-Alctl-Token" else []
    headers = [("Host", host), *token, *((k, v.format(origin=origin)) for k, v in twice)]
    assert _raw(server, "PUT", "/api/labels/5", headers) == 400
    assert _raw(server, "GET", "/api/status", headers) == 400
    assert server.session.labels.get(5) is None
    # Each header once: accepted.
    once = [("Host", host), ("X-Alctl-Token", "s3cret-token"), ("Origin", origin)]
    assert _raw(server, "GET", "/api/status", once) == 200


def test_a_host_sent_twice_is_refused(server: ThreadServer) -> None:
    host = server.url.rstrip("/").removeprefix("http://")
    assert _raw(server, "GET", "/api/status", [("Host", host), ("Host", host)]) == 400
    assert _raw(server, "GET", "/api/status", [("Host", host), ("Host", "evil.example")]) == 400
