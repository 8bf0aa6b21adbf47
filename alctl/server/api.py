"""JSON route handlers: parse and validate the request, call WorkspaceSession, answer.

Blocking work (label file writes, torch) goes through `run_in_threadpool`; the event loop
only ever does dictionary work here. Computations that change nothing (the queue, samples,
decoding, the evaluation, the report) go through `_computed` instead: when the server stops,
their request is cancelled at once, not after the computation (its answer would reach a page
that is going away). Writes are always waited for.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, TypeVar

import anyio.to_thread
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from alctl import decode_request
from alctl.server.disk import DiskRefused
from alctl.server.events import dumps
from alctl.server.label_state import LabelFileError
from alctl.server.limits import (
    MAX_LABELS_PER_POST,
    BadJson,
    RequestTooLarge,
    parse_json,
    read_body,
)
from alctl.server.pacing import Stopping
from alctl.server.report_file import ReportBusy, ReportUnavailable
from alctl.server.rollback import RollbackRefused, rollback_session
from alctl.server.security import SOURCE_HEADER
from alctl.server.session import SessionError, WorkspaceSession
from alctl.server.training_thread import NotTraining, TrainingBusy
from alctl.server.write_order import HEADER as WRITE_HEADER
from alctl.server.write_order import SupersededWrite, WriteTicketError, parse_ticket
from ssvae.config import LABEL_WORDS, SESSION_PARAMS, is_label
from ssvae.config.hparams import HyperparameterError, check_values
from ssvae.io.checkpoint_lock import CheckpointBusy, LockUnavailable
from ssvae.io.strict_input import clip, is_decimal

SOURCES = ("page", "cli", "import")
MAX_PROGRESS_MS = 60_000
MESSAGE_LIMIT = 600  # characters of an error message
HEAVY_DECODE = 64  # points: a decode of more marks a burst, after which memory is released


T = TypeVar("T")


async def _computed(work: Callable[..., T], *args: Any) -> T:
    """`work(*args)` in a worker thread, abandoned (left to finish alone) if the request is
    cancelled: a stop's graceful wait then never waits for it (alctl.server.run)."""
    return await anyio.to_thread.run_sync(functools.partial(work, *args), abandon_on_cancel=True)


class ApiError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class SafeJSONResponse(JSONResponse):
    """JSON with NaN/inf as null (Starlette's renderer refuses them)."""

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")


def error_response(
    message: str, status: int, headers: dict[str, str] | None = None
) -> SafeJSONResponse:
    # Every refusal passes here: whatever a message quotes from the request, it stays short.
    return SafeJSONResponse(
        {"error": clip(message, MESSAGE_LIMIT)}, status_code=status, headers=headers
    )


def _session(request: Request) -> WorkspaceSession:
    return request.app.state.session


def _source(request: Request) -> str:
    source = request.headers.get(SOURCE_HEADER, "page").strip().lower()
    return source if source in SOURCES else "page"


def _ticket(request: Request) -> tuple[str, int] | None:
    return parse_ticket(request.headers.get(WRITE_HEADER))


def _serial(request: Request) -> int:
    text = request.path_params["serial"]
    n = _session(request).n_samples
    if text.startswith("-") and is_decimal(text[1:]):
        raise ApiError(f"serial {clip(text)} is outside the dataset (0..{n - 1})", 404)
    if not is_decimal(text):
        raise ApiError(
            f"serial must be an integer 0..{n - 1} written with the digits 0-9, "
            f"got {clip(repr(text))}"
        )
    serial = int(text)
    if not 0 <= serial < n:
        raise ApiError(f"serial {clip(text)} is outside the dataset (0..{n - 1})", 404)
    return serial


def _label(value: Any, where: str = "label") -> int:
    if not is_label(value):
        raise ApiError(f"{where} must be an integer {LABEL_WORDS}, got {clip(json.dumps(value))}")
    return value


async def _json_object(request: Request) -> dict[str, Any]:
    body = await read_body(request)
    if not body.strip():
        return {}
    data = parse_json(body)
    if not isinstance(data, dict):
        raise ApiError(f"request body must be a JSON object, got {type(data).__name__}")
    return data


def parse_train_request(body: dict[str, Any]) -> tuple[int | None, dict[str, Any]]:
    """(epochs or None, hyperparameter overrides) from a POST /api/train body, or ApiError.

    The fields and their ranges are the schema's (ssvae.config.SESSION_PARAMS).
    """
    try:
        values = check_values(SESSION_PARAMS, body)
    except HyperparameterError as exc:
        raise ApiError(str(exc)) from None
    epochs = values.pop("epochs", None)
    return epochs, values


