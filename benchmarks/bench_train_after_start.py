#!/usr/bin/env python3
"""Training started 1 s after `alctl serve` against `alctl train --no-server`: seconds per epoch.

    python benchmarks/bench_train_after_start.py             # Fashion-MNIST 60k, 3 pairs, 2 epochs
    python benchmarks/bench_train_after_start.py --pairs 5 --epochs 3
    python benchmarks/bench_train_after_start.py --quick     # generated data, 1 pair

A: a fresh copy of a workspace (100 labels, a 1-epoch checkpoint, no queue files: the first
start on it, so the queue's warm-up has everything to compute), `alctl serve`, and 1 s after it
first answers, `alctl train --epochs E` through it. B: another fresh copy, `alctl train
--no-server --epochs E`. A B A B ..., so each pair shares the machine's noise. Epoch seconds
come from the history CSV both write (training + validation of one epoch). Budget: A's median
within 10 % of B's; the first epoch, where the warm-up would compete, is shown on its own.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import (
    FASHION_DIR,
    Result,
    bench_dataset,
    bench_env,
    bench_server,
    dataset_args,
    machine_load,
    make_workspace,
    print_results,
    run_checked,
)


def last_session_seconds(workspace: Path, dataset: str) -> list[float]:
    """EpochRecord.seconds of the newest session in the workspace's history CSV."""
    path = workspace / "artifacts" / dataset / "history.csv"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    last = max(int(r["session"]) for r in rows)
    return [float(r["seconds"]) for r in rows if int(r["session"]) == last]


def fresh(template: Path, root: Path, name: str) -> Path:
    ws = root / name
    shutil.copytree(template, ws)
    queue = next(ws.glob("artifacts/*/queue"), None)
    if queue is not None:  # what a first start computes: the warm-up's whole work
        shutil.rmtree(queue)
    return ws


def train_after_start(ws: Path, dataset: str, data_dir: Path | None, epochs: int) -> list[float]:
    train = [sys.executable, "-m", "alctl", "train", "--epochs", str(epochs), "-w", str(ws)]
    with bench_server(ws, dataset, data_dir) as server:
        server.wait_serving(timeout=300)
        time.sleep(1.0)  # the gap the budget names: "issued 1 s after serve"
        run_checked(train, timeout=3600, env=bench_env())
    return last_session_seconds(ws, dataset)


def train_without_server(ws: Path, dataset: str, data_dir: Path | None, epochs: int) -> list[float]:
    command = [sys.executable, "-m", "alctl", "train", "--no-server", "--epochs", str(epochs)]
    command += ["-w", str(ws), *dataset_args(dataset, data_dir)]
    run_checked(command, timeout=3600, env=bench_env())
    return last_session_seconds(ws, dataset)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="generated data, 1 pair")
    parser.add_argument("--data-dir", type=Path, default=FASHION_DIR)
    parser.add_argument("--workspace", type=Path, help="a template workspace (checkpoint present)")
    args = parser.parse_args()
    load_before = machine_load()
    pairs = 1 if args.quick else args.pairs
    a_runs: list[list[float]] = []
    b_runs: list[list[float]] = []
    with tempfile.TemporaryDirectory(prefix="alctl-bench-train-start-") as tmp:
        root = Path(tmp)
        data_dir, dataset, n_train = bench_dataset(root, args.quick, args.data_dir, 6000)
        template = args.workspace or make_workspace(
            root / "template", dataset, data_dir, n_train, labels=100
        )
        for i in range(pairs):
            a = train_after_start(fresh(template, root, f"a{i}"), dataset, data_dir, args.epochs)
            b = train_without_server(fresh(template, root, f"b{i}"), dataset, data_dir, args.epochs)
            a_runs.append(a)
            b_runs.append(b)
            print(f"pair {i + 1}: after serve {a}, --no-server {b}", flush=True)
    a_all = [s for run in a_runs for s in run]
    b_all = [s for run in b_runs for s in run]
    ratio = statistics.median(a_all) / statistics.median(b_all)
    first = statistics.median(r[0] for r in a_runs) / statistics.median(r[0] for r in b_runs)
    rows = [
        Result(
            "epoch, `alctl train` 1 s after `serve` ÷ `--no-server` (all epochs)",
            "≤ 1.10×",
            "x",
            1.10,
            [ratio],
            judge="p50",
        ),
        Result("the same, first epoch only", "≤ 1.10×", "x", 1.10, [first], judge="p50"),
    ]
    notes = [
        f"{pairs} pairs of {args.epochs}-epoch sessions, A B alternating; medians of the epochs",
        "after serve: " + ", ".join(f"{s:.1f}" for s in a_all) + " s",
        "--no-server: " + ", ".join(f"{s:.1f}" for s in b_all) + " s",
        f"{load_before} at the start, {machine_load()} at the end",
    ]
    print_results("Training right after `alctl serve` vs `alctl train --no-server`", rows, notes)


if __name__ == "__main__":
    main()
