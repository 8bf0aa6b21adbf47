"""`alctl simulate` on Ray: a local Ray and a two-node loopback cluster give the serial
run's numbers; Ctrl+C or SIGTERM keeps every round and the same command resumes; a killed
worker's run is started again, and named when it dies again, while the others finish.

Real processes throughout: the command as a subprocess (its own local Ray), and a cluster
of `ray start` nodes that the test starts and stops. The test process never imports ray.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ssvae.data.synthetic import synthetic_dataset
from ssvae.runs.campaign import run_simulation
from ssvae.runs.sim_results import read_results
from ssvae.runs.simulate import Plan
from tests.cli_support import Background
from tests.ray_cluster import (
    LoopbackCluster,
    loopback_cluster,
    ray_env,
    session_members,
    workers_running,
)

# --quick's data (600 generated images) and settings; a model-based and a model-free strategy.
STRATEGIES = "margin,typical"
PLAN = ("--start", 20, "--step", 20, "--rounds", 3, "--epochs-per-round", 2)
_RAY_VARS = ("RAY_USAGE_STATS_ENABLED", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN")


def _reference(tmp: Path, strategies: str, plan: tuple[Any, ...], **extra: Any) -> list[dict]:
    """The same plan run serially in this process: the numbers every path must give."""
    args = dict(zip(plan[::2], plan[1::2], strict=True))
    options = {k.lstrip("-").replace("-", "_"): v for k, v in args.items()}
    serial = Plan(strategies.split(","), overrides={"batch_size": 32}, **options, **extra)
    return run_simulation(synthetic_dataset(), serial, tmp)


def _numbers(rows: list[dict]) -> list[tuple]:
    """Everything a round measured except its times, in a fixed order."""
    times = ("wall_s", "session_s")
    return sorted(tuple(v for k, v in row.items() if k not in times) for row in rows)


def _results(workspace: Path) -> list[dict]:
    (run,) = (workspace / "artifacts" / "synthetic" / "simulations").iterdir()
    return read_results(run / "results.csv")


def simulate(workspace: Path, *args: object, env: dict[str, str]) -> Background:
    """`alctl simulate --quick ARGS` in a session of its own, as a terminal runs it."""
    return Background("simulate", "--quick", "--workspace", workspace, *args, env=env,
                      session=True)  # fmt: skip


@pytest.fixture()
def token_env() -> dict[str, str]:
    """A local Ray of the command's own, with a token of the test's (nothing in ~/.ray)."""
    env = ray_env()
    return {k: env[k] for k in _RAY_VARS}


def test_local_ray_stops_on_ctrl_c_resumes_and_matches_a_serial_run(
    tmp_path: Path, token_env: dict[str, str], torch_one_thread: None
) -> None:
    workspace = tmp_path / "ws"
    args = ("--strategy", STRATEGIES, *PLAN, "--pretrain-epochs", 1, "--workers", 2)
    first = simulate(workspace, *args, env=token_env)
    first.wait_for_output("round 1/3", 300, stderr=True)
    os.killpg(first.proc.pid, signal.SIGINT)  # Ctrl+C reaches the terminal's process group
    stopped = first.finish(120)
    assert stopped.code == 130, stopped.stderr
    assert "run the same command to resume" in stopped.stderr
    kept = _results(workspace)
    assert 1 <= len(kept) < 6
    assert session_members(first.proc.pid) == []  # its local Ray went with it
    run_dir = next((workspace / "artifacts").rglob("plan.json")).parent
    # The seed's warm start, computed once for its 3 strategies, is on disk for the resume.
    assert [p.name for p in run_dir.glob("pretrain-*")] == ["pretrain-seed0.pt"]

    again = simulate(workspace, *args, env=token_env).finish(600)
    assert again.code == 0, again.stderr
    assert "on a local Ray, 2 runs at once" in again.stderr
    rows = _results(workspace)
    assert rows[: len(kept)] == kept  # nothing written before the stop changed
    reference = _reference(tmp_path / "serial", STRATEGIES, PLAN, pretrain_epochs=1)
    assert _numbers(rows) == _numbers(reference)


# The page protocol: the queue's labels one at a time, two presses of Start training.
PAGE_PLAN = ("--start", 50, "--rounds", 1, "--presses", 2, "--epochs-per-round", 2)


@pytest.mark.slow
def test_the_page_protocol_on_a_local_ray_gives_the_serial_runs_numbers(
    tmp_path: Path, token_env: dict[str, str], torch_one_thread: None
) -> None:
    workspace = tmp_path / "ws"
    args = ("--protocol", "page", "--strategy", "typical,random", *PAGE_PLAN, "--workers", 2)
    done = simulate(workspace, *args, env=token_env).finish(600)
    assert done.code == 0, done.stderr
    assert "on a local Ray, 2 runs at once" in done.stderr
    rows = _results(workspace)
    assert len(rows) == 4 and {r["press"] for r in rows} == {"1", "2"}
    reference = _reference(
        tmp_path / "serial", "typical,random", PAGE_PLAN, protocol="page", defaults="synthetic"
    )
    assert _numbers(rows) == _numbers(reference)


# The cluster tests' plan: rounds long enough that a worker can be killed mid-run.
CLUSTER_STRATEGIES = "margin,random"
CLUSTER_PLAN = ("--start", 20, "--step", 20, "--rounds", 3, "--epochs-per-round", 4)


@pytest.fixture(scope="module")
def cluster() -> Iterator[LoopbackCluster]:
    with loopback_cluster(nodes=2, cpus_per_node=1) as running:
        yield running


@pytest.fixture(scope="module")
def cluster_reference(tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:
    import torch

    previous = torch.get_num_threads()
    try:
        path = tmp_path_factory.mktemp("serial")
        return _numbers(_reference(path, CLUSTER_STRATEGIES, CLUSTER_PLAN))
    finally:
        torch.set_num_threads(previous)


def _cluster_env(cluster: LoopbackCluster) -> dict[str, str]:
    return {k: cluster.env[k] for k in _RAY_VARS}


@pytest.mark.slow
def test_a_two_node_cluster_runs_on_both_nodes_stops_on_sigterm_and_resumes(
    cluster: LoopbackCluster, cluster_reference: list[tuple], tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    env = {**_cluster_env(cluster), "RAY_ADDRESS": cluster.address}  # as a user exports it
    args = ("--strategy", CLUSTER_STRATEGIES, *CLUSTER_PLAN)
    run = simulate(workspace, *args, env=env)
    busy: set[int] = set()  # the nodes that ran a run
    while len(busy) < 2 or not any("round 1/3" in line for line in run.err):
        assert run.proc.poll() is None, "".join(run.err)
        for node in cluster.nodes:
            if workers_running("simulate ", set(session_members(node.process.pid))):
                busy.add(node.process.pid)
        time.sleep(0.05)
    run.proc.terminate()  # SIGTERM to the command alone: it must cancel its tasks itself
    stopped = run.finish(120)
    assert stopped.code == 130, stopped.stderr
    assert "run the same command to resume" in stopped.stderr
    assert f"on the Ray cluster at {cluster.address}" in stopped.stderr
    deadline = time.monotonic() + 60  # cancelled, and the cluster ends a gone driver's tasks
    while workers_running("simulate ", cluster.session_pids()):
        assert time.monotonic() < deadline, "runs went on after Ctrl+C"
        time.sleep(0.1)
    kept = _results(workspace)
    assert 1 <= len(kept) < 6

    resumed = simulate(workspace, *args, env=env).finish(600)
    assert resumed.code == 0, resumed.stderr
    rows = _results(workspace)
    assert rows[: len(kept)] == kept
    assert _numbers(rows) == cluster_reference


@pytest.mark.slow
def test_a_killed_workers_run_is_started_again_then_named_and_the_rest_finishes(
    cluster: LoopbackCluster, cluster_reference: list[tuple], tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    args = ("--strategy", CLUSTER_STRATEGIES, *CLUSTER_PLAN, "--address", cluster.address)
    run = simulate(workspace, *args, env=_cluster_env(cluster))
    run.wait_for_output("margin seed 0: round 1/3", 300, stderr=True)
    killed = _kill_worker_of("simulate margin seed 0", cluster, set())
    run.wait_for_output("margin seed 0: its worker died; starting it again", 300, stderr=True)
    _kill_worker_of("simulate margin seed 0", cluster, {killed})  # its second start
    outcome = run.finish(600)
    assert outcome.code == 1, outcome.stderr
    assert "run margin seed 0 did not finish: its worker died (2 times)" in outcome.stderr
    assert "error: 1 run(s) did not finish" in outcome.stderr
    assert "Traceback" not in outcome.stderr
    rows = _results(workspace)
    assert sorted(r["round"] for r in rows if r["strategy"] == "random") == [0, 1, 2]
    assert [r["round"] for r in rows if r["strategy"] == "margin"][:1] == [0]  # kept

    resumed = simulate(workspace, *args, env=_cluster_env(cluster)).finish(600)
    assert resumed.code == 0, resumed.stderr
    assert _numbers(_results(workspace)) == cluster_reference


def _kill_worker_of(title: str, cluster: LoopbackCluster, spare: set[int]) -> int:
    """SIGKILL the worker process running the task `title` (not one already killed)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        found = [p for p in workers_running(title, cluster.session_pids()) if p not in spare]
        if found:
            os.kill(found[0], signal.SIGKILL)
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"no worker ran {title!r}")
