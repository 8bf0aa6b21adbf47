"""How many threads torch's trainer uses: chosen for the machine and for what else runs on it.

Torch splits each operation over OpenMP threads that meet at a barrier when it ends. When
something else takes one of their cores, even for a few milliseconds, the thread there holds
up all the others at the next barrier. On 2 cores a page using 11 % of one core cost two threads
42 % of their speed, and on a machine busier than its cores two threads ran 18 times slower
than one (benchmarks/bench_page_cost.py). So the trainer uses every core only while nothing
else needs one: each background job of the process and each core's worth of other runnable
work on the machine takes one thread away, down to one.

`choose_threads` is the policy, a pure function: the most threads the trainer may use.
Within it, the count is the one measured fastest (ssvae.train.thread_tuner). `ThreadGovernor`
applies both in the trainer's own thread (OpenMP's thread count belongs to the thread that
sets it) when a session starts and between batches. A count the user gives (`--threads`,
or OMP_NUM_THREADS, the variable torch honours) wins over both.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ssvae.records.events import BatchProgress, TrainingCallback
from ssvae.records.formats import plural
from ssvae.train.thread_tuner import SpeedTuner

ENV_VAR = "OMP_NUM_THREADS"
CHECK_EVERY_S = 0.25  # between batches, the policy is asked again at most this often
BUSY_HALF_LIFE_S = 3.0  # the machine's other load is an average over a few seconds


@dataclass(frozen=True)
class Demand:
    """What else wants the CPU while the trainer runs."""

    pages: int = 0  # dashboard pages connected to the server
    background: int = 0  # background jobs of this process (queue warm-up, report, decode)
    busy: float = 0.0  # other processes' runnable threads on the machine, on average


def choose_threads(cores: int, demand: Demand = Demand(), user: int | None = None) -> int:
    """The trainer's thread count: `user` when given, else every core that nothing else needs.

    Each background job takes a core; so does each whole core's worth of other work on the
    machine (`busy`, rounded). A connected page takes none: a page at rest costs a few % of
    one core, less than a thread is worth.
    """
    if user is not None:
        return max(1, user)
    reserved = demand.background + math.floor(demand.busy + 0.5)
    return max(1, min(cores, cores - reserved))


def describe_choice(cores: int, demand: Demand, user: int | None, source: str) -> str:
    """Why the count is what it is, in a few words (status, the page's header)."""
    if user is not None:
        return f"set by {source}"
    others = []
    if demand.background:
        others.append(f"{demand.background} background job{'s' * (demand.background > 1)}")
    if demand.busy >= 0.5:
        others.append(f"other programs on {demand.busy:.1f} cores")
    if not others:
        return f"all {cores} cores: nothing else needs them"
    return f"{cores} cores; also running: {', '.join(others)}"


def available_cores() -> int:
    """Cores this process may run on (its affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def user_threads(
    option: int | None = None, environ: Mapping[str, str] = os.environ
) -> tuple[int | None, str]:
    """The count the user asked for and where it came from: `--threads`, else OMP_NUM_THREADS.

    Raises ValueError for an OMP_NUM_THREADS that is not a positive whole number (OpenMP takes
    the first of a comma-separated list, so do we).
    """
    if option is not None:
        if option < 1:
            raise ValueError(f"--threads must be 1 or more, not {option}")
        return option, "--threads"
    raw = environ.get(ENV_VAR, "").strip()
    if not raw:
        return None, "policy"
    first = raw.split(",")[0].strip()
    if not first.isdigit() or int(first) < 1:
        raise ValueError(f"{ENV_VAR}={raw!r}: give a whole number of threads, 1 or more")
    return int(first), ENV_VAR


CpuSeconds = Callable[[], "tuple[float, float] | None"]  # (whole machine, this process)


def proc_cpu_seconds(proc: Path = Path("/proc")) -> CpuSeconds:
    """A reader of the CPU seconds used so far by the whole machine (/proc/stat: all but idle
    and I/O wait) and by this process (/proc/self/stat); None where /proc cannot be read."""
    try:
        tick_s = 1.0 / os.sysconf("SC_CLK_TCK")
    except (AttributeError, ValueError, OSError):  # not POSIX
        tick_s = 0.01

    def read() -> tuple[float, float] | None:
        try:
            first = (proc / "stat").read_text().splitlines()[0].split()
            # user nice system idle iowait irq softirq steal
            machine = sum(int(v) for i, v in enumerate(first[1:9]) if i not in (3, 4))
            ours = (proc / "self" / "stat").read_text()
            fields = ours[ours.rindex(")") + 2 :].split()
            own = int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            return None
        return machine * tick_s, own * tick_s

    return read


class MachineLoad:
    """Other processes' CPU use, in cores, averaged over a few seconds.

    The machine's busy CPU time less this process's own between two readings, over the time
    between them: an exact account, unlike the run queue's length at an instant, which our
    own threads' comings and goings made jump (a browser at 4 % of a core read as a busy
    core). Where the CPU time cannot be read, the machine counts as idle.
    """

    def __init__(
        self,
        half_life_s: float = BUSY_HALF_LIFE_S,
        read: CpuSeconds | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.half_life_s = half_life_s
        self.read = read or proc_cpu_seconds()
        self.clock = clock
        self.average = 0.0
        self._last: tuple[float, float, float] | None = None  # (time, machine s, ours s)
        self._averaged = False

    def sample(self) -> float:
        """Take one reading into the average and return the average."""
        now = self.clock()
        totals = self.read()
        if totals is None:
            return self.average
        last, self._last = self._last, (now, *totals)
        if last is None or now <= last[0]:
            return self.average
        elapsed = now - last[0]
        reading = max(0.0, (totals[0] - last[1]) - (totals[1] - last[2])) / elapsed
        if not self._averaged:
            self.average, self._averaged = reading, True
        else:
            weight = 0.5 ** (elapsed / self.half_life_s)
            self.average = weight * self.average + (1 - weight) * reading
        return self.average


class ThreadGovernor(TrainingCallback):
    """Applies the policy in the trainer's thread: when a session starts (the trainer calls
    `apply()`), then between batches. Changing the count there costs about 10 µs, and the
    next batch runs with it.

    `demand` reports pages and background jobs (the server's); the machine's load is measured
    here unless `load` is None. `choose_threads` gives the most threads the trainer may use
    (asked at most every `check_every_s`); with a `tuner`, the count within that is the one
    measured fastest (ssvae.train.thread_tuner). `in_use` is the count the trainer runs with
    (before the first session: the one it will start with); a tuner's short timing of
    another count does not change it.
    """

    def __init__(
        self,
        demand: Callable[[], Demand] = Demand,
        *,
        user: int | None = None,
        source: str = "policy",
        cores: int | None = None,
        load: MachineLoad | None = None,
        check_every_s: float = CHECK_EVERY_S,
        tuner: SpeedTuner | None = None,
    ) -> None:
        self.demand = demand
        self.user, self.source = user, source
        self.cores = cores or available_cores()
        self.load = load
        self.check_every_s = check_every_s
        self.tuner = tuner if user is None else None
        self._checked = -math.inf
        self._cap = self.choose()
        self._conditions: tuple[int, int, int] | None = None
        self._last_batch_at: float | None = None
        self.in_use = self._cap

    @classmethod
    def for_process(
        cls,
        demand: Callable[[], Demand] = Demand,
        option: int | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> ThreadGovernor:
        """The governor every path uses: `--threads` (`option`), else OMP_NUM_THREADS, else the
        policy with the machine's load measured and the count tuned by speed. ValueError for a
        bad OMP_NUM_THREADS."""
        user, source = user_threads(option, environ)
        if user is not None:
            return cls(demand, user=user, source=source)
        return cls(demand, load=MachineLoad(), tuner=SpeedTuner())

    @classmethod
    def fixed(cls, count: int, source: str = "the caller") -> ThreadGovernor:
        """Always `count` threads: e.g. 1 for each of many runs side by side (simulations)."""
        return cls(user=count, source=source)

    def current(self) -> Demand:
        """The demand now, with the machine's load as last measured (reads nothing else)."""
        demand = self.demand()
        busy = self.load.average if self.load is not None else 0.0
        return Demand(demand.pages, demand.background, busy)

    def choose(self) -> int:
        """The most threads the policy allows now (takes a reading of the machine's load)."""
        if self.user is not None:
            return choose_threads(self.cores, user=self.user)
        if self.load is not None:
            self.load.sample()
        return choose_threads(self.cores, self.current())

    def apply(self) -> int:
        """A session starts: set the calling thread's torch thread count to the policy's
        choice (timings start over); returns it.

        OpenMP's count belongs to the thread that sets it: call this from the trainer's thread.
        """
        self._check_policy(time.monotonic(), session_start=True)
        self._last_batch_at = None
        return self._run_with(self._cap)

    def describe(self) -> dict[str, object]:
        """The count in use, what the policy would pick now, and why (for status answers)."""
        demand = self.current()
        why = describe_choice(self.cores, demand, self.user, self.source)
        measured = dict(self.tuner.measured) if self.tuner is not None else {}
        if len(measured) > 1:
            why += "; " + ", ".join(
                f"{plural(count, 'thread')} {1000 * seconds:.0f} ms a batch"
                for count, seconds in sorted(measured.items())
            )
        return {
            "in_use": self.in_use,
            "policy": choose_threads(self.cores, demand, self.user),
            "cores": self.cores,
            "source": self.source,
            "why": why,
            "pages": demand.pages,
            "background": demand.background,
            "busy": round(demand.busy, 2),
            "measured_ms": {str(c): round(1000 * s, 1) for c, s in sorted(measured.items())},
        }

    def on_batch_end(self, event: BatchProgress) -> None:
        now = time.monotonic()
        # A batch's time runs from the end of the one before; the first of an epoch follows
        # a validation pass, so it is no batch time.
        last, self._last_batch_at = self._last_batch_at, now
        seconds = None if last is None or event.batch == 1 else now - last
        if now - self._checked >= self.check_every_s:
            self._check_policy(now)
        if self.tuner is None:
            self._run_with(self._cap)
            return
        count = self.tuner.next_count(self._cap, seconds)
        self._run_with(count, settled=self.tuner.settled or count)

    def _check_policy(self, now: float, session_start: bool = False) -> None:
        """Ask the policy again; a session's start or a change in what else runs makes the
        tuner time the counts afresh."""
        self._checked = now
        self._cap = self.choose()
        demand = self.current()
        conditions = (demand.pages, demand.background, math.floor(demand.busy + 0.5))
        if self.tuner is not None and (session_start or conditions != self._conditions):
            self.tuner.start(self._cap)
        self._conditions = conditions

    def _run_with(self, count: int, settled: int | None = None) -> int:
        import torch

        if torch.get_num_threads() != count:
            torch.set_num_threads(count)
        self.in_use = settled or count
        return count
