"""How many threads torch's trainer uses: chosen for the machine and for what else runs on it.

Torch splits each operation over OpenMP threads that meet at a barrier when it ends. When
something else takes one of their cores, even for a few milliseconds, the thread there holds
up all the others at the next barrier. On 2 cores a page using 11 % of one core cost two threads
42 % of their speed, and on a machine busier than its cores two threads ran 18 times slower
than one (benchmarks/bench_page_cost.py). So the trainer uses every core only while nothing
else needs one: each background job of the process and each core's worth of other runnable
work on the machine takes one thread away, down to one.

`choose_threads` is the policy, a pure function. `ThreadGovernor` applies it in the trainer's
own thread (OpenMP's thread count belongs to the thread that sets it) when a session starts
and between batches. A count the user gives (`--threads`, or OMP_NUM_THREADS, the variable
torch honours) wins over the policy.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ssvae.records.events import BatchProgress, TrainingCallback

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


class MachineLoad:
    """Other processes' runnable threads, averaged: the machine's run queue less our own.

    Reads /proc/stat (`procs_running`) and this process's threads' states; elsewhere, or when
    /proc cannot be read, the machine counts as idle.
    """

    def __init__(self, half_life_s: float = BUSY_HALF_LIFE_S, proc: Path = Path("/proc")) -> None:
        self.half_life_s = half_life_s
        self.proc = proc
        self.average = 0.0
        self._at: float | None = None

    def sample(self) -> float:
        """Take one reading into the average and return the average."""
        now = time.monotonic()
        reading = self._others_running()
        if reading is None:
            return self.average
        if self._at is None:
            self.average = reading
        else:
            weight = 0.5 ** ((now - self._at) / self.half_life_s)
            self.average = weight * self.average + (1 - weight) * reading
        self._at = now
        return self.average

    def _others_running(self) -> float | None:
        try:
            stat = (self.proc / "stat").read_text()
            lines = stat.splitlines()
            running = next(int(s.split()[1]) for s in lines if s.startswith("procs_running"))
            ours = 0
            for task in (self.proc / "self" / "task").iterdir():
                try:
                    text = (task / "stat").read_text()
                except OSError:
                    continue  # the thread ended
                ours += text[text.rindex(")") + 2] == "R"
        except (OSError, StopIteration, ValueError):
            return None
        return float(max(0, running - ours))


class ThreadGovernor(TrainingCallback):
    """Applies `choose_threads` in the trainer's thread: when a session starts (the trainer calls
    `apply()`), then between batches at most every `check_every_s`. Changing the count there
    costs about 10 µs, and the next batch runs with it.

    `demand` reports pages and background jobs (the server's); the machine's load is measured
    here unless `load` is None. `in_use` is the count the trainer runs with (before the first
    session: the one it will start with).
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
    ) -> None:
        self.demand = demand
        self.user, self.source = user, source
        self.cores = cores or available_cores()
        self.load = load
        self.check_every_s = check_every_s
        self._checked = -math.inf
        self.in_use = self.choose()

    @classmethod
    def for_process(
        cls,
        demand: Callable[[], Demand] = Demand,
        option: int | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> ThreadGovernor:
        """The governor every path uses: `--threads` (`option`), else OMP_NUM_THREADS, else the
        policy with the machine's load measured. ValueError for a bad OMP_NUM_THREADS."""
        user, source = user_threads(option, environ)
        return cls(demand, user=user, source=source, load=None if user else MachineLoad())

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
        """The count the policy picks now (takes a reading of the machine's load)."""
        if self.user is not None:
            return choose_threads(self.cores, user=self.user)
        if self.load is not None:
            self.load.sample()
        return choose_threads(self.cores, self.current())

    def apply(self) -> int:
        """Set the calling thread's torch thread count to the policy's choice; returns it.

        OpenMP's count belongs to the thread that sets it: call this from the trainer's thread.
        """
        import torch

        self._checked = time.monotonic()
        count = self.choose()
        if torch.get_num_threads() != count:
            torch.set_num_threads(count)
        self.in_use = count
        return count

    def describe(self) -> dict[str, object]:
        """The count in use, what the policy would pick now, and why (for status answers)."""
        demand = self.current()
        return {
            "in_use": self.in_use,
            "policy": choose_threads(self.cores, demand, self.user),
            "cores": self.cores,
            "source": self.source,
            "why": describe_choice(self.cores, demand, self.user, self.source),
            "pages": demand.pages,
            "background": demand.background,
            "busy": round(demand.busy, 2),
        }

    def on_batch_end(self, event: BatchProgress) -> None:
        if time.monotonic() - self._checked >= self.check_every_s:
            self.apply()
