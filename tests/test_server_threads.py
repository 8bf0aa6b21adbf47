"""The trainer's thread count in a real server: pages and background jobs as the policy sees
them, the count in use following them between batches, and the user's `--threads`."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import ssvae.train.threads as threads_module
from ssvae.train.thread_tuner import SpeedTuner
from tests.cli_support import REPO, Outcome, cli_env, one_error_line, run
from tests.live_server import SSEReader, running_server
from tests.test_thread_policy import other_load
from tests.thread_server import ThreadServer, thread_server


def wait_for(condition: Callable[[], Any], timeout: float = 60.0, what: str = "it") -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


@pytest.fixture()
def policy_server(
    tiny_data_dir: Path,
    workspace: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[ThreadServer]:
    """A server whose trainer follows the policy: no OMP_NUM_THREADS, 2 cores, and a machine
    with nothing else running (a made-up reading: this shared machine's load is not the test's)."""
    from alctl.server.cpu_demand import BackgroundJobs
    from alctl.server.events import EventBus
    from alctl.server.session import WorkspaceSession
    from ssvae.data.datasets import load_dataset
    from ssvae.io.workspace import Workspace

    machine_load = threads_module.MachineLoad
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads_module, "available_cores", lambda: 2)
    monkeypatch.setattr(threads_module, "MachineLoad", lambda: machine_load(read=other_load(0.0)))
    data = load_dataset("mnist", tiny_data_dir)
    session = WorkspaceSession(Workspace(workspace, data.name), data, EventBus())
    assert session.threads.user is None and session.threads.cores == 2
    # The queue's warm-up runs at nice 19 and, on a busy machine, for minutes: left uncounted
    # here, so that the only background job is the one a test holds.
    session.labeling_queue.jobs = BackgroundJobs()
    # Which count runs faster on this machine is not these tests' business: the policy's
    # count alone, unless a test asks for the tuner (made quick).
    tuner = getattr(request, "param", None)
    session.threads.tuner = tuner
    session.load_model()
    session.compute_points()
    with thread_server(session) as running:
        yield running
    import torch

    torch.set_num_threads(1)  # the trainer's threads set the default of new threads


def threads_status(server: ThreadServer) -> dict[str, Any]:
    return server.api("GET", "/api/status").json()["threads"]


def test_pages_are_counted_while_connected(policy_server: ThreadServer) -> None:
    server = policy_server
    assert threads_status(server)["pages"] == 0
    with SSEReader(server.url, path="/api/events?client=page") as page:
        page.next()  # the snapshot: connected
        assert threads_status(server)["pages"] == 1
        with SSEReader(server.url) as script:  # the CLI and scripts are not pages
            script.next()
            assert threads_status(server)["pages"] == 1
        status = threads_status(server)
        # A page at rest costs less than a thread is worth: the policy keeps every core.
        assert (status["policy"], status["why"]) == (2, "all 2 cores: nothing else needs them")
    wait_for(lambda: threads_status(server)["pages"] == 0, what="the page to be gone")


def test_the_count_in_use_follows_a_background_job(policy_server: ThreadServer) -> None:
    server = policy_server

    def progress_with(events: SSEReader, threads: int) -> dict[str, Any]:
        for _ in range(2000):
            event = events.next(time.monotonic() + 120)
            assert event.event in ("train_started", "train_progress", "train_epoch"), event.event
            if event.event == "train_progress" and event.data["threads"] == threads:
                return event.data
        raise AssertionError(f"no batch ran with {threads} threads")

    with SSEReader(server.url) as events:
        events.next()
        assert server.api("POST", "/api/train", {"epochs": 300, "batch_size": 8}).status == 202
        assert events.until("train_started")[-1].data["threads"] == 2
        progress_with(events, 2)
        with server.session.jobs.running():  # what a report or the queue's warm-up holds
            progress_with(events, 1)
            status = threads_status(server)
            assert (status["in_use"], status["background"]) == (1, 1)
            assert "1 background job" in status["why"]
            assert "cpu (1 thread)" in server.api("GET", "/api/status").json()["device"]
        progress_with(events, 2)
        # The session's end (evaluate, save, new points) runs at the count last set: one
        # thread, as this machine is not the quiet one the made-up reading says it is.
        with server.session.jobs.running():
            progress_with(events, 1)
            assert server.api("POST", "/api/train/stop").status == 202
            events.until("session_saved")


@pytest.mark.parametrize(
    "policy_server",
    [SpeedTuner(probe_every_s=0.3, probe_s=0.2, probe_batches=4)],
    indirect=True,
    ids=["quick-tuner"],
)
def test_the_trainer_times_its_counts_and_starts_over_when_a_page_connects(
    policy_server: ThreadServer,
) -> None:
    server = policy_server

    def both_timed() -> dict[str, Any] | None:
        status = threads_status(server)
        return status if set(status["measured_ms"]) == {"1", "2"} else None

    with SSEReader(server.url) as events:
        events.next()
        assert server.api("POST", "/api/train", {"epochs": 300, "batch_size": 8}).status == 202
        events.until("train_started")
        status = wait_for(both_timed, what="both counts to be timed")
        assert status["in_use"] in (1, 2) and "ms a batch" in status["why"]
        with SSEReader(server.url, path="/api/events?client=page") as page:
            page.next()
            # A page changes what runs beside the trainer: the timings start over.
            wait_for(lambda: not both_timed(), timeout=30, what="the timings to be forgotten")
            wait_for(both_timed, what="both counts to be timed again")
        assert server.api("POST", "/api/train/stop").status == 202
        events.until("session_saved")


def test_serve_threads_option_wins_over_the_environment(
    tiny_data_dir: Path, workspace: Path
) -> None:
    # The tests' servers run with OMP_NUM_THREADS=1 (tests/live_server.py).
    with running_server(workspace, tiny_data_dir, extra_args=["--threads", "2"]) as server:
        assert "model       0 epochs trained, on cpu (2 threads)" in server.output()
        status = server.api("GET", "/api/status").json()
        assert status["threads"]["in_use"] == 2 and status["threads"]["source"] == "--threads"
        assert status["device"] == "cpu (2 threads)"
        shown = run("status", "--workspace", workspace)
        assert "threads     2 torch threads for the server's trainer (set by --threads)" in (
            shown.stdout
        )
        refused = run("train", "--threads", "1", "--workspace", workspace)
        assert refused.code == 1 and "alctl serve --threads N" in one_error_line(refused)


def test_a_bad_thread_setting_is_one_line(tiny_data_dir: Path, workspace: Path) -> None:
    files = ["--workspace", str(workspace), "--data-dir", str(tiny_data_dir)]
    assert run("serve", "--threads", "0", *files).code == 2  # typer's range check
    for args in (["serve", *files], ["train", "--no-server", "--epochs", "1", *files]):
        proc = subprocess.run(
            [sys.executable, "-m", "alctl", *args],
            capture_output=True,
            text=True,
            timeout=120,
            env=cli_env(OMP_NUM_THREADS="many"),
            cwd=REPO,
        )
        line = one_error_line(Outcome(proc.returncode, proc.stdout, proc.stderr))
        assert proc.returncode == 1
        assert "OMP_NUM_THREADS='many': give a whole number of threads" in line
