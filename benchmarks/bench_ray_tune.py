#!/usr/bin/env python3
"""Plain Ray tasks (what `alctl simulate` uses) against Ray Tune, on the same grid.

    python benchmarks/bench_ray_tune.py                  # 6 x 4 trials, 3 rounds of 0.2 s
    python benchmarks/bench_ray_tune.py --trials 6,3 --round-s 1

The work is a sleep, so what differs is each engine's own cost: scheduling a trial, passing
a round's result back, keeping the experiment's state. Plain tasks: a streaming task per
trial, the driver collects the rows (as ssvae.runs.ray_executor). Tune: a function
trainable calling `tune.report` per round over a `grid_search`, run by `Tuner.fit()`.
Each side runs in a fresh process with its own local Ray of 2 CPUs; the table gives the
wall time of the grid, the driver's memory (PSS) and the files each side wrote. Tune is not
a dependency of alctl: `pip install 'ray[tune]'` (pyarrow and more) to get its row.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

from common import REPO, bench_env, machine_load, markdown_table

CHILD = r"""
import itertools, json, os, sys, time, logging
import ray
mode, store = sys.argv[1], sys.argv[6]
n_strategies, n_seeds, rounds = (int(x) for x in sys.argv[2:5])
round_s = float(sys.argv[5])

def work(config):
    for r in range(rounds):
        time.sleep(round_s)
        yield {"round": r, "accuracy": config["seed"] * 0.01 + r}

ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
         logging_level=logging.WARNING)
started = time.perf_counter()
rows = 0
if mode == "tasks":
    def trial(config):
        yield from work(config)

    task = ray.remote(num_cpus=1, num_returns="streaming", max_retries=0)(trial)
    pending = [task.remote({"strategy": s, "seed": k})
               for s, k in itertools.product(range(n_strategies), range(n_seeds))]
    while pending:
        ready, _ = ray.wait(pending, num_returns=1)
        for gen in ready:
            try:
                ray.get(next(gen))
                rows += 1
            except StopIteration:
                pending.remove(gen)
else:
    from ray import tune

    def trainable(config):
        for row in work(config):
            tune.report(row)

    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}),
        param_space={"strategy": tune.grid_search(list(range(n_strategies))),
                     "seed": tune.grid_search(list(range(n_seeds)))},
        run_config=tune.RunConfig(storage_path=store, name="grid", verbose=0),
    )
    rows = sum(len(result.metrics_dataframe) for result in tuner.fit())
wall = time.perf_counter() - started
pss = 0.0
for line in open(f"/proc/{os.getpid()}/smaps_rollup"):
    if line.startswith("Pss:"):
        pss = int(line.split()[1]) / 1024
files = sum(len(f) for _, _, f in os.walk(store))
print(json.dumps({"wall": wall, "rows": rows, "pss": pss, "files": files}))
ray.shutdown()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", default="6,4", help="strategies,seeds of the grid")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--round-s", type=float, default=0.2)
    parser.add_argument("--repeats", type=int, default=2, help="tasks, Tune, Tune, tasks, ...")
    args = parser.parse_args()
    strategies, seeds = (int(x) for x in args.trials.split(","))
    ideal = strategies * seeds * args.rounds * args.round_s / 2
    try:
        import ray.tune  # noqa: F401

        modes = ["tasks", "tune"]
    except ImportError:
        modes = ["tasks"]
    load_before = machine_load()
    results: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    for repeat in range(args.repeats):
        for mode in modes if repeat % 2 == 0 else modes[::-1]:
            with tempfile.TemporaryDirectory(prefix="bench-tune-") as store:
                argv = [mode, strategies, seeds, args.rounds, args.round_s, store]
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, *map(str, argv)],
                    env=bench_env(RAY_USAGE_STATS_ENABLED="0"),
                    cwd=REPO,
                    capture_output=True,
                    text=True,
                    check=True,
                )
            results[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"{mode}: {results[mode][-1]}", file=sys.stderr)
    print(f"\n### {strategies} x {seeds} trials x {args.rounds} rounds of {args.round_s} s "
          f"on a local Ray of 2 CPUs (ideal {ideal:.1f} s)\n")  # fmt: skip
    rows = []
    for mode, runs in results.items():
        walls = sorted(r["wall"] for r in runs)
        rows.append([
            "plain Ray tasks" if mode == "tasks" else "Ray Tune (Tuner.fit)",
            " / ".join(f"{w:.1f}" for w in walls),
            f"{max(r['pss'] for r in runs):.0f}",
            f"{runs[0]['files']:.0f}",
            f"{runs[0]['rows']:.0f}",
        ])  # fmt: skip
    headers = ["engine", "wall of the grid (s, each run)", "driver PSS (MB)", "files", "rows"]
    print(markdown_table(headers, rows))
    notes = [f"{load_before} at the start; {machine_load()} at the end"]
    if "tune" not in results:
        notes.append("ray.tune is not installed here: pip install 'ray[tune]' for its row")
    print("\n" + "\n".join(f"- {n}" for n in notes))


if __name__ == "__main__":
    main()
