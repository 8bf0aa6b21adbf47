"""Shared pieces of the benchmarks: statistics, the result table, a real server, Chromium.

Every benchmark prints Markdown tables (`### title` + `| ... |` rows) so that `run_all.py`
can collect them and a closing note can paste them as they are. The server launcher and the
SSE client are the tests' and the CLI's own (tests.live_server, alctl.cli.server_client).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as `python benchmarks/x.py`: the tests' helpers too
    sys.path.insert(0, str(REPO))

from alctl.cli.server_client import EventStream, ServerError, open_event_stream  # noqa: E402
from tests.live_server import ServerProcess  # noqa: E402

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


def bench_env(**extra: str) -> dict[str, str]:
    """The environment for spawned servers and scripts: never download, unbuffered output."""
    env = dict(os.environ)
    env.update({"ALCTL_NO_DOWNLOAD": "1", "PYTHONUNBUFFERED": "1"})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def dataset_args(dataset: str, data_dir: Path | None) -> list[str]:
    return ["--dataset", dataset] + (["--data-dir", str(data_dir)] if data_dir else [])


def train_script(
    workspace: Path, dataset: str, data_dir: Path | None, epochs: int, *extra: str, timeout: float
) -> None:
    """Run scripts/train.py on a dataset (continuing the workspace's checkpoint, if any)."""
    run_checked(
        [
            sys.executable,
            "scripts/train.py",
            "--workspace",
            str(workspace),
            *dataset_args(dataset, data_dir),
            "--max-epochs",
            str(epochs),
            *extra,
        ],
        timeout=timeout,
        env=bench_env(),
    )


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


def bench_server(
    workspace: Path,
    dataset: str,
    data_dir: Path | None = None,
    *,
    env: dict[str, str] | None = None,
) -> ServerProcess:
    """The tests' launcher (tests.live_server.ServerProcess) with the benchmarks' environment
    (every thread the machine has, unlike a test server); use it as a context manager.

    Its `spawned_at` is taken right before the process is created, so start-up times
    include the interpreter start and every import, as a user typing the command sees them.
    """
    return BenchServer(workspace, data_dir, dataset, env=env or bench_env())


class BenchServer(ServerProcess):
    """A benchmark's server: a slow exit at the end is a warning, not a lost table."""

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop(timeout=15.0)
        except AssertionError as slow:
            print(f"warning: {str(slow).splitlines()[0]}", file=sys.stderr)


class EventRecorder:
    """Reads a server's SSE stream in a thread (through the CLI's own client); keeps
    (time.time(), event, data) per event as it arrives."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.events: list[tuple[float, str, Any]] = []
        self._arrived = threading.Condition()
        self._stream: EventStream | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="sse-recorder", daemon=True)

    def start(self) -> EventRecorder:
        self._stream = open_event_stream(self.url, timeout=60.0)
        self._thread.start()
        self.wait_for("snapshot", timeout=30.0)
        return self

    def _run(self) -> None:
        assert self._stream is not None
        try:
            for event in self._stream:
                with self._arrived:
                    self.events.append((time.time(), event.event, event.data))
                    self._arrived.notify_all()
        except ServerError:
            pass  # closed: by close(), or the server stopped
        finally:
            with self._arrived:
                self._closed = True
                self._arrived.notify_all()

    def named(self, event: str) -> list[tuple[float, Any]]:
        with self._arrived:
            return [(t, d) for t, e, d in self.events if e == event]

    def wait_for(self, event: str, timeout: float, after: int = 0) -> tuple[float, Any]:
        """The first `event` beyond the first `after` of its kind, waiting up to `timeout` s."""

        def found() -> list[tuple[float, Any]] | None:
            seen = [(t, d) for t, e, d in self.events if e == event]
            return seen if len(seen) > after or self._closed else None

        with self._arrived:
            seen = self._arrived.wait_for(found, timeout)
        if seen is None:
            raise TimeoutError(f"no {event!r} event within {timeout:.0f} s")
        if len(seen) <= after:
            raise RuntimeError(f"event stream {self.url} closed before {event!r}")
        return seen[after]

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        self._thread.join(2.0)


def launch_chromium(playwright: Any) -> Any:
    """Headless Chromium with the launch settings the browser tests own (tests/browser.py)."""
    from tests.browser import CHROMIUM, CHROMIUM_ARGS, browser_problem

    problem = browser_problem()
    if problem is not None:
        raise SystemExit(problem.split(", or deselect")[0])
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
