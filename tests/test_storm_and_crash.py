"""Label storms with training running, and `kill -9` in storms and in the end-of-session save.

The acknowledged state is what the writers were told: each writer owns its serials, so the last
acknowledged write of a serial is its final value. After a crash a serial whose last request
was in flight may hold that request's value or the acknowledged one before it; nothing else.
"""

from __future__ import annotations

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
from ssvae.io.labels import LabelStore
from tests.cli_support import run
from tests.live_server import LiveServer, SSEReader, running_server

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

        def keep_training() -> None:  # early stopping ends sessions; start the next at once
            while not storming.is_set():
                body = {"epochs": 1000, "batch_size": 8}
                if server.api("POST", "/api/train", body).status == 202:
                    sessions["started"] += 1
                time.sleep(0.05)

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
        trainer.join(30)
        server.api("POST", "/api/train/stop")
        sessions_seen = server.api("GET", "/api/history").json()["sessions"]
        assert sessions["started"] >= 1
        assert all(s["status"] in ("running", "early_stopped", "stopped") for s in sessions_seen)

        want = {s: v for w in writers for s, v in w.acked.items() if v is not None}
        want.update(cli_acked)
        assert _csv(workspace) == want
        deadline = time.monotonic() + 15  # the --no-server writes reach it through its watcher
        while True:
            served = {
                int(s): v for s, v in server.api("GET", "/api/labels").json()["labels"].items()
            }
            if served == want or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert served == want


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
            # The kill lands at a random moment of a storm in full swing: on a busy machine
            # the first answers alone can take over a second.
            deadline = time.monotonic() + 60
            while not all(w.ops for w in writers) and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.3, 1.5))
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
        time.sleep(1.1)  # temp files younger than a second are left for their writer
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
            time.sleep(delay_ms / 1000)  # somewhere in: checkpoint, history, plot, cache
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(10)
    time.sleep(1.1)
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
