"""Server memory: resident set of `alctl serve` with the dataset loaded, before and after training.

    python benchmarks/bench_memory.py            # Fashion-MNIST 60k, one epoch (a few minutes)
    python benchmarks/bench_memory.py --quick    # tiny generated data (seconds; not the budget)

Reads VmRSS of the server process from /proc once the model is loaded, and again once a
training session's results are saved (checkpoint, predictions, cache), against the 1 GB budget.
Then bursts: BURSTS rounds of 20 parallel 32×32 decode grids beside 5 reports in a row; the
highest VmRSS seen right after a round, and VmRSS once the server has been idle for IDLE_S.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import (
    FASHION_DIR,
    REPO,
    EventRecorder,
    Result,
    ServerProcess,
    bench_server,
    machine_load,
    print_results,
)

BUDGET_MB = 1024.0
BURSTS = 3
GRIDS_PER_BURST = 20
REPORTS_PER_BURST = 5
IDLE_S = 8.0  # the server releases what a burst left after a few quiet seconds


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def wait_model_loaded(server: ServerProcess, timeout: float = 300.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = httpx.get(server.url + "api/status", trust_env=False).json()
        if status["model"]["state"] in ("ready", "failed"):
            return
        time.sleep(0.2)
    raise TimeoutError("the model did not load")


def burst(url: str, token: str) -> None:
    """20 parallel 32×32 decode grids beside 5 reports written one after another."""
    import httpx

    grid = {"grid": {"x0": -1, "x1": 1, "y0": -1, "y1": 1, "n": 32}}
    headers = {"X-Alctl-Token": token}
    url = url.rstrip("/")

    def decode(_: int) -> None:
        httpx.post(url + "/api/decode", json=grid, headers=headers, timeout=300, trust_env=False)

    def reports() -> None:
        for _ in range(REPORTS_PER_BURST):
            httpx.post(url + "/api/report", headers=headers, timeout=300, trust_env=False)

    with ThreadPoolExecutor(GRIDS_PER_BURST + 1) as pool:
        waits = [pool.submit(reports)] + [pool.submit(decode, i) for i in range(GRIDS_PER_BURST)]
        for wait in waits:
            wait.result()


def measure(dataset: str, data_dir: Path | None, batch: int, root: Path) -> list[Result]:
    import httpx

    with bench_server(root / "ws", dataset, data_dir) as server:
        server.wait_port(timeout=300)
        token = server.wait_serving(timeout=300)
        wait_model_loaded(server)
        pid = server.process.pid
        loaded = rss_mb(pid)
        events = EventRecorder(server.url).start()
        try:
            answer = httpx.post(
                server.url + "api/train",
                json={"epochs": 1, "batch_size": batch},
                headers={"X-Alctl-Token": token},
                trust_env=False,
            )
            answer.raise_for_status()
            events.wait_for("latent_refreshed", timeout=1800)
        finally:
            events.close()
        trained = rss_mb(pid)
        peaks = []
        for _ in range(BURSTS):
            burst(server.url, token)
            peaks.append(rss_mb(pid))
        time.sleep(IDLE_S)
        idle = rss_mb(pid)
    size = "60k" if dataset != "mnist" else "tiny"
    return [
        Result(f"server RSS, {size} loaded, model ready", "≤ 1 GB", "MB", BUDGET_MB, [loaded]),
        Result(
            f"server RSS, {size} loaded, after a training session",
            "≤ 1 GB",
            "MB",
            BUDGET_MB,
            [trained],
            note=f"one epoch, batch {batch}, VmRSS once the session's results are saved",
        ),
        Result(
            f"server RSS, {size} loaded, right after decode/report bursts",
            "≤ 1 GB",
            "MB",
            BUDGET_MB,
            [max(peaks)],
            note=f"{BURSTS} rounds of {GRIDS_PER_BURST} parallel 32×32 grids + "
            f"{REPORTS_PER_BURST} reports; after each: {', '.join(f'{p:.0f}' for p in peaks)}",
        ),
        Result(
            f"server RSS, {size} loaded, idle {IDLE_S:g} s after the bursts",
            "≤ 1 GB",
            "MB",
            BUDGET_MB,
            [idle],
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny generated data")
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="alctl-bench-memory-") as tmp:
        root = Path(tmp)
        if args.quick:
            sys.path.insert(0, str(REPO))
            from tests.datagen import write_synthetic_idx

            data_dir = write_synthetic_idx(root / "idx", n_train=600, n_test=200)
            results = measure("mnist", data_dir, 16, root)
        else:
            results = measure("fashion-mnist", FASHION_DIR, args.batch_size, root)
    print_results("Server memory", results, [machine_load()])
    print(json.dumps({r.interaction: round(r.samples[0]) for r in results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
