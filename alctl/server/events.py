"""EventBus: publish from any thread, fan out to one bounded asyncio.Queue per SSE client.

Events are encoded to JSON once, at publish time, in the publishing thread (NaN/inf become
null, numpy scalars become numbers), so the event loop only moves strings around.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

QUEUE_SIZE = 1000
PROGRESS = "train_progress"  # the one event a client may ask to receive less often


def json_safe(value: Any) -> Any:
    """A copy of `value` that `json.dumps(allow_nan=False)` accepts: NaN/inf -> None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    # numpy scalars and arrays, without importing numpy here.
    if hasattr(value, "tolist"):
        return json_safe(value.tolist())
    if hasattr(value, "item"):
        return json_safe(value.item())
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def dumps(value: Any) -> str:
    return json.dumps(json_safe(value), allow_nan=False, separators=(",", ":"))


@dataclass
class Message:
    id: int
    event: str
    data: str

    def as_sse(self) -> dict[str, str]:
        return {"id": str(self.id), "event": self.event, "data": self.data}


@dataclass(eq=False)
class _Client:
    queue: asyncio.Queue[Message | None]
    page: bool = False  # a dashboard page (it says so), not the CLI or a script
    # At most one `train_progress` per this many seconds, the latest winning (0: every one).
    progress_every_s: float = 0.0
    progress_at: float = -math.inf  # when the last one went out (the loop's clock)
    held: Message | None = None  # the latest one not sent yet
    flush: asyncio.TimerHandle | None = None


def _cancel_flush(client: _Client) -> None:
    if client.flush is not None:
        client.flush.cancel()
        client.flush = None


class EventBus:
    """Thread-safe publisher; every connected client has its own queue on the event loop."""

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._ids = itertools.count(1)
        self._id_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clients: set[_Client] = set()  # touched only on the loop thread
        self._pages = 0  # page clients among them; written on the loop thread only
        self._closed = False
        self.dropped = 0  # clients dropped for a full queue (for tests and diagnostics)

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Bind to the running server's loop; publishing before this is a no-op."""
        self._loop = loop
        self._closed = False

    @property
    def client_count(self) -> int:
        return len(self._clients)

    @property
    def page_count(self) -> int:
        """Dashboard pages connected now (any thread may read it)."""
        return self._pages

    def publish(self, event: str, data: Mapping[str, Any]) -> None:
        """Queue `event` for every client; callable from any thread, never blocks."""
        with self._id_lock:
            message = Message(next(self._ids), event, dumps(data))
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._fan_out(message)
        else:
            # RuntimeError: the loop closed after the check, so nobody is listening.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._fan_out, message)

    def close(self) -> None:
        """End every stream (server shutdown); thread-safe."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._close_all)

    def _fan_out(self, message: Message) -> None:
        for client in list(self._clients):
            if client.progress_every_s <= 0:
                self._deliver(client, message)
            elif message.event == PROGRESS:
                self._pace(client, message)
            else:
                self._release_held(client)  # progress first: the order stays the bus's
                self._deliver(client, message)

    def _pace(self, client: _Client, message: Message) -> None:
        """Send a progress event now if the client's interval has passed, else hold it (the
        latest replaces the one held) until it has. On the loop thread."""
        assert self._loop is not None
        now = self._loop.time()
        if now - client.progress_at >= client.progress_every_s:
            client.progress_at = now
            self._deliver(client, message)
            return
        client.held = message
        if client.flush is None:
            at = client.progress_at + client.progress_every_s
            client.flush = self._loop.call_at(at, self._release_held, client)

    def _release_held(self, client: _Client) -> None:
        """Send the progress event held for `client`, if any, now. On the loop thread."""
        _cancel_flush(client)
        held, client.held = client.held, None
        if held is not None and client in self._clients:
            assert self._loop is not None
            client.progress_at = self._loop.time()
            self._deliver(client, held)

    def _deliver(self, client: _Client, message: Message) -> None:
        try:
            client.queue.put_nowait(message)
        except asyncio.QueueFull:
            # A stuck page would grow memory without bound; drop it, it reconnects
            # and resynchronises from a fresh snapshot.
            self.dropped += 1
            self._end(client)

    def _close_all(self) -> None:
        self._closed = True
        for client in list(self._clients):
            self._end(client)

    def _end(self, client: _Client) -> None:
        self._clients.discard(client)
        _cancel_flush(client)
        while not client.queue.empty():
            client.queue.get_nowait()
        client.queue.put_nowait(None)

    async def stream(
        self,
        snapshot: Callable[[], Mapping[str, Any]],
        *,
        page: bool = False,
        progress_every_s: float = 0.0,
    ) -> AsyncIterator[dict[str, str]]:
        """One client's events: `snapshot` first, then everything published after it.

        `page`: the client is a dashboard page; it counts in `page_count` until it leaves.
        `progress_every_s`: send `train_progress` at most this often, the latest winning (a
        page that repaints it every 2 s need not wake for 4 a second); every other event, and
        the progress held before it, goes out at once.
        """
        if self._closed:
            return
        client = _Client(asyncio.Queue(self._queue_size), page, progress_every_s)
        # Subscribe before taking the snapshot so nothing falls between the two.
        self._clients.add(client)
        self._pages += page
        try:
            # The id lock is a leaf: `snapshot()` takes the session's locks, and their holders
            # publish (take the id lock) while holding them, so it is called outside.
            with self._id_lock:
                first_id = next(self._ids)
            first = Message(first_id, "snapshot", dumps(snapshot()))
            yield first.as_sse()
            while True:
                message = await client.queue.get()
                if message is None:
                    return
                yield message.as_sse()
        finally:
            self._clients.discard(client)
            _cancel_flush(client)
            self._pages -= page
