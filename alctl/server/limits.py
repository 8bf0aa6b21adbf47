"""How much a request may send: body bytes, JSON nesting, labels per call.

The body is read in chunks and refused with 413 as soon as it passes the limit (or at once
when Content-Length says it will), so a 200 MB upload is never held in memory. JSON nested
deeper than Python's recursion limit is a 400, not a RecursionError from deep inside the
parser.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

MAX_LABELS_PER_POST = 60_000  # one POST /api/labels may label the whole training split
# 60,000 entries like `"59999": null, ` with generous spacing fit in well under 4 MB.
MAX_BODY_BYTES = 4 * 1024 * 1024


class RequestTooLarge(Exception):
    status = 413


class BadJson(Exception):
    status = 400


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole body, or RequestTooLarge once it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise _too_large(limit, f"{int(declared):,} bytes announced")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, "more were sent")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    """json.loads with plain-words errors for bad text and for absurd nesting."""
    try:
        return json.loads(body)
    except RecursionError:
        raise BadJson(
            "request body is nested too deeply to be a request of this API; send a flat JSON object"
        ) from None
    except ValueError as exc:
        raise BadJson(f"request body is not valid JSON ({exc}); send a JSON object") from None


def _too_large(limit: int, what: str) -> RequestTooLarge:
    return RequestTooLarge(
        f"request body too large ({what}; at most {limit // (1024 * 1024)} MB); "
        f"send at most {MAX_LABELS_PER_POST:,} labels per request"
    )
