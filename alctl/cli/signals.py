"""Signal handlers for the length of a `with` block, shared by the commands that train here."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def handling(handler: Callable[[int, Any], None], *signums: int) -> Iterator[None]:
    """While active, `handler` answers `signums`; the previous handlers come back after.

    Signals reach the main thread only, so elsewhere (a test runner's thread) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in signums}
    try:
        yield
    finally:
        for sig, action in previous.items():
            signal.signal(sig, action)


@contextlib.contextmanager
def stop_on_ctrl_c(stop: threading.Event, note: Callable[[str], None]) -> Iterator[None]:
    """While active, Ctrl+C (or SIGTERM) sets `stop` instead of raising or ending the process
    (the trainer checks it per batch; the session is then saved); `note` tells the user."""

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            note("already stopping: the model is saved after the current batch")
        else:
            note("stopping after the current batch; the model will be saved…")
        stop.set()

    with handling(handler, signal.SIGINT, signal.SIGTERM):
        yield
