"""Nothing acknowledged is undone: saves, rollbacks and sessions are ordered across processes.

Each test drives real processes over real HTTP (a real `alctl serve`, `alctl` and
scripts/train.py subprocesses) at the timings that used to lose work, and then checks the
files against each other: the checkpoint, its history, history.csv and what the server says
must all tell one story, with no `.replaced` file and no epoch counted twice.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ssvae.io.checkpoint import load_checkpoint
from ssvae.io.checkpoint_integrity import previous_path
from ssvae.io.checkpoint_lock import holder
from ssvae.io.history import read_history_csv
from ssvae.io.workspace import Workspace, lock_path_for
from tests.cli_support import cli_env, one_error_line, run
from tests.live_server import REPO, LiveServer, ServerProcess, SSEReader, running_server


@pytest.fixture(params=[2, pytest.param(20, marks=pytest.mark.slow)], ids=["twice", "20x"])
def tries(request: pytest.FixtureRequest) -> int:
    """How often a race is run: twice in the quick suite, 20 times in the slow one."""
    return int(request.param)


def story(workspace: Path, server: LiveServer | None = None) -> list[int]:
    """The checkpoint's epochs, asserted consistent with every other record of them."""
    ws = Workspace(workspace, "mnist")
    ckpt = load_checkpoint(ws.checkpoint)
    assert ckpt is not None
    epochs = [int(r["global_epoch"]) for r in ckpt.history]
    assert epochs == list(range(1, ckpt.epochs_trained + 1)), epochs  # no epoch twice
    assert [int(r["global_epoch"]) for r in read_history_csv(ws.history_csv)] == epochs
    assert not list(ws.artifacts_dir.glob("*.replaced-*")), "a save landed on another's file"
    if server is not None:
        status = server.api("GET", "/api/status").json()
        assert status["training"]["state"] == "idle"
        assert status["checkpoint"]["epochs_trained"] == ckpt.epochs_trained
    return epochs


def train(server: LiveServer, events: SSEReader, epochs: int = 1) -> dict[str, Any]:
    answer = server.api("POST", "/api/train", {"epochs": epochs})
    assert answer.status == 202, answer.body
    return events.until("session_saved")[-1].data


def _call(server: LiveServer, key: str, into: dict[str, Any]) -> None:
    into[key] = server.api("POST", "/api/checkpoint/rollback")


