"""Shared pieces of the benchmarks: statistics, the result table, a real server, Chromium.

Every benchmark prints Markdown tables (`### title` + `| ... |` rows) so that `run_all.py`
can collect them and a closing note can paste them as they are.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_TRAIN = 60_000


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation, as numpy's default; NaN if empty."""
    data = sorted(v for v in values if not math.isnan(v))
    if not data:
        return math.nan
    rank = (len(data) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(data) - 1)
    if rank == low or data[low] == data[high]:  # inf (a timeout) * 0 would be NaN
        return data[low]
    return data[low] + (data[high] - data[low]) * (rank - low)


@dataclass
class Result:
    """One table row: a budget and the samples measured against it.

    `judge` names the statistic compared with `limit` ("p95", "p50" or "min");
    `higher_is_better` flips the comparison (throughput ratios, event rates).
    """

    interaction: str
    budget: str
    unit: str
    limit: float | None = None
    samples: list[float] = field(default_factory=list)
    judge: str = "p95"
    higher_is_better: bool = False
    note: str = ""

    def stat(self, name: str) -> float:
        if name == "min":
            return min(self.samples) if self.samples else math.nan
        return percentile(self.samples, float(name[1:]))

    @property
    def verdict(self) -> str:
        value = self.stat(self.judge)
        if self.limit is None:
            return "info"
        if math.isnan(value):
            return "NOT MEASURED"
        ok = value >= self.limit if self.higher_is_better else value <= self.limit
        return "MET" if ok else "MISSED"

    def cells(self) -> list[str]:
        return [
            self.interaction,
            self.budget,
            format_value(self.stat("p50"), self.unit),
            format_value(self.stat("p95"), self.unit) if len(self.samples) > 1 else "–",
            str(len(self.samples)),
            self.verdict,
        ]


