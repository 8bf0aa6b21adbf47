"""create_app(): the Starlette application around one WorkspaceSession.

Routes are the documented API (docs/api.md), the page and `/static`. The lifespan
binds the EventBus to the running loop and runs two small background tasks: the label-file
watcher (outside edits become `labels` events) and the progress ticker.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from alctl.resources import static_dir, templates_dir
from alctl.server import api
from alctl.server.memory import release_free_memory
from alctl.server.security import SecurityMiddleware
from alctl.server.session import WorkspaceSession
from ssvae.config import SESSION_PARAMS
from ssvae.config.hparams import schema_json
from ssvae.select.ranking import DEFAULT_STRATEGY, STRATEGIES

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
TICK_S = 0.1
BURST_CHECK_S = 1.0


def create_app(
    session: WorkspaceSession,
    token: str,
    *,
    bind_host: str = "127.0.0.1",
    ping_s: float = 15.0,
    label_poll_s: float = 1.0,
) -> Starlette:
    """The app for one session; `token` guards every state-changing call."""
    templates = Jinja2Templates(directory=str(templates_dir()))

    async def index(request: Request) -> Response:
        context = {
            "token": token,
            "dataset": session.dataset.name,
            "dataset_source": session.dataset.source,
            "class_names": list(session.dataset.class_names),
            "n_samples": session.n_samples,
            # What the page keys its stored pending labels and undo history by.
            "workspace": str(session.workspace.root),
            "labels_file": str(session.workspace.labels_csv),
            "static_url": _static_url,
            "train_params": schema_json(SESSION_PARAMS.values()),  # the page's inputs
            # The queue's chooser; the page starts on the first, so the default leads.
            "strategies": [DEFAULT_STRATEGY, *(s for s in STRATEGIES if s != DEFAULT_STRATEGY)],
        }
        response = templates.TemplateResponse(request, "index.html", context)
        response.headers["Cache-Control"] = "no-store"  # it embeds this server's token
        return response

    routes = [
        Route("/", index),
        Route("/api/status", api.status),
        Route("/api/points", api.points),
        Route("/api/queue", api.queue),
        Route("/api/samples/{serial}", api.sample),
        Route("/api/samples/{serial}/{kind}.png", api.sample_png),
        Route("/api/decode", api.decode, methods=["GET", "POST"]),
        Route("/api/labels", api.labels, methods=["GET"]),
        Route("/api/labels", api.post_labels, methods=["POST"]),
        Route("/api/labels/{serial}", api.put_label, methods=["PUT"]),
        Route("/api/labels/{serial}", api.delete_label, methods=["DELETE"]),
        Route("/api/train", api.train, methods=["POST"]),
        Route("/api/train/stop", api.train_stop, methods=["POST"]),
        Route("/api/checkpoint/rollback", api.checkpoint_rollback, methods=["POST"]),
        Route("/api/history", api.history),
        Route("/api/evaluation", api.evaluation),
        Route("/api/report", api.write_report, methods=["POST"]),
        Route("/report", api.report_page),
        Route("/api/events", api.events),
        Route("/api/{rest:path}", api.not_found, methods=ALL_METHODS),
        Mount("/static", StaticFiles(directory=str(static_dir())), name="static"),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        session.bus.attach(asyncio.get_running_loop())
        tasks = [
            asyncio.create_task(_every(label_poll_s, _check_files(session))),
            asyncio.create_task(_every(TICK_S, _tick(session))),
            asyncio.create_task(_every(BURST_CHECK_S, _release_after_bursts(session))),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            session.bus.close()
            await run_in_threadpool(session.shutdown)

    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityMiddleware, token=token, bind_host=bind_host)],
        exception_handlers={
            **{refusal: api.handle_refusal for refusal in api.REFUSALS},
            HTTPException: _http_error,
            Exception: _server_error,
        },
        lifespan=lifespan,
    )
    app.state.session = session
    app.state.ping_s = ping_s
    return app


def _static_url(path: str) -> str:
    return "/static/" + path.lstrip("/")


async def _every(seconds: float, step: Callable[[], Awaitable[None]]) -> None:
    while True:
        await asyncio.sleep(seconds)
        await step()


def _check_files(session: WorkspaceSession) -> Callable[[], Awaitable[None]]:
    async def step() -> None:
        try:
            await run_in_threadpool(session.labels.check_file)
        except Exception as exc:  # the watcher must outlive a bad moment on the disk
            session.bus.publish("error", {"message": f"cannot check the labels file: {exc}"})
        try:
            await run_in_threadpool(session.check_checkpoint)
        except Exception as exc:
            session.bus.publish("error", {"message": f"cannot check the checkpoint: {exc}"})

    return step


def _tick(session: WorkspaceSession) -> Callable[[], Awaitable[None]]:
    async def step() -> None:
        session.training.tick()

    return step


def _release_after_bursts(session: WorkspaceSession) -> Callable[[], Awaitable[None]]:
    async def step() -> None:
        if session.after_burst.due():
            await run_in_threadpool(release_free_memory)

    return step


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/"):
        return api.error_response(str(exc.detail), exc.status_code)
    return PlainTextResponse(str(exc.detail), status_code=exc.status_code)


async def _server_error(request: Request, exc: Exception) -> Response:
    message: Any = f"internal error ({type(exc).__name__}: {exc}); see the server's terminal"
    return api.error_response(message, 500)
