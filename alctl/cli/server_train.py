"""`alctl train` with a server: start the session over the API and follow its events.

The event stream is opened before the start request so no event of our session can be
missed. Ctrl+C asks whether to stop the session or detach (no TTY: detach).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

from alctl.cli.progress import TrainProgress
from alctl.cli.server_client import ApiClient, ServerError, SSEEvent, StreamClosed
from alctl.errors import EXIT_INTERRUPTED, exit_code
from ssvae.records.formats import plural


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
    """Show the session's events until the server says what it saved (`session_saved`, once
    the checkpoint, history and page points are written: `alctl train && alctl report` sees
    them)."""
    ended: dict[str, Any] = {}
    for event in events:
        data = event.data if isinstance(event.data, dict) else {}
        if event.event == "error" and ended:
            progress.note(f"server: {data.get('message')}")
            continue
        if data.get("session") != session:
            continue  # another session's leftovers
        if event.event.startswith("train_"):
            progress.handle(event.event, data)
            if event.event == "train_ended":
                ended = data
        elif event.event == "session_saved":
            progress.saved(data, data.get("checkpoint", "the checkpoint"))
            return exit_code({**ended, **data})
    raise ServerError("the event stream ended before the training session was saved")


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
            if last.get("saved") is not None:
                progress.saved(last, "the checkpoint")
            return exit_code(last)
        return _follow(events, session, progress)
