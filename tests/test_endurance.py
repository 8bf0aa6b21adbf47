"""A three-hour session compressed: many sessions, labels, reconnects, reloads and a restart.

One real `alctl serve` runs 20 one-epoch training sessions while an HTTP client makes 2,000
label operations (PUT, DELETE and bulk POST) between and during them; each session is watched
through a fresh event-stream connection, and a real Chromium page stays open throughout and is
reloaded every other session. What must hold, measured on the server process from /proc:

- its resident memory grows by at most 5 % from the end of warm-up (3 sessions) to the end;
- the label API's median latency in the last sessions is close to the first sessions';
- its threads return to the warm-up count once the sessions end, and its open files stay put;
- the CSV is exactly the acknowledged state.

Then the server restarts on the same port with the page left open, and the page carries on.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ssvae.io.labels import LabelStore
from tests.browser import guard_page, launched_chromium, wait_for
from tests.live_server import LiveServer, SSEReader, free_port, running_server
from tests.test_storm_and_crash import Writer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
]

N = 600  # the tiny dataset
SESSIONS = 20
WARM_UP = 3
OPS = 2_000
TIMED_OPS = 40  # of each session's 100, made with the server idle
RELOAD_EVERY = 2  # 10 reloads in 20 sessions
RSS_GROWTH = 0.05
# The median may grow by 20 %, or by this much when that is more: an idle server answers a
# label write in a few milliseconds, so 20 % of it is below the scheduling noise of a shared
# 2-core machine. The median, not the p95: other processes' bursts preempt the server for
# slices of 10-20 ms and move the tail by tens of milliseconds (a p95 went 35 → 82 ms at a
# load of 7 with nothing growing), while a leak that slows every request (a list scanned per
# write, growing queues) moves the median too, and grows with the 2,000 operations far past
# this floor.
MEDIAN_FLOOR_S = 0.010
FD_MARGIN = 4  # sockets the kernel has not finished closing
SESSION_TIMEOUT_S = 120.0


def proc_status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def threads(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/task").iterdir()))


def open_files(pid: int) -> Counter[str]:
    """The process's open descriptors by kind: "socket", "pipe", "anon_inode:…" or the path."""
    kinds: Counter[str] = Counter()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # closed between the listing and the look
            target = os.readlink(fd)
            kinds[target.split(":")[0] if target.startswith(("socket:", "pipe:")) else target] += 1
    return kinds


class Labeler:
    """A storm writer over the whole dataset, with each operation timed."""

    def __init__(self, server: LiveServer, seed: int) -> None:
        self.writer = Writer(server, range(N), seed)

    def run(self, ops: int) -> list[float]:
        seconds = []
        for _ in range(ops):
            started = time.perf_counter()
            self.writer.run(1)
            seconds.append(time.perf_counter() - started)
        assert not self.writer.errors, self.writer.errors
        return seconds

    def want(self) -> dict[int, int]:
        return {s: v for s, v in self.writer.acked.items() if v is not None}


def p95(seconds: list[float]) -> float:
    return statistics.quantiles(seconds, n=20)[-1]


def median(seconds: list[float]) -> float:
    return statistics.median(seconds)


def open_page(browser: Any, server: LiveServer) -> tuple[Any, Any]:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    guard = guard_page(page)
    page.goto(server.url)
    wait_until_live(page)
    return page, guard


def wait_until_live(page: Any) -> None:
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    wait_for(lambda: page.get_attribute("#conn", "data-state") == "live", what="the stream")


def page_labels(page: Any) -> dict[int, int]:
    pairs = page.evaluate(
        "Array.from(window.alctl.state.user).flatMap((v, i) => v >= 0 ? [[i, v]] : [])"
    )
    return {int(s): int(v) for s, v in pairs}


def one_session(server: LiveServer, labeler: Labeler, ops: int) -> list[float]:
    """Start a one-epoch session and label while it runs; once its results are saved, label
    on with the server idle and return those operations' times (training's own CPU use on a
    2-core machine would swamp what is measured: the server's per-request cost over time)."""
    with SSEReader(server.url, timeout=SESSION_TIMEOUT_S) as events:
        events.next()  # the snapshot: subscribed before the session can start
        started = server.api("POST", "/api/train", {"epochs": 1, "batch_size": 16})
        assert started.status == 202, (started.status, started.body)
        labeler.run(ops - TIMED_OPS)
        ended = events.until("train_ended", deadline_s=SESSION_TIMEOUT_S)[-1]
        assert ended.data["status"] == "completed", ended.data
        events.until("latent_refreshed", deadline_s=SESSION_TIMEOUT_S)
    return labeler.run(TIMED_OPS)


