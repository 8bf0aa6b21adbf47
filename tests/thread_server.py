"""The alctl app under real uvicorn in a thread of the test process.

API tests use this instead of `alctl serve` so that torch is imported once per test run,
not once per server; run_server's own glue (signals, discovery) is tested with real
processes in test_server_cli.py.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.live_server import Answer, fetch, free_port


@dataclass
class ThreadServer:
    url: str
    token: str
    session: Any  # alctl.server.session.WorkspaceSession

    def api(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Answer:
        kwargs.setdefault("token", self.token)
        return fetch(self.url.rstrip("/") + path, method, body, **kwargs)


@contextlib.contextmanager
def thread_server(
    session: Any, token: str = "test-token", **app_options: Any
) -> Iterator[ThreadServer]:
    """create_app(session) under real uvicorn on a free loopback port, in a thread."""
    import uvicorn

    from alctl.server.app import create_app

    app = create_app(session, token, **app_options)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=free_port(), log_level="warning", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("the in-thread server did not start")
        time.sleep(0.02)
    try:
        yield ThreadServer(f"http://127.0.0.1:{config.port}/", token, session)
    finally:
        session.bus.close()  # what run_server's signal handler does: end the SSE streams
        server.should_exit = True
        thread.join(30)


def make_session(workspace: Path, data_dir: Path, dataset: str = "mnist") -> Any:
    """A WorkspaceSession on the tiny dataset with its model loaded and points computed."""
    import torch

    from alctl.server.events import EventBus
    from alctl.server.session import WorkspaceSession
    from ssvae.data.datasets import load_dataset
    from ssvae.io.workspace import Workspace

    torch.set_num_threads(1)  # two cores, shared with the server thread and other tests
    data = load_dataset(dataset, data_dir)
    session = WorkspaceSession(Workspace(workspace, data.name), data, EventBus())
    session.load_model()
    session.compute_points()
    return session


@contextlib.contextmanager
def served_workspace(workspace: Path, data_dir: Path) -> Iterator[ThreadServer]:
    """make_session + thread_server: a ready server over a fresh workspace."""
    with thread_server(make_session(workspace, data_dir)) as running:
        yield running
