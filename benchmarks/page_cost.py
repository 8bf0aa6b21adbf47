"""What an open dashboard costs a training session: epochs with the page open vs no page.

One server per torch-thread setting, each on its own copy of the workspace, all started
together and left alone for `settle_s` once their model is ready, then until every one of them
rests (under 5 % of a core): a server still warming its queue is a neighbour to the one that
trains. Then,
round after round, every setting trains one session with a page open (A) and one with no page
(B), so a machine that gets busier or calmer during the run favours no setting and no side.
Epoch times come from `train_epoch.seconds`, read by a Python SSE client (not a page) that
stays connected to every server throughout.

The harder case is the default: a 1440×900 window in a Chromium that composites through
SwiftShader (`BROWSERS["swiftshader"]`): every frame the page makes is composited in software
over the whole window, about 20-35 ms of CPU each. The tests' Chromium (`--disable-gpu`,
software compositing of the damaged area only) makes the same page several times cheaper.
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import (
    REPO,
    EventRecorder,
    Result,
    ServerProcess,
    bench_env,
    bench_server,
    chromium_cpu_s,
    machine_load,
    markdown_table,
    percentile,
)

BATCH_SIZE = 128
VIEWPORT = {"width": 1440, "height": 900}
POLICY = "policy"  # the setting that leaves the count to alctl (no OMP_NUM_THREADS)


def browser_args(kind: str) -> list[str]:
    """Chromium flags: "software" = the tests' (--disable-gpu: software compositing);
    "swiftshader" = GPU compositing through SwiftShader, as a machine without a GPU gets
    when nothing turns the GPU off (the harder case)."""
    import sys

    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.browser import CHROMIUM_ARGS

    if kind == "software":
        return list(CHROMIUM_ARGS)
    if kind == "swiftshader":
        return [a for a in CHROMIUM_ARGS if a != "--disable-gpu"] + [
            "--use-angle=swiftshader",
            "--enable-unsafe-swiftshader",
        ]
    raise ValueError(f"unknown browser kind {kind!r}: software or swiftshader")


def launch_browser(playwright: Any, kind: str) -> Any:
    from tests.browser import CHROMIUM

    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: install it with `apt-get install chromium`")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=browser_args(kind))


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by one process, all its threads."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Side:
    """One side (page open, or no page) of one thread setting."""

    epochs: list[float] = field(default_factory=list)  # seconds of every epoch
    chromium: list[float] = field(default_factory=list)  # share of a core, per session
    server: list[float] = field(default_factory=list)  # the server's cores in use, per session
    threads: Counter[int] = field(default_factory=Counter)  # batches reported per count

    @property
    def median(self) -> float:
        return percentile(self.epochs, 50)


@dataclass
class Setting:
    """A torch-thread setting: "2" runs the server with OMP_NUM_THREADS=2, "policy" without;
    a "+passive" suffix adds OMP_WAIT_POLICY=PASSIVE (threads sleep at once at a barrier
    instead of spinning: kinder to a neighbour, maybe slower alone)."""

    label: str
    page: Side = field(default_factory=Side)
    alone: Side = field(default_factory=Side)

    @property
    def env(self) -> dict[str, str]:
        count, _, wait = self.label.partition("+")
        env = {} if count == POLICY else {"OMP_NUM_THREADS": count}
        if wait:
            env["OMP_WAIT_POLICY"] = wait.upper()
        return env


class Trained:
    """One settled server of a setting: starts sessions over HTTP, reads epochs over SSE."""

    def __init__(self, server: ServerProcess) -> None:
        import httpx

        self.server = server
        self.http = httpx.Client(
            base_url=server.url,
            headers={"X-Alctl-Token": server.wait_serving()},
            trust_env=False,
            timeout=60.0,
        )
        self.events = EventRecorder(server.url).start()
        self.measured: dict[str, float] = {}

    def wait_model(self, timeout: float = 600.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.http.get("/api/status").json()["model"]["state"] == "ready":
                return
            time.sleep(0.5)
        raise TimeoutError(f"the model of {self.server.url} did not load in {timeout:.0f} s")

    def session(self, epochs: int, side: Side) -> None:
        """Train `epochs` epochs and wait for the new points; record them into `side`."""
        names = ("train_started", "train_progress", "train_ended")
        counts = {name: len(self.events.named(name)) for name in names}
        refreshed = len(self.events.named("latent_refreshed"))
        answer = self.http.post("/api/train", json={"epochs": epochs, "batch_size": BATCH_SIZE})
        answer.raise_for_status()
        session = answer.json()["session"]
        self.events.wait_for("train_started", timeout=600, after=counts["train_started"])
        pid = self.server.process.pid
        chromium, server, wall = chromium_cpu_s(), process_cpu_s(pid), time.monotonic()
        self.events.wait_for("train_progress", timeout=600, after=counts["train_progress"])
        self.events.wait_for("train_ended", timeout=7200, after=counts["train_ended"])
        seconds = time.monotonic() - wall
        side.chromium.append((chromium_cpu_s() - chromium) / seconds)
        side.server.append((process_cpu_s(pid) - server) / seconds)
        self.events.wait_for("latent_refreshed", timeout=600, after=refreshed)
        side.epochs += [
            float(record["seconds"])
            for _, record in self.events.named("train_epoch")
            if record.get("session") == session
        ]
        threads = self.http.get("/api/status").json().get("threads") or {}
        self.measured = threads.get("measured_ms") or {}  # the trainer's last timings
        side.threads.update(
            int(record["threads"])
            for _, record in self.events.named("train_progress")
            if record.get("session") == session and record.get("threads")
        )

    def close(self) -> None:
        self.events.close()
        self.http.close()


def open_dashboard(browser: Any, url: str, viewport: dict[str, int]) -> Any:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=180_000)
    page.wait_for_selector("#conn[data-state='live']", timeout=60_000)
    page.wait_for_timeout(1000)  # let the first draws finish before the clock starts
    return context


def copy_workspace(source: Path, target: Path, dataset: str) -> Path:
    """The checkpoint and labels of `source` in a fresh workspace `target`."""
    shutil.rmtree(target, ignore_errors=True)
    for part in (f"artifacts/{dataset}", f"data/{dataset}"):
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part)
    return target


def measure_page_cost(
    browser: Any,
    workspace: Path,
    dataset: str,
    data_dir: Path | None,
    *,
    settings: list[str],
    rounds: int,
    epochs: int,
    viewport: dict[str, int],
    settle_s: float,
) -> tuple[list[Setting], list[str]]:
    """`rounds` rounds; in each, every setting trains with a page open (A), then without (B).

    Returns the settings with their measurements, and the order the sessions ran in."""
    measured = [Setting(label) for label in settings]
    servers: list[ServerProcess] = []
    trainers: list[Trained] = []
    order: list[str] = []
    try:
        for s in measured:
            copy = copy_workspace(workspace, workspace.parent / f"ws-threads-{s.label}", dataset)
            servers.append(bench_server(copy, dataset, data_dir, env=bench_env(**s.env)).start())
        for server in servers:
            server.wait_port()
            trainers.append(Trained(server))
        for trainer in trainers:
            trainer.wait_model()
        time.sleep(settle_s)
        # Start-up work (the queue's warm-up, caches) is over before the clock starts: an idle
        # server still computing is a neighbour for the one that trains.
        wait_quiet([server.process.pid for server in servers])
        for _ in range(rounds):
            for s, trainer in zip(measured, trainers, strict=True):
                context = open_dashboard(browser, trainer.server.url, viewport)
                trainer.session(epochs, s.page)
                timed_with_page = trainer.measured
                context.close()
                trainer.session(epochs, s.alone)
                order += [f"{s.label}:A", f"{s.label}:B"]
                timed = (
                    f"; timed ms a batch, page {timed_with_page}, no page {trainer.measured}"
                    if trainer.measured
                    else ""
                )
                print(
                    f"  threads {s.label}: page {_seconds(s.page.epochs[-epochs:])}, "
                    f"no page {_seconds(s.alone.epochs[-epochs:])}{timed}; {machine_load()}",
                    flush=True,
                )
    finally:
        for trainer in trainers:
            trainer.close()
        for server in servers:
            server.__exit__(None, None, None)  # a slow exit is a warning, not a lost table
    return measured, order


def wait_quiet(
    pids: list[int], share: float = 0.05, window_s: float = 5.0, timeout_s: float = 1200.0
) -> None:
    """Wait until every process uses under `share` of a core over `window_s` seconds."""
    deadline = time.monotonic() + timeout_s
    while True:
        before = {pid: process_cpu_s(pid) for pid in pids}
        time.sleep(window_s)
        busy = {pid: (process_cpu_s(pid) - cpu) / window_s for pid, cpu in before.items()}
        if all(v < share for v in busy.values()):
            return
        if time.monotonic() > deadline:
            print(f"  warning: servers still busy after {timeout_s:.0f} s: {busy}", flush=True)
            return


def best_alone(measured: list[Setting]) -> float:
    """The fastest no-page median s/epoch over the settings."""
    return min(s.alone.median for s in measured)


def table(measured: list[Setting]) -> str:
    """The issue's table: per setting, s/epoch of each side, their ratio and Chromium's CPU."""
    best = best_alone(measured)
    rows = []
    for s in measured:
        rows.append(
            [
                s.label + (" (alctl's choice)" if s.label == POLICY else ""),
                _shares(s.page.threads) + " / " + _shares(s.alone.threads),
                _range(s.alone.epochs),
                _range(s.page.epochs),
                f"{s.alone.median / s.page.median:.2f}",
                f"{best / s.page.median:.2f}",
                f"{best / s.alone.median:.2f}",
                _percents(s.page.chromium),
                f"{statistics.median(s.page.server):.2f} / {statistics.median(s.alone.server):.2f}",
            ]
        )
    headers = (
        "setting",
        "threads in use (progress events), page / no page",
        "no page, s/epoch (median, range)",
        "page open, s/epoch",
        "page ÷ no page",
        "page ÷ best no page",
        "no page ÷ best no page",
        "Chromium CPU (page open)",
        "server cores used, page / no page",
    )
    return markdown_table(headers, rows)


def budget_rows(measured: list[Setting], reference: str = "2") -> list[Result]:
    """The issue's budgets, judged on alctl's own choice (the policy setting) when measured,
    else on the first setting: page open ≥ 0.9 of the best no-page speed; no page no slower
    than the two-thread default (`reference`)."""
    chosen = next((s for s in measured if s.label == POLICY), measured[0])
    best = best_alone(measured)
    rows = [
        Result(
            f"page open vs the best no-page speed (threads: {chosen.label})",
            "≥ 0.90",
            "x",
            0.9,
            [best / chosen.page.median],
            judge="p50",
            higher_is_better=True,
            note=f"best no-page median {best:.2f} s/epoch ÷ page-open median "
            f"{chosen.page.median:.2f} s/epoch",
        )
    ]
    ref = next((s for s in measured if s.label == reference), None)
    if ref is not None and ref is not chosen:
        rows.append(
            Result(
                f"no page vs today's {reference}-thread default (threads: {chosen.label})",
                "≥ 0.95",
                "x",
                0.95,
                [ref.alone.median / chosen.alone.median],
                judge="p50",
                higher_is_better=True,
                note=f"{reference}-thread no-page median {ref.alone.median:.2f} s/epoch ÷ "
                f"{chosen.label} no-page median {chosen.alone.median:.2f} s/epoch",
            )
        )
    return rows


def _shares(counts: Counter[int]) -> str:
    """ "2" when every batch reported 2 threads, else each count's share: "1: 70 %, 2: 30 %"."""
    total = sum(counts.values())
    if not total:
        return "?"
    if len(counts) == 1:
        return str(next(iter(counts)))
    return ", ".join(f"{c}: {100 * n / total:.0f} %" for c, n in sorted(counts.items()))


def _range(values: list[float]) -> str:
    if not values:
        return "–"
    return f"{percentile(values, 50):.2f} ({min(values):.2f}–{max(values):.2f})"


def _percents(shares: list[float]) -> str:
    return " ".join(f"{100 * v:.1f}" for v in shares) + " %" if shares else "–"


def _seconds(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values) + " s"