async def status(request: Request) -> Response:
    return SafeJSONResponse(_session(request).status())


async def points(request: Request) -> Response:
    body, version = _session(request).points_payload()
    n = _session(request).n_samples
    headers = {
        "X-Points-Count": str(n),
        "X-Latent-Version": str(version),
        "Cache-Control": "no-store",
    }
    return Response(body, media_type="application/octet-stream", headers=headers)


async def queue(request: Request) -> Response:
    from alctl.queue_request import check_request

    query = request.query_params
    try:
        strategy, n = check_request(query.get("strategy"), query.get("n", "20"))
    except ValueError as exc:
        raise ApiError(str(exc)) from None
    return SafeJSONResponse(await _computed(_session(request).queue, strategy, n))


async def sample(request: Request) -> Response:
    data = await _computed(_session(request).sample, _serial(request))
    return SafeJSONResponse(data)


async def sample_png(request: Request) -> Response:
    kind = request.path_params["kind"]
    if kind not in ("original", "recon"):
        raise ApiError(f"unknown image {clip(repr(kind))}; use original.png or recon.png", 404)
    data = await _computed(_session(request).sample_png, _serial(request), kind)
    # An original never changes while the server runs; a reconstruction does after training.
    cache = "private, max-age=3600" if kind == "original" else "no-store"
    return Response(data, media_type="image/png", headers={"Cache-Control": cache})


async def decode(request: Request) -> Response:
    """Images at points of the plane: GET ?x=&y= (one point) or POST points / a grid."""
    if request.method == "GET":
        parsed = decode_request.parse_query(dict(request.query_params))
    else:
        parsed = decode_request.parse_body(await _json_object(request))
    session = _session(request)
    # A grid's temporaries are what a burst leaves behind; a cursor preview's are not.
    with session.after_burst.heavy() if len(parsed.points) > HEAVY_DECODE else nullcontext():
        data = await _computed(session.decode, parsed)
    headers = {"Server-Timing": f"decode;dur={data['decode_ms']:.2f}", "Cache-Control": "no-store"}
    return SafeJSONResponse(data, headers=headers)


async def labels(request: Request) -> Response:
    session = _session(request)
    fmt = request.query_params.get("format", "json")
    if fmt == "csv":
        return PlainTextResponse(session.labels_csv(), media_type="text/csv")
    if fmt != "json":
        raise ApiError(f"format must be json or csv, got {clip(repr(fmt))}")
    return SafeJSONResponse(session.labels_json())


async def put_label(request: Request) -> Response:
    serial = _serial(request)
    body = await _json_object(request)
    if "label" not in body or len(body) != 1:
        unknown = sorted(set(body) - {"label"})
        extra = f"; unknown field(s) {clip(', '.join(unknown))}" if unknown else ""
        raise ApiError('send {"label": 0-9} (use DELETE to remove a label)' + extra)
    label = _label(body["label"])
    return await _timed_label_write(request, serial, label)


async def delete_label(request: Request) -> Response:
    return await _timed_label_write(request, _serial(request), None)


async def _timed_label_write(request: Request, serial: int, label: int | None) -> Response:
    # Server-Timing lets the page and the benchmarks see the durable-write time alone.
    started = time.perf_counter()
    ticket = _ticket(request)
    result = await run_in_threadpool(
        _session(request).set_label, serial, label, _source(request), ticket
    )
    elapsed_ms = (time.perf_counter() - started) * 1000
    return SafeJSONResponse(result, headers={"Server-Timing": f"label;dur={elapsed_ms:.2f}"})


async def post_labels(request: Request) -> Response:
    session = _session(request)
    body = await _json_object(request)
    raw = body.get("labels")
    if not isinstance(raw, dict) or set(body) != {"labels"}:
        raise ApiError('send {"labels": {"<serial>": 0-9 or null, ...}}')
    if len(raw) > MAX_LABELS_PER_POST:
        raise RequestTooLarge(
            f"{len(raw):,} labels in one request; send at most {MAX_LABELS_PER_POST:,} per request"
        )
    changes: dict[int, int | None] = {}
    for key, value in raw.items():
        if key.startswith("-") and is_decimal(key[1:]):
            raise ApiError(
                f"serial {clip(key)} is outside the dataset (0..{session.n_samples - 1})"
            )
        if not is_decimal(key):
            raise ApiError(
                f"serial {clip(repr(key))} is not an integer written with the digits 0-9"
            )
        serial = int(key)
        if not 0 <= serial < session.n_samples:
            raise ApiError(f"serial {serial} is outside the dataset (0..{session.n_samples - 1})")
        changes[serial] = None if value is None else _label(value, f"label for serial {serial}")
    result = await run_in_threadpool(
        session.update_labels, changes, _source(request), _ticket(request)
    )
    return SafeJSONResponse(result)


