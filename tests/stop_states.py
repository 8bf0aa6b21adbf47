"""Stop cycles: start `alctl serve`, bring it into one state, stop it by a signal, time the exit.

Shared by the stop tests (tests/test_stops.py) and `benchmarks/bench_stops.py`, so the table
in a closing note and the test that guards it drive the server the same way. A state's
driver returns when the server is in that state; the signal follows at once.

States:
- idle: serving, the queue's ranking warmed (a typical head answered), nothing running;
- just_ready: 1-15 s after the server first answered (the queue's warm-up may still run);
- after_session: a 1-epoch session ended and its new points are out (`latent_refreshed`);
- during_session: a session is past its first batch (it must stop between batches and save);
- queue: a `typical` queue request whose clusters are not known yet is being computed;
- report: `POST /api/report` is being computed;
- page: the page is open in Chromium and has drawn (needs a browser).
"""

from __future__ import annotations

import contextlib
import random
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.live_server import LiveServer, ServerProcess, SSEReader

STATES = ("idle", "just_ready", "after_session", "during_session", "queue", "report", "page")
STOP_BUDGET_S = 3.0
START_TIMEOUT_S = 120.0  # 12,000 images on a busy machine
SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class StopCycle:
    state: str
    signal: str
    seconds: float  # signal -> exit; inf when it had to be killed
    code: int | None  # the exit status (None: killed)
    stacks: str  # native stacks of a process that did not exit in time ("" otherwise)
    lost: list[str]  # what was acknowledged before the signal and is not on disk after

    @property
    def hung(self) -> bool:
        return self.seconds > STOP_BUDGET_S


