"""Request guards for a localhost server: Host check, Origin check, per-server token.

- Host: a page on evil.example that rebinds its DNS to 127.0.0.1 still sends
  `Host: evil.example`, so only loopback names are answered (DNS rebinding).
- Origin: a state-changing request from another site's page carries that site's Origin (CSRF).
- Token: state-changing calls must carry `X-Alctl-Token`; the page gets it from its template,
  the CLI from the 0600 discovery file (Jupyter's model).
- Each of those headers at most once: with two, the check and a proxy or a later reader
  could each take another one (400).
"""

from __future__ import annotations

import ipaddress
import re
import secrets

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from alctl.server.write_order import HEADER as WRITE_HEADER
from ssvae.io.strict_input import clip

TOKEN_HEADER = "x-alctl-token"
SOURCE_HEADER = "x-alctl-source"  # who asked (page, cli, import): the labels event says so
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The headers a request's fate depends on; sent twice, a request is refused.
SINGLE_HEADERS = ("host", "origin", TOKEN_HEADER, SOURCE_HEADER, WRITE_HEADER)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    """True for the names and addresses that only this machine can reach."""
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_HOST = re.compile(r"(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9.-]+))(?::[0-9]{1,5})?")


def host_name(host_header: str) -> str | None:
    """`[::1]:8050` -> `::1`, `localhost:8050` -> `localhost` (lower case); None when the
    header is not a plain `name[:port]` (`127.0.0.1:8201@evil`, `localhost:80.evil.example`)."""
    match = _HOST.fullmatch(host_header.strip().lower())
    if match is None:
        return None
    return match.group("v6") or match.group("name")


class SecurityMiddleware:
    """Pure ASGI middleware (not BaseHTTPMiddleware, which would buffer the SSE stream)."""

    def __init__(self, app: ASGIApp, *, token: str, bind_host: str = "127.0.0.1") -> None:
        self.app = app
        self.token = token
        # Bound to another address on purpose (e.g. a LAN IP): names we cannot know will
        # be used, so only the Origin and token checks remain.
        self.check_host = is_loopback(bind_host)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        twice = [name for name in SINGLE_HEADERS if len(headers.getlist(name)) > 1]
        if twice:
            message = f"the {twice[0]} header was sent more than once; send it once"
            await JSONResponse({"error": message}, status_code=400)(scope, receive, send)
            return
        problem = self._problem(scope, headers)
        if problem is not None:
            await JSONResponse({"error": problem}, status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _problem(self, scope: Scope, headers: Headers) -> str | None:
        host = headers.get("host", "")
        if self.check_host and host_name(host) not in LOOPBACK_HOSTS:
            return (
                f"this server only answers requests addressed to 127.0.0.1 or localhost "
                f"(Host was {clip(repr(host))}); open it by that address"
            )
        if scope["method"] in SAFE_METHODS:
            return None
        origin = headers.get("origin")
        if origin is not None and origin != f"http://{host}":
            return (
                f"cross-origin request from {clip(repr(origin))} refused; "
                "state-changing calls must come from this server's own page or the CLI"
            )
        given = headers.get(TOKEN_HEADER, "")
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            what = "wrong" if given else "missing"
            return (
                f"{what} X-Alctl-Token header; the page sends it itself, "
                "scripts read it from <workspace>/.alctl/server.json"
            )
        return None
