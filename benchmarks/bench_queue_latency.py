#!/usr/bin/env python3
"""The labeling queue's head (`GET /api/queue`, "typical", n = 50) at 100, 1,000 and 10,000
labels: warm, and the first request of a just restarted server.

    python benchmarks/bench_queue_latency.py                 # Fashion-MNIST 60k
    python benchmarks/bench_queue_latency.py --labels 1000 --restarts 3 --requests 20
    python benchmarks/bench_queue_latency.py --quick         # generated data, few requests

For each label count, a workspace with that many labels and a 1-epoch checkpoint:
1. first start: `alctl serve`, the first head as soon as it answers (info: what a workspace
   that never served computes once), then the warm rows: one label PUT through the API, then
   the head, `--requests` times, `--gap` s apart (a fast labeler; the page asks after every
   label), so the labels move on as they do on the page;
2. `--restarts` times: stop, `alctl serve` again, and time the first head as soon as it answers
   (what a page reopened after a restart asks first).
Times are the HTTP round trip from Python over loopback. Budget: p95 ≤ 200 ms, both rows.
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import tempfile
import time
import urllib.error
from pathlib import Path

from common import (
    FASHION_DIR,
    Result,
    ServerProcess,
    bench_dataset,
    bench_server,
    label_csv,
    machine_load,
    make_workspace,
    print_results,
)

from tests.live_server import fetch

HEAD = "api/queue?strategy=typical&n=50"  # after the server's URL, which ends in /
BUDGET_MS = 200.0


def head_ms(server: ServerProcess, timeout: float) -> float:
    """The round trip of one head in ms; inf when none came within `timeout` s."""
    started = time.perf_counter()
    try:
        answer = fetch(server.url + HEAD, timeout=timeout)
    except (TimeoutError, urllib.error.URLError) as exc:
        if isinstance(exc, urllib.error.URLError) and not isinstance(exc.reason, TimeoutError):
            raise
        return math.inf
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status != 200:
        raise RuntimeError(f"GET {HEAD}: {answer.status} {answer.body[:300]!r}")
    return elapsed


def first_head(server: ServerProcess, timeout: float) -> float:
    server.wait_serving(timeout=300)
    return head_ms(server, timeout)


def warm_heads(
    server: ServerProcess, n_train: int, requests: int, gap: float, timeout: float
) -> list[float]:
    token = server.wait_serving()
    rng = random.Random(7)
    times = []
    for _ in range(requests):
        serial = rng.randrange(n_train)
        label = fetch(f"{server.url}api/labels/{serial}", "PUT", {"label": 1}, token=token)
        if label.status != 200:
            raise RuntimeError(f"PUT label: {label.status} {label.body[:200]!r}")
        times.append(head_ms(server, timeout))
        time.sleep(gap)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default="100,1000,10000")
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between labels")
    parser.add_argument("--timeout", type=float, default=120, help="a head slower is inf")
    parser.add_argument("--quick", action="store_true", help="generated data, few requests")
    parser.add_argument("--data-dir", type=Path, default=FASHION_DIR)
    parser.add_argument("--workspace", type=Path, help="a template workspace (checkpoint present)")
    args = parser.parse_args()
    counts = [int(c) for c in args.labels.split(",") if c]
    restarts, requests = (2, 10) if args.quick else (args.restarts, args.requests)
    load_before = machine_load()
    rows, notes = [], []
    with tempfile.TemporaryDirectory(prefix="alctl-bench-queue-") as tmp:
        root = Path(tmp)
        data_dir, dataset, n_train = bench_dataset(root, args.quick, args.data_dir, 12_000)
        template = args.workspace or make_workspace(
            root / "template", dataset, data_dir, n_train, labels=100
        )
        for count in counts:
            count = min(count, n_train // 2)
            ws = root / f"ws-{count}"
            shutil.copytree(template, ws)
            shutil.rmtree(ws / "artifacts" / dataset / "queue", ignore_errors=True)
            label_csv(ws, dataset, n_train, count, seed=count)
            with bench_server(ws, dataset, data_dir) as server:
                once = first_head(server, args.timeout)
                warm = warm_heads(server, n_train, requests, args.gap, args.timeout)
            again = []
            for _ in range(restarts):
                with bench_server(ws, dataset, data_dir) as server:
                    again.append(first_head(server, args.timeout))
            print(f"{count} labels: first start {once:.0f} ms, warm {warm}, restarted {again}")
            rows += [
                Result(f"queue head, {count:,} labels, warm", "≤ 200 ms", "ms", BUDGET_MS, warm),
                Result(
                    f"queue head, {count:,} labels, first after a restart",
                    "≤ 200 ms",
                    "ms",
                    BUDGET_MS,
                    again,
                ),
            ]
            notes.append(
                f"{count:,} labels: the first head of the very first start took {once:.0f} ms"
            )
    notes.append(f"{load_before} at the start, {machine_load()} at the end")
    print_results("Labeling queue head latency (typical, n = 50)", rows, notes)


if __name__ == "__main__":
    main()
