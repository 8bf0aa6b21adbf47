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

import threading

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