async def train(request: Request) -> Response:
    session = _session(request)
    body = await _json_object(request)
    epochs, overrides = parse_train_request(body)
    result = await run_in_threadpool(session.start_training, epochs, overrides)
    return SafeJSONResponse(result, status_code=202)


async def train_stop(request: Request) -> Response:
    return SafeJSONResponse(_session(request).stop_training(), status_code=202)


async def checkpoint_rollback(request: Request) -> Response:
    body = await _json_object(request)
    if body:
        raise ApiError("send no body (or {}) to go back to the previous checkpoint")
    return SafeJSONResponse(await run_in_threadpool(rollback_session, _session(request)))


async def evaluation(request: Request) -> Response:
    """Per-class accuracy and the confusion matrix on the test split (cached per version)."""
    session = _session(request)
    with session.after_burst.heavy():
        return SafeJSONResponse(await _computed(session.evaluation))


async def write_report(request: Request) -> Response:
    """Write the static report of the saved model into the workspace; say where and its URL."""
    if await _json_object(request):
        raise ApiError("send no body (or {}) to write the report")
    session = _session(request)
    with session.after_burst.heavy():
        answer = await _computed(session.report.write)
    return SafeJSONResponse(answer, status_code=201)


async def report_page(request: Request) -> Response:
    """The report of the saved model, brought up to date first (one fixed file: nothing in
    the request names one)."""
    try:
        path = await run_in_threadpool(_session(request).report.current)
    except ReportUnavailable as exc:
        return PlainTextResponse(f"No report yet: {exc}.", 404)
    return FileResponse(path, media_type="text/html", headers={"Cache-Control": "no-store"})


async def history(request: Request) -> Response:
    return SafeJSONResponse(_session(request).history())


async def events(request: Request) -> Response:
    # The page opens ?client=page: pages count in the trainer's thread policy, the CLI does not.
    # ?progress_ms=N: batch progress at most every N ms (a page that repaints it seldom).
    page = request.query_params.get("client") == "page"
    raw = request.query_params.get("progress_ms", "0")
    if not is_decimal(raw) or int(raw) > MAX_PROGRESS_MS:
        raise ApiError(
            f"progress_ms must be a whole number of milliseconds from 0 to {MAX_PROGRESS_MS}, "
            f"got {clip(repr(raw))}"
        )
    return EventSourceResponse(
        _session(request).event_stream(page=page, progress_every_s=int(raw) / 1000),
        ping=request.app.state.ping_s,
        headers={"Cache-Control": "no-store"},
    )


async def not_found(request: Request) -> Response:
    allowed = _methods_for(request)
    if allowed:
        return error_response(
            f"{request.method} is not allowed on {clip(request.url.path)}; "
            f"use {' or '.join(allowed)}",
            405,
            headers={"Allow": ", ".join(allowed)},
        )
    raise ApiError(f"no API route {request.method} {clip(request.url.path)}; see docs/api.md", 404)


def _methods_for(request: Request) -> list[str]:
    """Methods the app's other routes answer on this path (the catch-all excluded)."""
    path = request.url.path
    methods: set[str] = set()
    for route in request.app.routes:
        if (
            isinstance(route, Route)
            and route.endpoint is not not_found
            and route.methods
            and route.path_regex.match(path)
        ):
            methods |= route.methods - {"HEAD"}
    return sorted(methods)


# Refusals that carry their HTTP status; their message says what to do.
REFUSALS = (
    ApiError,
    decode_request.DecodeRequestError,
    SessionError,
    TrainingBusy,
    NotTraining,
    LabelFileError,
    DiskRefused,
    SupersededWrite,
    WriteTicketError,
    RollbackRefused,
    CheckpointBusy,
    LockUnavailable,
    ReportBusy,
    ReportUnavailable,
    RequestTooLarge,
    BadJson,
    Stopping,
)


async def handle_refusal(request: Request, exc: Exception) -> Response:
    return error_response(str(exc), getattr(exc, "status", 400))
