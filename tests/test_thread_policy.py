"""The trainer's thread policy (ssvae/train/threads.py): the count it picks, who may override
it, the machine's load as it reads it, and its application between batches."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from ssvae.train.threads import (
    CpuSeconds,
    Demand,
    MachineLoad,
    ThreadGovernor,
    choose_threads,
    describe_choice,
    proc_cpu_seconds,
    user_threads,
)


@pytest.mark.parametrize(
    ("cores", "demand", "expected"),
    [
        (2, Demand(), 2),  # nothing else: every core
        (2, Demand(pages=1), 2),  # a page at rest costs less than a thread is worth
        (2, Demand(pages=3), 2),
        (2, Demand(background=1), 1),  # a report, a queue warm-up, a decode grid
        (2, Demand(pages=1, background=2), 1),  # never fewer than one
        (2, Demand(busy=0.4), 2),  # other programs: less than half a core on average
        (2, Demand(busy=0.6), 1),
        (2, Demand(busy=22.0), 1),  # a machine far busier than its cores
        (8, Demand(background=1, busy=1.4), 6),
        (16, Demand(pages=2), 16),
        (1, Demand(), 1),
    ],
)
def test_the_policy_leaves_the_cores_other_work_needs(
    cores: int, demand: Demand, expected: int
) -> None:
    assert choose_threads(cores, demand) == expected


def test_a_count_the_user_gives_wins_over_the_policy() -> None:
    assert choose_threads(2, Demand(background=1, busy=5.0), user=2) == 2
    assert choose_threads(2, Demand(), user=6) == 6  # more than the cores: the user's choice
    assert describe_choice(2, Demand(), 3, "--threads") == "set by --threads"
    assert describe_choice(2, Demand(), None, "policy") == "all 2 cores: nothing else needs them"
    why = describe_choice(4, Demand(background=1, busy=1.0), None, "policy")
    assert why == "4 cores; also running: 1 background job, other programs on 1.0 cores"


def test_threads_option_then_omp_num_threads_then_the_policy() -> None:
    assert user_threads(None, {}) == (None, "policy")
    assert user_threads(None, {"OMP_NUM_THREADS": "3"}) == (3, "OMP_NUM_THREADS")
    assert user_threads(None, {"OMP_NUM_THREADS": " 4,2 "}) == (4, "OMP_NUM_THREADS")  # nested
    assert user_threads(1, {"OMP_NUM_THREADS": "3"}) == (1, "--threads")
    for bad in ("0", "x", "-1", "1.5"):
        with pytest.raises(ValueError, match="OMP_NUM_THREADS"):
            user_threads(None, {"OMP_NUM_THREADS": bad})
    with pytest.raises(ValueError, match="--threads"):
        user_threads(0, {})
    governor = ThreadGovernor.for_process(option=None, environ={"OMP_NUM_THREADS": "1"})
    assert (governor.user, governor.source, governor.load) == (1, "OMP_NUM_THREADS", None)
    assert governor.tuner is None  # the user's count is not tuned
    policy = ThreadGovernor.for_process(environ={})
    assert policy.load is not None and policy.tuner is not None  # measured, and tuned


def other_load(cores: float) -> CpuSeconds:
    """CPU time as a machine where other programs keep `cores` cores busy (and we none)."""
    return lambda: (cores * time.monotonic(), 0.0)


def fake_proc(root: Path, machine_ticks: int, our_ticks: int) -> Path:
    """A /proc whose machine and this process have used so many clock ticks of CPU."""
    (root / "self").mkdir(parents=True, exist_ok=True)
    # user nice system idle iowait irq softirq steal guest guest_nice
    (root / "stat").write_text(f"cpu  {machine_ticks - 7} 1 2 999 888 1 2 1 0 0\ncpu0 1 2 3\n")
    (root / "self" / "stat").write_text(
        f"4242 (python3 (x)) R 1 2 3 4 5 6 7 8 9 10 {our_ticks - 5} 5 0 0 20 0 9 0\n"
    )
    return root


def test_the_machines_load_is_other_processes_cpu_time(tmp_path: Path) -> None:
    now = [100.0]
    tick = 1.0 / os.sysconf("SC_CLK_TCK")
    load = MachineLoad(read=proc_cpu_seconds(fake_proc(tmp_path, 1000, 400)), clock=lambda: now[0])
    assert load.sample() == 0.0  # one reading is no rate yet
    # 2 s later: the machine used 5 s of CPU, 2 s of them ours: others kept 1.5 cores busy
    fake_proc(tmp_path, 1000 + round(5 / tick), 400 + round(2 / tick))
    now[0] += 2.0
    assert load.sample() == pytest.approx(1.5)
    # Our own threads, however many, are never the machine's load.
    fake_proc(tmp_path, 1000 + round(9 / tick), 400 + round(6 / tick))
    now[0] += 2.0
    assert load.sample() < 1.5
    assert MachineLoad(read=proc_cpu_seconds(tmp_path / "nowhere")).sample() == 0.0  # no /proc


def test_this_machines_own_reading_is_plausible() -> None:
    """The real /proc: a busy loop of ours is not counted; the rest is between 0 and the cores."""
    load = MachineLoad()
    load.sample()
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        pass
    assert 0.0 <= load.sample() <= len(os.sched_getaffinity(0)) + 0.5


def test_the_load_is_averaged_over_seconds() -> None:
    now, used = [0.0], [0.0]
    load = MachineLoad(half_life_s=3.0, read=lambda: (used[0], 0.0), clock=lambda: now[0])
    load.sample()
    now[0], used[0] = 1.0, 4.0
    assert load.sample() == 4.0  # the first rate is the average
    now[0] += 3.0  # one half-life later, nothing else ran
    assert load.sample() == pytest.approx(2.0, abs=0.01)


def test_apply_sets_the_calling_threads_count_only(torch_one_thread: None) -> None:
    import torch

    seen: dict[str, int] = {}

    def trainer() -> None:
        ThreadGovernor(cores=2).apply()
        seen["trainer"] = torch.get_num_threads()

    worker = threading.Thread(target=trainer)
    worker.start()
    worker.join()
    assert seen["trainer"] == 2
    assert torch.get_num_threads() == 1  # OpenMP's count is per thread: ours is untouched


def test_the_count_follows_the_demand_between_batches(torch_one_thread: None) -> None:
    """A real session: a background job starts after batch 5 and ends after batch 15. The
    trainer's thread asks the policy after every batch (before the listeners hear of it), so
    each change shows in the batch after next, at the policy's new count."""
    from ssvae.config import SSVAEConfig
    from ssvae.records.events import BatchProgress, TrainingCallback, TrainStart
    from ssvae.train.trainer import InteractiveTrainer

    demand = {"background": 0}
    governor = ThreadGovernor(lambda: Demand(**demand), cores=2, check_every_s=0.0)
    config = SSVAEConfig(hidden_dims=(16,), batch_size=16, val_split=0.1, seed=0)
    trainer = InteractiveTrainer(config, "cpu", threads=governor)

    class Watch(TrainingCallback):
        def __init__(self) -> None:
            self.start = 0
            self.ran_with: dict[int, int] = {}  # batch -> the threads it ran with

        def on_train_start(self, event: TrainStart) -> None:
            self.start = event.threads

        def on_batch_end(self, event: BatchProgress) -> None:
            self.ran_with[event.batch] = event.threads
            demand["background"] = 1 if 5 <= event.batch < 15 else 0

    watch = Watch()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (400, 28, 28), dtype=np.uint8)
    labels = np.full(400, -1, dtype=np.int64)
    result = trainer.train(images, labels, epochs=1, callbacks=[watch])
    assert result.status == "completed"
    assert watch.start == 2
    expected = {b: 1 if 7 <= b <= 16 else 2 for b in watch.ran_with}
    assert watch.ran_with == expected
    assert len(watch.ran_with) > 17
    assert governor.in_use == 2
