#!/usr/bin/env python3
"""How promptly `alctl serve` stops: N stop cycles per state, SIGINT and SIGTERM in turn.

    python benchmarks/bench_stops.py                       # Fashion-MNIST 60k, 20 cycles per state
    python benchmarks/bench_stops.py --cycles 5 --states idle,just_ready
    python benchmarks/bench_stops.py --quick               # generated data, 2 cycles per state
    python benchmarks/bench_stops.py --states "" --trainers 5   # training commands only

Each cycle starts a real server on a copy of a workspace with a 1-epoch checkpoint and 100
labels, brings it into the state (tests/stop_states.py says how) and sends the signal; the
row counts the stops that took longer than the 3 s budget. A server still alive 30 s after
the signal is killed (its native stacks go to --stacks DIR, and the row names the frame
where its main thread was). `--trainers N` adds N stops of each training command that runs
without a server (`alctl train --no-server`, scripts/train.py), signalled once its first
epoch is done (tests/trainer_stops.py): it must save the epoch and exit within the budget.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
from pathlib import Path

from common import (
    FASHION_DIR,
    bench_dataset,
    format_value,
    machine_load,
    make_workspace,
    markdown_table,
    percentile,
)

from tests.stop_states import SIGNALS, STATES, STOP_BUDGET_S, StopCycle, stop_cycle
from tests.trainer_stops import TRAINERS, stop_a_trainer

# Frames that name a known cause when found in a hung server's stacks.
CAUSES = {
    "blas_thread_shutdown_": "OpenBLAS thread shutdown",
    "exec_blas": "a BLAS call waiting for its threads",
    "dgesdd": "LAPACK SVD",
    "_shutdown": "interpreter waiting for a thread",
}


def causes(cycles: list[StopCycle]) -> str:
    found = {words for c in cycles for frame, words in CAUSES.items() if frame in c.stacks}
    return ", ".join(sorted(found)) or "–"


def row(state: str, cycles: list[StopCycle]) -> list[str]:
    seconds = [c.seconds for c in cycles if c.seconds != float("inf")]
    killed = sum(1 for c in cycles if c.seconds == float("inf"))
    codes = sorted({str(c.code) for c in cycles})
    return [
        state,
        str(len(cycles)),
        str(sum(c.hung for c in cycles)),
        str(killed),
        format_value(percentile(seconds, 50), "s"),
        format_value(percentile(seconds, 95), "s"),
        format_value(max(seconds, default=float("nan")), "s"),
        "/".join(codes),
        causes(cycles),
    ]


def trainer_rows(
    template: Path, root: Path, data_dir: Path, dataset: str, n: int
) -> list[list[str]]:
    """`n` stops of each training command, SIGINT and SIGTERM in turn, one row per command."""
    rows = []
    for name, command in TRAINERS.items():
        ws = root / f"ws-{name.split()[0].replace('/', '-')}"
        shutil.copytree(template, ws)
        where = ["--workspace", str(ws), "--data-dir", str(data_dir)]
        where += ["-d", dataset] if name.startswith("alctl") else ["--dataset", dataset]
        seconds = []
        for i in range(n):
            sig = SIGNALS[i % len(SIGNALS)]
            seconds.append(stop_a_trainer([*command, *where], sig))
            print(f"{name:<24} {i + 1:>2}/{n} {sig.name:<7} {seconds[-1]:6.2f} s", flush=True)
        rows.append([
            name, str(n), str(sum(s > STOP_BUDGET_S for s in seconds)),
            format_value(percentile(seconds, 50), "s"), format_value(percentile(seconds, 95), "s"),
            format_value(max(seconds), "s"),
        ])  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--states", default=",".join(STATES))
    parser.add_argument("--quick", action="store_true", help="generated data, 2 cycles")
    parser.add_argument("--data-dir", type=Path, default=FASHION_DIR)
    parser.add_argument("--workspace", type=Path, help="a template workspace (checkpoint present)")
    parser.add_argument("--stacks", type=Path, help="write hung servers' native stacks here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trainers", type=int, default=0, help="stops per training command")
    args = parser.parse_args()
    states = [s for s in args.states.split(",") if s]
    unknown = set(states) - set(STATES)
    if unknown:
        parser.error(f"unknown states {sorted(unknown)}; choose from {', '.join(STATES)}")
    cycles_per_state = 2 if args.quick else args.cycles
    load_before = machine_load()
    with tempfile.TemporaryDirectory(prefix="alctl-bench-stops-") as tmp:
        root = Path(tmp)
        data_dir, dataset, n_train = bench_dataset(root, args.quick, args.data_dir, 2000)
        template = args.workspace or make_workspace(
            root / "template", dataset, data_dir, n_train, labels=100
        )
        rng = random.Random(args.seed)
        rows, notes = [], []
        browser_cm = None
        browser = None
        if "page" in states:
            from tests.browser import launched_chromium

            browser_cm = launched_chromium()
            browser = browser_cm.__enter__()
        try:
            for state in states:
                ws = root / f"ws-{state}"
                shutil.copytree(template, ws)
                done = []
                for i in range(cycles_per_state):
                    cycle = stop_cycle(state, i, ws, data_dir, dataset, rng=rng, browser=browser)
                    done.append(cycle)
                    print(
                        f"{state:<15} {i + 1:>2}/{cycles_per_state} {cycle.signal:<7} "
                        f"{cycle.seconds:6.2f} s exit {cycle.code}",
                        flush=True,
                    )
                    if cycle.stacks and args.stacks:
                        args.stacks.mkdir(parents=True, exist_ok=True)
                        out = args.stacks / f"{state}-{i}.txt"
                        out.write_text(cycle.stacks)
                        notes.append(f"{state} cycle {i + 1}: stacks in {out}")
                rows.append(row(state, done))
        finally:
            if browser_cm is not None:
                browser_cm.__exit__(None, None, None)
        trainers = trainer_rows(template, root, data_dir, dataset, args.trainers)
    if trainers:
        print(f"\n### Training without a server: stops after the first epoch (budget ≤ "
              f"{STOP_BUDGET_S:g} s)\n")  # fmt: skip
        headers = ("command", "stops", f"> {STOP_BUDGET_S:g} s", "p50", "p95", "max")
        print(markdown_table(headers, trainers))
    if not rows:
        print(f"\n- {load_before} at the start, {machine_load()} at the end")
        return
    print(f"\n### alctl serve: stops per state (budget: exit ≤ {STOP_BUDGET_S:g} s)\n")
    headers = (
        "state",
        "stops",
        f"> {STOP_BUDGET_S:g} s",
        "killed",
        "p50",
        "p95",
        "max",
        "exit",
        "hung in",
    )
    print(markdown_table(headers, rows))
    print("\n- SIGINT and SIGTERM alternate; a server alive 30 s after the signal is killed.")
    for note in notes:
        print(f"- {note}")
    print(f"- {load_before} at the start, {machine_load()} at the end")


if __name__ == "__main__":
    main()
