"""How the server's long computations yield: to a training session, and to a stop.

`Pacer.background` is the pace of work nobody is waiting for (the queue's warm-up): it
pauses while a training session runs, because on a 2-core machine even the lowest CPU
priority takes a share from the trainer's threads, and it stops when the server stops.
`Pacer.request` is the pace of work a request waits for: it never pauses, and stops when
the server stops, so that a stop never waits for a computation whose answer nobody will
read. Both raise `Stopping` there; the computations call them between their steps
(ssvae.select.representative, ssvae.data.pixel_features).
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alctl.server.cpu_demand import BackgroundJobs

PAUSE_CHECK_S = 0.1  # how often a paused computation looks whether the server is stopping


class Stopping(Exception):
    """The server is stopping: the computation was abandoned."""

    status = 503

    def __init__(self) -> None:
        super().__init__("the server is stopping; ask again once it is back")


class Pacer:
    """`stopping`: set when the server begins to stop; `idle`: set while no session runs."""

    def __init__(self, stopping: threading.Event, idle: threading.Event) -> None:
        self.stopping, self.idle = stopping, idle

    def request(self) -> None:
        if self.stopping.is_set():
            raise Stopping()

    def background(self) -> None:
        self.request()
        while not self.idle.wait(PAUSE_CHECK_S):
            self.request()


class CountedPace:
    """`Pacer.background` for a job that `jobs` counts (alctl.server.cpu_demand) while it
    computes. The count drops while the job waits for a session to end: the trainer's thread
    policy leaves a core to each background job, and a paused one needs none.

    Use as `with CountedPace(pacer, jobs) as pace:` and call `pace()` between steps.
    """

    def __init__(self, pacer: Pacer, jobs: BackgroundJobs) -> None:
        self.pacer, self.jobs = pacer, jobs
        self._counted: contextlib.ExitStack | None = None

    def __call__(self) -> None:
        if not self.pacer.idle.is_set():
            self._uncount()
        self.pacer.background()
        if self._counted is None:
            self._counted = contextlib.ExitStack()
            self._counted.enter_context(self.jobs.running())

    def _uncount(self) -> None:
        if self._counted is not None:
            self._counted.close()
            self._counted = None

    def __enter__(self) -> CountedPace:
        return self

    def __exit__(self, *exc: object) -> None:
        self._uncount()