def chromium_cpu_s() -> float:
    """CPU seconds used so far by the Chromium processes under this one (via /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        if "chrom" in name:
            cpu[pid] = (int(fields[11]) + int(fields[12])) / tick

    def ours(pid: int) -> bool:
        while pid > 1:
            if pid == os.getpid():
                return True
            pid = parents.get(pid, 0)
        return False

    return sum(seconds for pid, seconds in cpu.items() if ours(pid))


def speed_ratio_row(interaction: str, ratio_percent: float, note: str) -> Result:
    """A "≥ 95 %" speed-ratio row, judged on its one value."""
    return Result(
        interaction,
        "≥ 95 %",
        "%",
        95,
        [ratio_percent],
        judge="p50",
        higher_is_better=True,
        note=note,
    )


def format_value(value: float, unit: str) -> str:
    if math.isnan(value):
        return "–"
    if unit == "x":
        return f"{value:.2f}×"
    if unit == "%":
        return f"{value:.1f} %"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:.{digits}f} {unit}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


RESULT_HEADERS = ("interaction", "budget", "measured p50", "p95", "n", "verdict")


def print_results(title: str, results: Sequence[Result], notes: Sequence[str] = ()) -> None:
    """Print the results as a Markdown table, then the notes of every row that has one."""
    print(f"\n### {title}\n")
    print(markdown_table(RESULT_HEADERS, [r.cells() for r in results]))
    lines = [f"- {r.interaction}: {r.note}" for r in results if r.note] + [f"- {n}" for n in notes]
    if lines:
        print("\n" + "\n".join(lines))
    sys.stdout.flush()


def machine_load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_env(**extra: str) -> dict[str, str]:
    """The environment for spawned servers and scripts: never download, unbuffered output."""
    env = dict(os.environ)
    env.update({"ALCTL_NO_DOWNLOAD": "1", "PYTHONUNBUFFERED": "1"})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def dataset_args(dataset: str, data_dir: Path | None) -> list[str]:
    return ["--dataset", dataset] + (["--data-dir", str(data_dir)] if data_dir else [])


def run_checked(cmd: Sequence[str], *, timeout: float, env: dict[str, str]) -> str:
    """Run a command to completion; on failure raise with its output's tail."""
    proc = subprocess.run(
        list(cmd), cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise RuntimeError(f"{' '.join(cmd[:4])}... exited {proc.returncode}:\n{tail}")
    return proc.stdout


def label_csv(workspace: Path, dataset: str, n_train: int, count: int, seed: int = 1) -> Path:
    """`count` random images labeled (random classes: the benchmarks time, they do not learn)
    as the workspace's label CSV."""
    import random

    rng = random.Random(seed)
    csv = workspace / "data" / dataset / "labels.csv"
    csv.parent.mkdir(parents=True, exist_ok=True)
    picks = sorted(rng.sample(range(n_train), count))
    csv.write_text("Serial,label\n" + "".join(f"{s},{rng.randrange(10)}\n" for s in picks))
    return csv


def bench_dataset(root: Path, quick: bool, data_dir: Path, quick_n: int) -> tuple[Path, str, int]:
    """(data dir, dataset, training images): Fashion-MNIST, or `quick_n` generated images."""
    if not quick:
        return data_dir, "fashion-mnist", FASHION_TRAIN
    sys.path.insert(0, str(REPO))
    from tests.datagen import write_synthetic_idx

    return write_synthetic_idx(root / "idx", quick_n, max(200, quick_n // 6)), "mnist", quick_n


def make_workspace(
    ws: Path, dataset: str, data_dir: Path | None, n_train: int, labels: int, epochs: int = 1
) -> Path:
    """A workspace at `ws` with `labels` labels and an `epochs`-epoch checkpoint (trained by
    `alctl train --no-server`, which also writes the prediction cache)."""
    label_csv(ws, dataset, n_train, labels)
    command = [sys.executable, "-m", "alctl", "train", "--no-server", "--epochs", str(epochs)]
    command += ["--workspace", str(ws), *dataset_args(dataset, data_dir)]
    run_checked(command, timeout=3600, env=bench_env())
    return ws


class ServerProcess:
    """A real `python -m alctl serve` subprocess on a free loopback port.

    `spawned_at` is taken right before the process is created, so start-up times include
    the interpreter start and every import, as a user typing the command sees them.
    """

    def __init__(
        self,
        workspace: Path,
        dataset: str,
        data_dir: Path | None = None,
        *,
        env: dict[str, str] | None = None,
    ) -> None:
        self.workspace = workspace
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._cmd = [
            sys.executable,
            "-m",
            "alctl",
            "serve",
            "--workspace",
            str(workspace),
            "--port",
            str(self.port),
            *dataset_args(dataset, data_dir),
        ]
        self._env = env or bench_env()
        # Closed in close(); a file, not a pipe, so a chatty server never blocks on output.
        self._log = tempfile.NamedTemporaryFile(prefix="alctl-bench-server-", suffix=".log")  # noqa: SIM115
        self.process: subprocess.Popen[bytes] | None = None
        self.spawned_at = math.nan  # perf_counter() at spawn
        self.spawned_wall = math.nan  # time.time() at spawn, to compare with the page's clock

    def start(self) -> ServerProcess:
        self.spawned_wall = time.time()
        self.spawned_at = time.perf_counter()
        self.process = subprocess.Popen(
            self._cmd, cwd=REPO, env=self._env, stdout=self._log, stderr=subprocess.STDOUT
        )
        return self

    def output(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def wait_port(self, timeout: float = 120.0) -> float:
        """Seconds from spawn until the port accepts a connection."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            self._check_alive()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return time.perf_counter() - self.spawned_at
            except OSError:
                time.sleep(0.005)
        raise TimeoutError(
            f"server did not listen within {timeout:.0f} s:\n{self.output()[-3000:]}"
        )

    def token(self, timeout: float = 10.0) -> str:
        """The page token, from the discovery file the server writes once listening."""
        path = self.workspace / ".alctl" / "server.json"
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            try:
                info = json.loads(path.read_text())
                if int(info.get("pid", -1)) == self.process.pid:
                    return str(info["token"])
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.02)
        raise TimeoutError(f"no discovery file {path} for this server")

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            print(f"warning: server pid {self.process.pid} ignored Ctrl+C; killing it")
            self.process.kill()
            self.process.wait()

    def close(self) -> None:
        self.stop()
        self._log.close()

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(
                f"server exited with {self.process.returncode}:\n{self.output()[-3000:]}"
            )

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventRecorder:
    """Reads a server's SSE stream in a thread; keeps (time.time(), event, data) per event."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/") + "/api/events"
        self.events: list[tuple[float, str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sse-recorder", daemon=True)
        self._response: Any = None

    def start(self) -> EventRecorder:
        self._thread.start()
        self.wait_for("snapshot", timeout=30.0)
        return self

    def _run(self) -> None:
        import httpx

        with (
            httpx.Client(timeout=httpx.Timeout(5.0, read=None), trust_env=False) as client,
            client.stream("GET", self.url) as response,
        ):
            self._response = response
            event, data = "message", []
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
                elif not line and data:
                    arrived = time.time()
                    with self._lock:
                        self.events.append((arrived, event, json.loads("\n".join(data))))
                    event, data = "message", []

    def named(self, event: str) -> list[tuple[float, Any]]:
        with self._lock:
            return [(t, d) for t, e, d in self.events if e == event]

    def wait_for(self, event: str, timeout: float, after: int = 0) -> tuple[float, Any]:
        """The first `event` beyond the first `after` of its kind, waiting up to `timeout` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.named(event)
            if len(found) > after:
                return found[after]
            if not self._thread.is_alive():
                raise RuntimeError(f"event stream {self.url} closed before {event!r}")
            time.sleep(0.01)
        raise TimeoutError(f"no {event!r} event within {timeout:.0f} s")

    def close(self) -> None:
        self._stop.set()
        if self._response is not None:
            self._response.close()
        self._thread.join(2.0)


def launch_chromium(playwright: Any) -> Any:
    """Headless Chromium with the launch settings the browser tests own (tests/browser.py)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: install it with `apt-get install chromium`")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
