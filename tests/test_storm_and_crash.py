"""Label storms with training running, and `kill -9` in storms and in the end-of-session save.

The acknowledged state is what the writers were told: each writer owns its serials, so the last
acknowledged write of a serial is its final value. After a crash a serial whose last request
was in flight may hold that request's value or the acknowledged one before it; nothing else.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path

import pytest

from alctl.cli.server_client import ApiClient, ServerError
from ssvae.io.checkpoint import load_checkpoint
from ssvae.io.checkpoint_integrity import previous_path
from ssvae.io.history import read_history_csv
from ssvae.io.housekeeping import SETTLE_S
from ssvae.io.labels import LabelStore
from tests.cli_support import run
from tests.live_server import LiveServer, SSEReader, running_server
from tests.waiting import wait_for

pytestmark = pytest.mark.slow
N = 600  # the tiny dataset


class Writer:
    """One HTTP client labeling its own serials: PUTs, DELETEs and small bulk POSTs."""

    def __init__(self, server: LiveServer, serials: range, seed: int) -> None:
        self.client = ApiClient(server.url, server.token, timeout=30)
        self.serials, self.rng = list(serials), random.Random(seed)
        self.acked: dict[int, int | None] = {}
        self.in_flight: dict[int, int | None] = {}
        self.errors: list[str] = []
        self.ops = 0

    def run(self, ops: int, stop: threading.Event | None = None) -> None:
        for _ in range(ops):
            if stop is not None and stop.is_set():
                return
            picked = self.rng.sample(self.serials, self.rng.choice((1, 1, 1, 3)))
            change = {s: self.rng.choice((None, *range(10))) for s in picked}
            self.in_flight = change
            try:
                if len(change) > 1:
                    self.client.update_labels(change)
                elif (value := change[picked[0]]) is None:
                    self.client.delete_label(picked[0])
                else:
                    self.client.set_label(picked[0], value)
            except ServerError as exc:
                self.errors.append(str(exc))
                return
            self.acked.update(change)
            self.in_flight = {}
            self.ops += 1


def _csv(workspace: Path) -> dict[int, int]:
    return LabelStore(workspace / "data" / "mnist" / "labels.csv", N).read()


def test_label_storm_while_training(workspace: Path, tiny_data_dir: Path) -> None:
    with running_server(workspace, tiny_data_dir) as server:
        writers = [Writer(server, range(k * 100, k * 100 + 100), seed=k) for k in range(4)]
        sessions = {"started": 0}
        storming = threading.Event()
        trainer_failures: list[BaseException] = []

        def keep_training() -> None:
            # Early stopping ends sessions: the next starts as soon as the last one is saved.
            # Once the storm is over, the running session is stopped.
            try:
                with SSEReader(server.url) as events:
                    events.next()  # the snapshot: subscribed from here on
                    while not storming.is_set():
                        _start(server, {"epochs": 1000, "batch_size": 8})
                        sessions["started"] += 1
                        stopping = False
                        while events.next(time.monotonic() + 300).event != "session_saved":
                            if storming.is_set() and not stopping:
                                server.api("POST", "/api/train/stop")
                                stopping = True
            except BaseException as exc:
                trainer_failures.append(exc)

        trainer = threading.Thread(target=keep_training)
        trainer.start()
        cli_acked: dict[int, int] = {}
        cli_failures: list[str] = []

        def shell(serials: range, extra: list[str]) -> None:
            rng = random.Random(serials.start)
            for _ in range(25):
                serial, label = rng.choice(serials), rng.randrange(10)
                done = run("label", serial, label, "--workspace", workspace, *extra)
                if done.code != 0:
                    cli_failures.append(done.stderr)
                    return
                cli_acked[serial] = label

        on_files = ["--no-server", "--data-dir", str(tiny_data_dir), "--dataset", "mnist"]
        threads = [
            threading.Thread(target=w.run, args=(488 - k // 2,)) for k, w in enumerate(writers)
        ]
        threads += [
            threading.Thread(target=shell, args=(range(400, 450), [])),
            threading.Thread(target=shell, args=(range(450, 500), on_files)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(600)
        assert not cli_failures and not any(w.errors for w in writers)
        assert sum(w.ops for w in writers) + 50 == 2_000
        storming.set()
        trainer.join(300)
        assert not trainer.is_alive() and not trainer_failures, trainer_failures
        sessions_seen = server.api("GET", "/api/history").json()["sessions"]
        assert sessions["started"] >= 1
        assert all(s["status"] in ("running", "early_stopped", "stopped") for s in sessions_seen)

        want = {s: v for w in writers for s, v in w.acked.items() if v is not None}
        want.update(cli_acked)
        assert _csv(workspace) == want

        def served() -> dict[int, int]:
            answer = server.api("GET", "/api/labels").json()["labels"]
            return {int(s): v for s, v in answer.items()}

        # The --no-server writes reach the server through its file watcher.
        wait_for(lambda: served() == want, 15, "the server to hold every acknowledged label")


def _in_full_swing(writers: list[Writer], rng: random.Random) -> None:
    """Return at a random moment of a storm in full swing: once every writer was answered,
    after a random number of further answers (on a busy machine the first answers alone can
    take over a second)."""
    wait_for(lambda: all(w.ops for w in writers), 60, "every writer's first answer")
    more = sum(w.ops for w in writers) + rng.randrange(20, 200)
    wait_for(
        lambda: sum(w.ops for w in writers) >= more or any(w.errors for w in writers),
        120,
        f"{more} answers in all",
    )


def age_temp_files(workspace: Path) -> None:
    """Make the temp files a killed server left behind older than SETTLE_S.

    A restart leaves a temp file younger than that to its writer, which may be between its
    close and its rename; the writer here is dead, so age the files instead of waiting.
    """
    old = time.time() - SETTLE_S - 1
    for path in workspace.rglob(".*.tmp"):
        os.utime(path, (old, old))


def _start(server: LiveServer, body: dict) -> None:
    answer = server.api("POST", "/api/train", body)
    assert answer.status == 202, (answer.status, answer.body, server.output())


def _check_after_crash(workspace: Path, acked: dict[int, int | None], maybe: dict) -> None:
    on_disk = _csv(workspace)
    for serial in range(N):
        allowed = {acked.get(serial)}
        if serial in maybe:
            allowed.add(maybe[serial])
        assert on_disk.get(serial) in allowed, (serial, on_disk.get(serial), allowed)


def test_kill_9_in_label_storms(workspace: Path, tiny_data_dir: Path) -> None:
    rng = random.Random(7)
    acked: dict[int, int | None] = {}
    for round_ in range(3):
        with running_server(workspace, tiny_data_dir) as server:
            writers = [
                Writer(server, range(k * 150, k * 150 + 150), 10 * round_ + k) for k in range(4)
            ]
            stop = threading.Event()
            threads = [threading.Thread(target=w.run, args=(10_000, stop)) for w in writers]
            for thread in threads:
                thread.start()
            _in_full_swing(writers, rng)
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(10)
            stop.set()
            for thread in threads:
                thread.join(60)
        maybe: dict[int, int | None] = {}
        for writer in writers:
            acked.update(writer.acked)
            maybe.update(writer.in_flight)
            assert writer.ops > 0
        age_temp_files(workspace)
        with running_server(workspace, tiny_data_dir) as server:
            _check_after_crash(workspace, acked, maybe)
            served = server.api("GET", "/api/labels").json()["labels"]
            assert {int(s): v for s, v in served.items()} == _csv(workspace)
        acked = {s: v for s, v in _csv(workspace).items()}  # the next round starts from here
        assert not list(workspace.rglob("*.tmp"))


@pytest.mark.parametrize("delay_ms", [0, 10, 50, 200])
def test_kill_9_during_the_end_of_session_save(
    workspace: Path, tiny_data_dir: Path, delay_ms: int
) -> None:
    with running_server(workspace, tiny_data_dir) as server:
        assert server.api("PUT", "/api/labels/1", {"label": 1}).status == 200
        with SSEReader(server.url) as events:
            events.next()
            _start(server, {"epochs": 1})
            events.until("latent_refreshed")  # a first checkpoint to fall back on
            _start(server, {"epochs": 2})
            events.until("train_ended")
            # Not a wait for something: the kill's moment, somewhere in the save (checkpoint,
            # history, plot, cache), is what this test varies.
            time.sleep(delay_ms / 1000)
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(10)
    age_temp_files(workspace)
    ckpt = workspace / "artifacts" / "mnist" / "ssvae.ckpt"
    with running_server(workspace, tiny_data_dir) as server:
        status = server.api("GET", "/api/status").json()
        loaded = load_checkpoint(ckpt, dataset="mnist")
        assert loaded is not None and loaded.epochs_trained in (1, 3)
        assert status["checkpoint"]["epochs_trained"] == loaded.epochs_trained
        history = [r["global_epoch"] for r in read_history_csv(ckpt.with_name("history.csv"))]
        assert history == [r["global_epoch"] for r in loaded.history]
        assert server.api("GET", "/api/labels").json()["labels"] == {"1": 1}
        if loaded.epochs_trained == 3:
            assert load_checkpoint(previous_path(ckpt)).epochs_trained == 1
        assert not list(workspace.rglob("*.tmp"))
        # And it trains on from there.
        with SSEReader(server.url) as events:
            events.next()
            _start(server, {"epochs": 1})
            assert events.until("train_ended")[-1].data["status"] == "completed"
            # The session's save (accuracy, checkpoint, history, plot, cache) follows its
            # train_ended; Ctrl+C in the middle of it waits for it, and on a loaded machine
            # that took longer than the stop timeout. Stop an idle server.
            events.until("latent_refreshed")
