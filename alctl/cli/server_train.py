"""`alctl train` with a server: start the session over the API and follow its events.

The event stream is opened before the start request so no event of our session can be
missed. Ctrl+C asks whether to stop the session or detach (no TTY: detach).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from alctl.cli.progress import TrainProgress
from alctl.cli.server_client import ApiClient, ServerError, SSEEvent, StreamClosed
from alctl.errors import EXIT_INTERRUPTED, exit_code
from ssvae.records.formats import plural

SAVE_WAIT_S = 120.0


def ask_stop_or_detach() -> str:
    """'s' or 'd'; without a terminal to ask on, detach (training goes on)."""
    if not sys.stdin.isatty():
        return "d"
    while True:
        try:
            answer = input("\nstop training or detach? [s/d] ").strip().lower()
        except EOFError:
            return "d"
        if answer[:1] in ("s", "d"):
            return answer[:1]


def train_remote(
    client: ApiClient,
    epochs: int | None,
    hparams: dict[str, Any],
    *,
    detach: bool,
    progress: TrainProgress | None = None,
    ask: Callable[[], str] = ask_stop_or_detach,
) -> int:
    """Start a session on the server and follow it to its end; returns the exit status."""
    progress = progress or TrainProgress()
    stream = None if detach else client.events()
    try:
        events = iter(stream) if stream is not None else None
        if events is not None:
            next(events)  # the snapshot: from here on we are subscribed
        started = client.start_training(epochs, **hparams)
        session = started.get("session")
        if events is None:
            progress.note(
                f"training session {session} started on {client.url} "
                f"({plural(started.get('epochs'), 'epoch')}); "
                "follow it on the page or with `alctl status`"
            )
            return 0
        try:
            return _follow(events, session, progress)
        except KeyboardInterrupt:
            return _interrupted(client, session, progress, ask)
        except StreamClosed:
            # A server drops a client that lags behind; a fresh stream resynchronises.
            progress.note("the event stream was cut; reconnecting…")
            return _await_end(client, session, progress)
    finally:
        if stream is not None:
            stream.close()


def _follow(events: Iterator[SSEEvent], session: int | None, progress: TrainProgress) -> int:
    for event in events:
        if not event.event.startswith("train_") or not isinstance(event.data, dict):
            continue
        if event.data.get("session") != session:
            continue  # another session's leftovers
        progress.handle(event.event, event.data)
        if event.event == "train_ended":
            _await_saved(events, event.data, progress)
            return exit_code(event.data)
    raise ServerError("the event stream ended before the training session did")


def _await_saved(
    events: Iterator[SSEEvent], result: dict[str, Any], progress: TrainProgress
) -> None:
    """Return once the server has saved the session, so `alctl train && alctl report` works.

    The server saves (checkpoint, history CSV, predictions) after `train_ended` and then
    sends `latent_refreshed`; a failed session without a complete epoch saves nothing.
    """
    if result.get("status") == "failed" and not result.get("epochs_run"):
        return
    deadline = time.monotonic() + SAVE_WAIT_S
    for event in events:
        if event.event == "latent_refreshed":
            progress.note("saved: checkpoint, history and the page's points are up to date")
            return
        if event.event == "error" and isinstance(event.data, dict):
            progress.note(f"server: {event.data.get('message')}")
        if time.monotonic() > deadline:
            break
    progress.note("the server is still saving the session; `alctl status` shows when it is done")


def _interrupted(
    client: ApiClient, session: int | None, progress: TrainProgress, ask: Callable[[], str]
) -> int:
    try:
        choice = ask()
    except KeyboardInterrupt:
        choice = "d"
    if choice != "s":
        progress.note(
            f"detached: session {session} keeps training on {client.url} "
            "(`alctl status` shows it; `alctl train` again follows a new one)"
        )
        return 0
    progress.note("stopping after the current batch…")
    try:
        client.stop_training()
    except ServerError as exc:
        if exc.status != 409:  # 409: it already ended; the snapshot below tells how
            raise
    try:
        return _await_end(client, session, progress)
    except KeyboardInterrupt:
        progress.note("not waiting any longer; the server is stopping the session")
        return EXIT_INTERRUPTED


def _await_end(client: ApiClient, session: int | None, progress: TrainProgress) -> int:
    # The old stream was cut mid-read by Ctrl+C; a fresh one starts with a snapshot that
    # holds the last result in case the session ended in between.
    with client.events() as stream:
        events = iter(stream)
        snapshot = next(events)
        training = (snapshot.data or {}).get("training") or {}
        last = training.get("last_result") or {}
        if training.get("state") == "idle" and last.get("session") == session:
            progress.handle("train_ended", last)
            return exit_code(last)
        return _follow(events, session, progress)
