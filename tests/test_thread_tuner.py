"""The thread tuner (ssvae/train/thread_tuner.py): it times the count in use against the next
count over and keeps the faster, probes rarely once settled, and never exceeds the policy's cap."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from ssvae.train.thread_tuner import PROBE_EVERY_MAX_S, SpeedTuner


class Machine:
    """A made-up machine: a batch takes `batch_s(count)` seconds; the clock follows the batches."""

    def __init__(self, batch_s: Callable[[int], float]) -> None:
        self.batch_s = batch_s
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def run(self, tuner: SpeedTuner, seconds: float, cap: int) -> Counter[int]:
        """Train for `seconds`; returns how many batches ran at each count."""
        ran: Counter[int] = Counter()
        count = tuner.next_count(cap, None)
        end = self.now + seconds
        while self.now < end:
            took = self.batch_s(count)
            self.now += took
            ran[count] += 1
            count = tuner.next_count(cap, took)
            assert 1 <= count <= cap
        return ran


def tuner_on(machine: Machine) -> SpeedTuner:
    return SpeedTuner(probe_every_s=10.0, probe_s=2.0, probe_batches=12, clock=machine.clock)


def test_the_faster_count_is_kept_and_probes_back_off() -> None:
    machine = Machine(lambda count: {1: 0.030, 2: 0.020}[count])  # quiet: two threads win
    tuner = tuner_on(machine)
    tuner.start(2)
    ran = machine.run(tuner, 600.0, cap=2)
    assert tuner.settled == 2
    assert tuner.measured == pytest.approx({1: 0.030, 2: 0.020})
    # Probes of one thread: after 10, 20, 40, 80, 80, ... s; each about 2 s long.
    assert ran[1] / sum(ran.values()) < 0.05
    assert tuner._every_s == PROBE_EVERY_MAX_S


def test_a_neighbour_that_stalls_two_threads_makes_one_thread_the_choice() -> None:
    """A page repainting for 30 ms every 2 s stalls both threads (they wait at each barrier):
    seen as a long batch now and then, which the mean counts."""
    batches = Counter[int]()

    def batch_s(count: int) -> float:
        batches[count] += 1
        if count == 1:
            return 0.028
        return 0.020 + (0.4 if batches[count] % 20 == 0 else 0.0)  # mean 0.040 with stalls

    machine = Machine(batch_s)
    tuner = tuner_on(machine)
    tuner.start(2)
    ran = machine.run(tuner, 300.0, cap=2)
    assert tuner.settled == 1
    assert ran[1] > 0.9 * sum(ran.values())


def test_a_count_within_five_percent_is_no_reason_to_change() -> None:
    machine = Machine(lambda count: {1: 0.0198, 2: 0.020}[count])
    tuner = tuner_on(machine)
    tuner.start(2)
    machine.run(tuner, 200.0, cap=2)
    assert tuner.settled == 2


def test_the_cap_is_never_exceeded_and_a_new_start_forgets() -> None:
    machine = Machine(lambda count: 0.05 / count)  # more threads, faster: up to the cap
    tuner = tuner_on(machine)
    tuner.start(4)
    machine.run(tuner, 120.0, cap=4)
    assert tuner.settled == 4 and set(tuner.measured) == {3, 4}
    machine.run(tuner, 60.0, cap=2)  # a background job took two cores
    assert tuner.settled == 2
    tuner.start(3)
    assert tuner.measured == {} and tuner.settled == 3


def test_one_more_thread_is_probed_too() -> None:
    machine = Machine(lambda count: {1: 0.03, 2: 0.02, 3: 0.015}[count])
    tuner = tuner_on(machine)
    tuner.start(1)  # e.g. a count kept from a busier moment
    machine.run(tuner, 200.0, cap=3)
    assert tuner.settled == 3


def test_batches_that_are_not_whole_are_not_timed() -> None:
    machine = Machine(lambda count: 0.02)
    tuner = tuner_on(machine)
    tuner.start(2)
    for _ in range(100):
        assert tuner.next_count(2, None) == 2  # e.g. after each validation pass
    assert tuner.measured == {}