@contextlib.contextmanager
def started_server(
    workspace: Path, data_dir: Path | None, dataset: str, env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """`alctl serve` until the block ends (the block is expected to stop it; killed if not)."""
    server = ServerProcess(workspace, data_dir, dataset, env=env)
    process = server.start().process
    assert process is not None
    try:
        server.wait_serving(START_TIMEOUT_S)
        yield server.live()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        server.log.unlink(missing_ok=True)


def stop_and_time(process: subprocess.Popen[bytes], sig: int, wait_s: float) -> tuple[float, str]:
    """Send `sig`; the seconds until the process exited (inf if it had to be killed after
    `wait_s`) and, for a process that did not exit in time, every thread's native stack."""
    started = time.monotonic()
    process.send_signal(sig)
    try:
        process.wait(wait_s)
    except subprocess.TimeoutExpired:
        stacks = native_stacks(process.pid)
        process.kill()
        process.wait()
        return float("inf"), stacks
    return time.monotonic() - started, ""


def native_stacks(pid: int) -> str:
    """Every thread's native stack (gdb when installed), for the record of a hang."""
    gdb = shutil.which("gdb")
    if gdb is None:
        return "(no gdb for native stacks)"
    try:
        done = subprocess.run(
            [gdb, "-p", str(pid), "-batch", "-ex", "thread apply all bt 25"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "(gdb did not attach within 120 s)"
    return "\n".join(line for line in done.stdout.splitlines() if line.startswith(("Thread ", "#")))


# -- the states --------------------------------------------------------------------------


def _queue(server: LiveServer, strategy: str, n: int, timeout: float = 120.0) -> Any:
    return server.api("GET", f"/api/queue?strategy={strategy}&n={n}", timeout=timeout)


def _idle(server: LiveServer, rng: random.Random, page: Any) -> None:
    answer = _queue(server, "typical", 50)
    assert answer.status == 200, answer.body


def _just_ready(server: LiveServer, rng: random.Random, page: Any) -> None:
    time.sleep(rng.uniform(1.0, 15.0))  # the state itself is a moment after start


def _train(server: LiveServer, until: str, epochs: int = 1) -> None:
    with SSEReader(server.url, timeout=60) as events:
        events.until("snapshot", deadline_s=30)
        answer = server.api("POST", "/api/train", {"epochs": epochs})
        assert answer.status in (200, 202), answer.body
        events.until(until, deadline_s=600)


def _after_session(server: LiveServer, rng: random.Random, page: Any) -> None:
    _train(server, "latent_refreshed")


def _during_session(server: LiveServer, rng: random.Random, page: Any) -> None:
    # Stopped in its second epoch: a session keeps whole epochs, so the first must be saved.
    _train(server, "train_epoch", epochs=2)


def _in_flight(request: Callable[[], Any], delay_s: float) -> None:
    """Send `request` from a thread and return `delay_s` after (while it is computed)."""
    threading.Thread(target=_quiet, args=(request,), daemon=True).start()
    time.sleep(delay_s)


def _quiet(request: Callable[[], Any]) -> None:
    with contextlib.suppress(Exception):
        request()


def _queue_request(server: LiveServer, rng: random.Random, page: Any) -> None:
    # A head length the warm-up did not rank: a new number of clusters to fit.
    n = rng.randrange(300, 1000)
    _in_flight(lambda: _queue(server, "typical", n), 0.3)


def _report(server: LiveServer, rng: random.Random, page: Any) -> None:
    _in_flight(lambda: server.api("POST", "/api/report", timeout=120), 0.5)


def _page(server: LiveServer, rng: random.Random, page: Any) -> None:
    if page is None:
        raise ValueError("the page state needs a browser page")
    page.goto(server.url)
    page.wait_for_function("document.body.dataset.ready === '1'", timeout=120_000)


DRIVERS: dict[str, Callable[[LiveServer, random.Random, Any], None]] = {
    "idle": _idle,
    "just_ready": _just_ready,
    "after_session": _after_session,
    "during_session": _during_session,
    "queue": _queue_request,
    "report": _report,
    "page": _page,
}


def _label_now(server: LiveServer, rng: random.Random) -> tuple[int, int]:
    """Write one label through the API (acknowledged when this returns): (serial, label)."""
    serial, label = rng.randrange(1000, 2000), rng.randrange(10)
    answer = server.api("PUT", f"/api/labels/{serial}", {"label": label})
    assert answer.status == 200, answer.body
    return serial, label


def _lost(workspace: Path, dataset: str, label: tuple[int, int], trained: bool,
          checkpoint_before: int | None) -> list[str]:  # fmt: skip
    lost = []
    csv = workspace / "data" / dataset / "labels.csv"
    rows = dict(line.split(",") for line in csv.read_text().splitlines()[1:] if line)
    if rows.get(str(label[0])) != str(label[1]):
        lost.append(f"label {label[0]} = {label[1]}")
    checkpoint = workspace / "artifacts" / dataset / "ssvae.ckpt"
    if trained and checkpoint.stat().st_mtime_ns == checkpoint_before:
        lost.append("the session's checkpoint")
    return lost


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def stop_cycle(
    state: str,
    cycle: int,
    workspace: Path,
    data_dir: Path | None,
    dataset: str,
    *,
    rng: random.Random,
    browser: Any = None,
    wait_s: float = 30.0,
    env: dict[str, str] | None = None,
) -> StopCycle:
    """One start, `state`, a label acknowledged, stop (SIGINT on even cycles, SIGTERM on odd
    ones); then what was acknowledged is looked for on disk."""
    sig = SIGNALS[cycle % 2]
    page = browser.new_page() if state == "page" else None
    before = _mtime(workspace / "artifacts" / dataset / "ssvae.ckpt")
    try:
        with started_server(workspace, data_dir, dataset, env) as server:
            DRIVERS[state](server, rng, page)
            label = _label_now(server, rng)
            seconds, stacks = stop_and_time(server.process, sig, wait_s)
            code = server.process.returncode if seconds != float("inf") else None
    finally:
        if page is not None:
            page.close()
    trained = state in ("after_session", "during_session")
    lost = _lost(workspace, dataset, label, trained, before)
    return StopCycle(state, signal.Signals(sig).name, seconds, code, stacks, lost)
