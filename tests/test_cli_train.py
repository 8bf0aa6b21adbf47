"""`alctl train` with a real server (followed over SSE) and without one (in-process)."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alctl.cli.server_client import ApiClient
from tests.cli_support import (
    REPO,
    Background,
    api_client,
    as_foreground,
    cli_env,
    one_error_line,
    run,
    wait_idle,
)
from tests.live_server import LiveServer, running_server
from tests.waiting import wait_for


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> Iterator[LiveServer]:
    # One server for the module (starting one costs seconds); `client` leaves it idle.
    with running_server(tmp_path_factory.mktemp("train-ws"), tiny_data_dir) as served:
        yield served


@pytest.fixture()
def client(server: LiveServer) -> Iterator[ApiClient]:
    client = api_client(server)
    wait_idle(client)
    yield client
    if client.status()["training"]["state"] != "idle":
        client.stop_training()
    wait_idle(client)


def ws(server: LiveServer) -> list[str]:
    return ["--workspace", str(server.workspace)]


def wait_running(client: ApiClient, timeout: float = 60.0) -> None:
    wait_for(
        lambda: client.status()["training"]["state"] == "running", timeout, "the session to start"
    )


def test_train_completes_and_is_followed(server: LiveServer, client: ApiClient) -> None:
    before = client.status()["checkpoint"]["epochs_trained"]
    done = run("train", "--epochs", 2, "--batch-size", 100, *ws(server))
    assert done.code == 0, done.stderr
    out = done.stdout
    assert "training session" in out and "batch_size=100" in out
    assert "epoch 1/2 (#" in out and "epoch 2/2 (#" in out
    assert "training completed: 2 epochs" in out
    assert "\r" not in out  # not a TTY: plain lines, no redrawn bar
    status = wait_idle(client)
    assert status["checkpoint"]["epochs_trained"] == before + 2
    assert status["hparams"]["batch_size"] == 100  # the page sees the CLI's settings
    assert client.history()["sessions"][-1]["status"] == "completed"


def test_second_start_is_a_409(server: LiveServer, client: ApiClient) -> None:
    client.start_training(500)
    wait_running(client)
    busy = run("train", "--epochs", 1, *ws(server))
    assert busy.code == 1
    assert "already running" in one_error_line(busy)


def test_failed_session_exits_3(server: LiveServer, client: ApiClient) -> None:
    # 1e38 × the reconstruction loss overflows float32: the session fails, the server lives.
    failed = run("train", "--epochs", 1, "--recon-weight", "1e38", *ws(server))
    assert failed.code == 3, failed
    assert "training failed" in failed.stdout
    ok = run("train", "--epochs", 1, "--recon-weight", 1, *ws(server))
    assert ok.code == 0, ok.stdout + ok.stderr


def test_bad_value_is_the_servers_one_line(server: LiveServer, client: ApiClient) -> None:
    line = one_error_line(run("train", "--learning-rate", "-1", *ws(server)))
    assert "learning_rate" in line
    assert client.status()["training"]["state"] == "idle"


def test_stopped_elsewhere_exits_4(server: LiveServer, client: ApiClient) -> None:
    follower = Background("train", "--epochs", 1000, *ws(server))
    follower.wait_for_output("training session")
    client.stop_training()
    done = follower.finish()
    assert done.code == 4, done
    assert "training stopped" in done.stdout


def test_ctrl_c_without_a_tty_detaches(server: LiveServer, client: ApiClient) -> None:
    follower = Background("train", "--epochs", 1000, *ws(server))
    follower.wait_for_output("training session")
    follower.proc.send_signal(signal.SIGINT)
    done = follower.finish()
    assert done.code == 0, done
    assert "detached" in done.stdout
    assert client.status()["training"]["state"] == "running"  # it goes on without us


def test_detach_returns_once_started(server: LiveServer, client: ApiClient) -> None:
    done = run("train", "--epochs", 1000, "--detach", *ws(server))
    assert done.code == 0, done.stderr
    assert "started on" in done.stdout
    assert client.status()["training"]["state"] in ("running", "stopping")


# -- without a server --------------------------------------------------------------------


@pytest.fixture()
def files(workspace: Path, tiny_data_dir: Path) -> list[str]:
    return ["--workspace", str(workspace), "--data-dir", str(tiny_data_dir)]


def test_direct_training_saves_like_the_server(workspace: Path, files: list[str]) -> None:
    assert run("label", 1, 1, *files).code == 0
    done = run("train", "--epochs", 2, *files)
    assert done.code == 0, done.stderr
    assert "training completed: 2 epochs" in done.stdout
    artifacts = workspace / "artifacts" / "mnist"
    assert (artifacts / "ssvae.ckpt").is_file() and (artifacts / "loss_curves.png").is_file()
    rows = (artifacts / "history.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("session,epoch,global_epoch")
    status = run("status", *files).stdout
    assert "2 epochs trained" in status and "test accuracy" in status
    assert "none running (working on the files)" in status

    again = run("train", "--epochs", 1, *files)  # a continuation, not a restart
    assert "from epoch #2" in again.stdout and "(#3)" in again.stdout


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_direct_ctrl_c_stops_and_saves(workspace: Path, files: list[str], sig: int) -> None:
    trainer = Background("train", "--epochs", 1000, *files)
    trainer.wait_for_output("epoch 1/1000 (#1)")
    trainer.proc.send_signal(sig)
    done = trainer.finish()
    assert done.code == 4, done
    assert "stopping after the current batch" in done.stdout
    assert "training stopped" in done.stdout and "saved" in done.stdout
    assert (workspace / "artifacts" / "mnist" / "ssvae.ckpt").is_file()


def test_direct_refusals(workspace: Path, files: list[str]) -> None:
    line = one_error_line(run("train", "--detach", *files))
    assert "--detach needs a running server" in line
    line = one_error_line(run("train", "--kl-weight", "nan", *files))
    assert "kl_weight" in line
    assert not (workspace / "artifacts").exists()


def test_one_direct_training_per_workspace(workspace: Path) -> None:
    from ssvae.io.checkpoint_lock import CheckpointBusy, checkpoint_owner

    ckpt = workspace / "artifacts" / "mnist" / "ssvae.ckpt"
    refused = pytest.raises(CheckpointBusy, match="another `alctl train`")
    with checkpoint_owner(ckpt, "another `alctl train`"), refused, checkpoint_owner(ckpt, "x"):
        pass
    with checkpoint_owner(ckpt, "x"):
        pass  # released with the first holder


def test_ctrl_c_on_a_terminal_asks_and_stops(server: LiveServer, client: ApiClient) -> None:
    main_fd, child_fd = pty.openpty()
    as_foreground()
    proc = subprocess.Popen(
        [sys.executable, "-m", "alctl", "train", "--epochs", "1000", *ws(server)],
        stdin=child_fd,
        stdout=child_fd,
        stderr=child_fd,
        env=cli_env(COLUMNS="100"),
        cwd=REPO,
    )
    os.close(child_fd)
    seen = b""

    def read_until(words: bytes, timeout: float = 120.0) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while words not in seen:
            assert time.monotonic() < deadline, seen[-500:]
            try:
                seen += os.read(main_fd, 4096)
            except OSError:  # the child closed the terminal
                return

    try:
        read_until(b"batch ")  # the in-place bar is being drawn
        os.kill(proc.pid, signal.SIGINT)
        read_until(b"stop training or detach? [s/d]")
        os.write(main_fd, b"s\n")
        read_until(b"training stopped")
        assert proc.wait(60) == 4
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(main_fd)
    assert b"\r\x1b[K" in seen


def test_server_going_away_ends_the_follower_cleanly(live_server: LiveServer) -> None:
    from tests.live_server import stop_server

    follower = Background("train", "--epochs", 1000, "--workspace", live_server.workspace)
    follower.wait_for_output("training session")
    stop_server(live_server.process, live_server.log, timeout=60)
    done = follower.finish()
    # Either the stop reached us as the session's end (4), or the stream went away (1).
    assert done.code in (1, 4), done
    if done.code == 1:
        assert "event stream" in one_error_line(done)  # closed, or cannot be opened again
    else:
        assert "training stopped" in done.stdout