def wait_idle(server: LiveServer, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while server.api("GET", "/api/status").json()["training"]["state"] != "idle":
        assert time.monotonic() < deadline
        time.sleep(0.01)


@pytest.fixture()
def server(tiny_data_dir: Path, workspace: Path) -> Iterator[LiveServer]:
    with running_server(workspace, tiny_data_dir) as running:
        yield running


def test_d1_a_rollback_right_after_a_session_is_never_undone(
    server: LiveServer, tries: int
) -> None:
    """`idle` means saved: a rollback the moment the state turns idle stays rolled back."""
    with SSEReader(server.url) as events:
        events.next()
        train(server, events)
        for _ in range(tries):
            assert server.api("POST", "/api/train", {"epochs": 1}).status == 202
            wait_idle(server)  # poll, as a script would, then roll back at once
            before = load_checkpoint(Workspace(server.workspace, "mnist").checkpoint)
            answer = server.api("POST", "/api/checkpoint/rollback")
            assert answer.status == 200, answer.body
            time.sleep(0.5)  # a late save would land in here
            epochs = story(server.workspace, server)
            assert before is not None and len(epochs) == answer.json()["epochs_trained"]
            assert len(epochs) == before.epochs_trained - 1


def test_d2_training_started_during_a_rollback_trains_the_restored_model(
    server: LiveServer, tries: int
) -> None:
    with SSEReader(server.url) as events:
        events.next()
        train(server, events)
        train(server, events)
        for attempt in range(tries):
            answers: dict[str, Any] = {}
            rollback = threading.Thread(target=_call, args=(server, "rollback", answers))
            rollback.start()
            time.sleep(0.05 * (attempt % 10))
            started = server.api("POST", "/api/train", {"epochs": 1})
            rollback.join()
            assert answers["rollback"].status in (200, 409), answers["rollback"].body
            assert started.status in (202, 409), started.body
            if started.status == 202:
                events.until("session_saved")
            wait_idle(server)
            epochs = story(server.workspace, server)
            if started.status == 202 and answers["rollback"].status == 200:
                # Both acknowledged: the session trained the restored model, after it.
                assert len(epochs) == answers["rollback"].json()["epochs_trained"] + 1


def test_d8_two_rollbacks_at_once_are_ordered(server: LiveServer, tries: int) -> None:
    with SSEReader(server.url) as events:
        events.next()
        train(server, events)
        train(server, events)
    for _ in range(tries):
        before = len(story(server.workspace, server))
        prev = load_checkpoint(previous_path(Workspace(server.workspace, "mnist").checkpoint))
        assert prev is not None
        replies: dict[str, Any] = {}
        threads = [
            threading.Thread(target=_call, args=(server, f"rollback{i}", replies)) for i in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        done = [a for a in replies.values() if a.status == 200]
        assert {a.status for a in replies.values()} <= {200, 409} and done
        epochs = story(server.workspace, server)
        if len(done) == 1:  # one refused: the files hold what the acknowledged one said
            assert len(epochs) == done[0].json()["epochs_trained"] == prev.epochs_trained
        else:  # one after the other: the second swapped the first back
            assert len(epochs) == before


def test_d9_a_shell_rollback_is_refused_while_the_shell_trains(
    workspace: Path, tiny_data_dir: Path
) -> None:
    files = ["--workspace", workspace, "--data-dir", tiny_data_dir, "--dataset", "mnist"]
    assert run("train", "--epochs", 1, *files, "--no-server").code == 0
    ckpt = Workspace(workspace, "mnist").checkpoint
    long = subprocess.Popen(
        [sys.executable, "-m", "alctl", "train", "--epochs", "400", "--batch-size", "8",
         *map(str, files), "--no-server"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(), cwd=REPO,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while holder(lock_path_for(ckpt)) is None:
            assert long.poll() is None and time.monotonic() < deadline, long.communicate()
            time.sleep(0.05)
        refused = run("rollback", *files, "--no-server")
        line = one_error_line(refused)
        assert refused.code == 1 and "`alctl train`" in line and "wait" in line
    finally:
        long.send_signal(2)  # Ctrl+C: stop after the batch, save the whole epochs
        _, err = long.communicate(timeout=120)
    assert long.returncode == 4, err  # stopped
    assert len(story(workspace)) >= 1  # never rolled back under the session


def test_d7_two_servers_started_at_once_one_serves(workspace: Path, tiny_data_dir: Path) -> None:
    servers = [ServerProcess(workspace, tiny_data_dir).start() for _ in range(2)]
    try:
        deadline = time.monotonic() + 120
        while all(s.poll() is None for s in servers):
            assert time.monotonic() < deadline, "neither server refused"
            time.sleep(0.05)
        loser = next(s for s in servers if s.poll() is not None)
        winner = next(s for s in servers if s is not loser)
        assert loser.poll() == 1 and "already running for this workspace" in loser.output()
        assert winner.poll() is None
    finally:
        for server in servers:
            server.stop()


def test_d7_scripts_train_beside_a_training_server_is_refused_then_adopted(
    server: LiveServer, tiny_data_dir: Path
) -> None:
    script = [sys.executable, "scripts/train.py", "--workspace", str(server.workspace),
              "--dataset", "mnist", "--data-dir", str(tiny_data_dir),
              "--max-epochs", "1"]  # fmt: skip
    with SSEReader(server.url) as events:
        events.next()
        assert server.api("POST", "/api/train", {"epochs": 300, "batch_size": 8}).status == 202
        events.until("train_progress")
        busy = subprocess.run(script, capture_output=True, text=True, env=cli_env(), cwd=REPO)
        assert busy.returncode == 1 and "alctl serve" in busy.stderr, busy.stderr
        server.api("POST", "/api/train/stop")
        events.until("session_saved")
        # Idle: the script may train; the server trains on from its file, not over it.
        done = subprocess.run(script, capture_output=True, text=True, env=cli_env(), cwd=REPO)
        assert done.returncode == 0, done.stderr
        after_script = load_checkpoint(Workspace(server.workspace, "mnist").checkpoint)
        assert after_script is not None
        # The page shows the script's model within a second or so (train in one, look in
        # the other), and the next session trains on from it.
        assert "saved by another program" in events.until("notice")[-1].data["message"]
        events.until("latent_refreshed")
        status = server.api("GET", "/api/status").json()
        assert status["checkpoint"]["epochs_trained"] == after_script.epochs_trained
        saved = train(server, events)
        events.until("latent_refreshed")
    assert saved["saved"] and saved["epochs_trained"] == after_script.epochs_trained + 1
    story(server.workspace, server)


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """`directory` on a read-only bind mount of itself (needs root; CI runs as root)."""
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root")
    bind = ["mount", "--bind", str(directory), str(directory)]
    bound = subprocess.run(bind, capture_output=True)
    if bound.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {bound.stderr.decode().strip()}")
    try:
        subprocess.run(
            ["mount", "-o", "remount,ro,bind", str(directory)], check=True, capture_output=True
        )
        yield
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def test_d3_a_save_that_fails_is_reported_not_acknowledged(server: LiveServer) -> None:
    """A read-only artifacts directory: `alctl train` says NOT saved and exits 1, the server
    says the file holds the old epochs and how many exist only in memory."""
    ws = Workspace(server.workspace, "mnist")
    with SSEReader(server.url) as events:
        events.next()
        train(server, events)
    with read_only(ws.artifacts_dir):
        done = run("train", "--epochs", 1, "--workspace", server.workspace, timeout=300)
        status = server.api("GET", "/api/status").json()
    assert done.code == 1, (done.stdout, done.stderr)
    assert "NOT saved: could not save" in done.stdout + done.stderr
    assert "up to date" not in done.stdout + done.stderr
    assert status["checkpoint"]["epochs_trained"] == 1  # what the file holds
    assert status["checkpoint"]["unsaved"]["epochs"] == 1
    assert load_checkpoint(ws.checkpoint).epochs_trained == 1
    assert load_checkpoint(previous_path(ws.checkpoint)) is None  # the backup untouched
