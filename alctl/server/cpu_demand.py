"""What else in the server wants the CPU while the trainer runs: pages and background jobs.

The trainer's thread policy (ssvae.train.threads) reads `ServerDemand.now()` between batches:
the pages connected to the event stream (EventBus.page_count) and the background jobs running
(queue warm-up, a report, a decode grid), each counted while it runs.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from alctl.server.events import EventBus
from ssvae.train.threads import Demand


class BackgroundJobs:
    """A thread-safe count of the background jobs running now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    @property
    def count(self) -> int:
        return self._count

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Counts the calling block as one background job while it runs."""
        with self._lock:
            self._count += 1
        try:
            yield
        finally:
            with self._lock:
                self._count -= 1


class ServerDemand:
    """The server's part of the trainer's `Demand` (the machine's load is measured apart)."""

    def __init__(self, bus: EventBus, jobs: BackgroundJobs) -> None:
        self.bus, self.jobs = bus, jobs

    def now(self) -> Demand:
        return Demand(pages=self.bus.page_count, background=self.jobs.count)
