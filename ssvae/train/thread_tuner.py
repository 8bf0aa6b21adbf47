"""Which thread count trains fastest right now: measured, not assumed.

How fast a thread count runs depends on the model and on what shares the machine. On 2 cores
a convolutional classifier ran 1.4 times faster on two threads than on one with nothing else
running, but a page repainting in software now and then made two threads wait for each other
at every barrier, and one thread was the faster (benchmarks/bench_page_cost.py). No fixed
rule gets both cases, so the trainer times them: it runs at its count, and now and then times
a probe of the next count over (one fewer, or one more within what the policy allows) for a
couple of seconds. The faster one, by a margin, is kept. A probe that loses makes the next one
wait twice as long, so a settled choice costs under 1 % of the time; a change in what else
runs (a page connects, a background job starts) starts over.

Times are means of whole batches over at least `probe_s` seconds: a neighbour's cost shows as
a few long batches, which a median would hide.
"""

from __future__ import annotations

import time
from collections.abc import Callable

PROBE_EVERY_S = 10.0  # seconds at a count before the next count over is timed (doubles on a loss)
PROBE_EVERY_MAX_S = 80.0
PROBE_S = 2.0  # a timing covers at least this long: a periodic neighbour shows in it
PROBE_BATCHES = 12  # and at least this many batches
WARMUP_BATCHES = 2  # batches after a change of count, not timed (the thread pool resizes)
BETTER_BY = 0.05  # the other count is kept when its batches take this much less time


class SpeedTuner:
    """Times batches per thread count and picks the count to run the next batch with.

    Fed by `next_count(settled, cap, batch_seconds)` once per batch, in the trainer's thread
    (no lock: one thread owns it). `settled` is the count the trainer runs with outside
    probes; `measured` the mean seconds a batch last took at each count.
    """

    def __init__(
        self,
        *,
        probe_every_s: float = PROBE_EVERY_S,
        probe_s: float = PROBE_S,
        probe_batches: int = PROBE_BATCHES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.first_every_s = probe_every_s
        self.probe_s, self.probe_batches = probe_s, probe_batches
        self.clock = clock
        self.measured: dict[int, float] = {}
        self.settled: int | None = None
        self.probing: int | None = None  # the count being timed now, if any
        self._every_s = probe_every_s
        self._since = clock()
        self._times: list[float] = []  # batch seconds at the count running now
        self._skip = WARMUP_BATCHES
        self._down = True  # the next probe tries one fewer thread (else one more)

    def start(self, count: int) -> None:
        """A new session, or a change in what else runs: forget the timings, run `count`."""
        self.measured.clear()
        self.settled, self.probing = count, None
        self._every_s = self.first_every_s
        self._restart_timing()

    def next_count(self, cap: int, batch_seconds: float | None) -> int:
        """The count to run the next batch with, after a batch that took `batch_seconds`
        (None: not a whole batch, e.g. the first after validation). `cap` is the most the
        policy allows now."""
        if self.settled is None or self.settled > cap:
            self.start(cap)
        assert self.settled is not None
        if self.probing is not None and self.probing > cap:
            self.probing = None
            self._restart_timing()
        if batch_seconds is not None:
            if self._skip:
                self._skip -= 1
            else:
                self._times.append(batch_seconds)
        if not self._timed():
            return self.probing or self.settled
        mean = sum(self._times) / len(self._times)
        if self.probing is None:
            self.measured[self.settled] = mean
            other = self._other(cap)
            if other is not None and self.clock() - self._since >= self._every_s:
                self.probing = other
                self._restart_timing()
            else:
                self._slide()
            return self.probing or self.settled
        self.measured[self.probing] = mean
        if mean < (1.0 - BETTER_BY) * self.measured.get(self.settled, float("inf")):
            self.settled, self._every_s = self.probing, self.first_every_s
        else:
            self._every_s = min(PROBE_EVERY_MAX_S, 2 * self._every_s)
            self._down = not self._down
        self.probing = None
        self._since = self.clock()
        self._restart_timing()
        return self.settled

    def _timed(self) -> bool:
        return len(self._times) >= self.probe_batches and sum(self._times) >= self.probe_s

    def _slide(self) -> None:
        """Keep the newest batches that still make a whole timing: a rolling window."""
        total = sum(self._times)
        drop = 0
        while (
            len(self._times) - drop > self.probe_batches
            and total - self._times[drop] >= self.probe_s
        ):
            total -= self._times[drop]
            drop += 1
        del self._times[:drop]

    def _other(self, cap: int) -> int | None:
        """The next count over to time: one fewer or one more (alternating), within 1..cap."""
        assert self.settled is not None
        down, up = self.settled - 1, self.settled + 1
        choices = [down, up] if self._down else [up, down]
        return next((c for c in choices if 1 <= c <= cap), None)

    def _restart_timing(self) -> None:
        self._times, self._skip = [], WARMUP_BATCHES