def test_a_long_session_compressed(tmp_path: Path, tiny_data_dir: Path) -> None:
    workspace, port = tmp_path / "ws", free_port()
    workspace.mkdir()
    csv = workspace / "data" / "mnist" / "labels.csv"
    with launched_chromium() as browser:
        with running_server(workspace, tiny_data_dir, port=port) as first:
            pid = first.process.pid
            page, guard = open_page(browser, first)
            instance = page.evaluate("window.alctl.serverInstance")
            labeler = Labeler(first, seed=3)
            latencies: list[list[float]] = []
            rss_trace: list[int] = []  # MB after each session, for the failure message
            for number in range(1, SESSIONS + 1):
                latencies.append(one_session(first, labeler, OPS // SESSIONS))
                rss_trace.append(proc_status(pid, "VmRSS") // 1024)
                if number % RELOAD_EVERY == 0:
                    page.reload()
                    wait_until_live(page)
                if number == WARM_UP:
                    rss_warm = proc_status(pid, "VmRSS")
                    threads_warm = threads(pid)
                    files_warm = open_files(pid)
            rss_end = proc_status(pid, "VmRSS")
            growth = (rss_end - rss_warm) / rss_warm
            assert growth <= RSS_GROWTH, f"RSS +{growth:.1%}; MB per session: {rss_trace}"
            # A session's thread ends just after its last event, and idle request-handler
            # threads (anyio's pool) exit after 10 s: the count must come back, not grow.
            wait_for(lambda: threads(pid) <= threads_warm, 30, f"threads back to {threads_warm}")
            wait_for(
                lambda: open_files(pid).total() <= files_warm.total() + FD_MARGIN,
                30,
                f"open files back to {files_warm} (+{FD_MARGIN}): {open_files(pid)}",
            )
            # Three sessions pooled at each end (120 operations each).
            first_times = [t for times in latencies[:3] for t in times]
            last_times = [t for times in latencies[-3:] for t in times]
            first_p50, last_p50 = median(first_times), median(last_times)
            allowed = max(first_p50 * 1.2, first_p50 + MEDIAN_FLOOR_S)
            assert last_p50 <= allowed, (
                f"median {first_p50 * 1e3:.1f} → {last_p50 * 1e3:.1f} ms (p95 "
                f"{p95(first_times) * 1e3:.1f} → {p95(last_times) * 1e3:.1f} ms)"
            )
            want = labeler.want()
            assert LabelStore(csv, N).read() == want
            wait_for(lambda: page_labels(page) == want, 30, "the page on the acknowledged state")
            history = first.api("GET", "/api/history").json()
            assert len(history["sessions"]) == SESSIONS
            print(  # the figures, for `pytest -s`
                json.dumps(
                    {
                        "rss_MB_per_session": rss_trace,
                        "threads": [threads_warm, threads(pid)],
                        "fds": [files_warm.total(), open_files(pid).total()],
                        "median_ms": [round(first_p50 * 1e3, 2), round(last_p50 * 1e3, 2)],
                        "p95_ms": [round(p95(t) * 1e3, 2) for t in (first_times, last_times)],
                    }
                )
            )
        # The page stays open across the restart and must follow the new server.
        guard.allow("ERR_CONNECTION_REFUSED")
        guard.allow("ERR_INCOMPLETE_CHUNKED_ENCODING")
        wait_for(lambda: page.get_attribute("#conn", "data-state") == "down", what="'down'")
        with running_server(workspace, tiny_data_dir, stop_timeout=30, port=port) as second:
            wait_for(
                lambda: page.get_attribute("#conn", "data-state") == "live", 30, "the reconnect"
            )
            wait_for(lambda: page.evaluate("window.alctl.serverInstance") != instance, 30)
            assert page_labels(page) == want
            labeler = Labeler(second, seed=4)
            labeler.writer.acked = dict(want)
            one_session(second, labeler, 20)
            want = labeler.want()
            wait_for(lambda: page_labels(page) == want, 30, "the page on the new server's labels")
            assert LabelStore(csv, N).read() == want
            latent = second.api("GET", "/api/status").json()["latent"]["version"]
            wait_for(
                lambda: str(page.evaluate("window.alctl.state.latentVersion")) == str(latent),
                30,
                "the page on the new latent",
            )
            assert page.evaluate("window.alctl.pendingWrites") == 0
        page.close()
    guard.check()
