#!/usr/bin/env python3
"""`alctl simulate` serially and on Ray: one fixed plan, wall time side by side.

    python benchmarks/bench_simulate.py               # 3 strategies x 2 seeds x 3 rounds, 10k pool
    python benchmarks/bench_simulate.py --repeats 2   # A B C D, then D C B A (a noisy machine)
    python benchmarks/bench_simulate.py --quick       # generated data, a tiny plan (smoke run)
    python benchmarks/bench_simulate.py --gpus-per-run 1,0.25 --no-cluster   # a GPU machine

Each variant is the real command in a subprocess on a fresh run directory (start-up, data
loading and Ray's start included): serial with 2 torch threads, serial with 1, a local Ray
with 2 workers, and a two-node Ray cluster on loopback (2 x 1 CPU, started before its row
and timed on its own). Every row checks that its per-round numbers equal the serial
1-thread run's. A second table gives Ray's own cost: a local Ray's start-up and shutdown,
and the memory of its processes (PSS: shared libraries counted once), idle and while
runs train.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import FASHION_DIR, REPO, bench_env, machine_load, markdown_table

sys.path.insert(0, str(REPO))
from ssvae.runs.sim_results import read_results
from tests.ray_cluster import loopback_cluster, ray_env, session_members

RAY_VARS = ("RAY_USAGE_STATS_ENABLED", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN")


def pss_mb(pid: int) -> float:
    """Proportional set size: shared pages (torch's libraries, mapped by every worker)
    counted once over all processes, so the sums below add up."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def kind(pid: int) -> str:
    """What a process of a run is: the command itself, a run's worker, or Ray's own."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "gone"
    if "-m alctl" in title:
        return "command (driver)"
    if title.startswith(("ray::simulate", "ray::warm start")):
        return "worker running a run"
    if title.startswith("ray::IDLE"):
        return "idle worker"
    return "Ray's own processes"


class MemorySampler:
    """Peak memory (PSS) per kind of process in some sessions, sampled twice a second."""

    def __init__(self, sessions: Callable[[], list[int]]) -> None:
        self.sessions = sessions
        self.peak: dict[str, float] = {}
        self.count: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            totals: dict[str, float] = {}
            counts: dict[str, int] = {}
            for session in self.sessions():
                for pid in session_members(session):
                    k = kind(pid)
                    totals[k] = totals.get(k, 0.0) + pss_mb(pid)
                    counts[k] = counts.get(k, 0) + 1
            for k, mb in totals.items():
                if mb > self.peak.get(k, 0.0):
                    self.peak[k], self.count[k] = mb, counts[k]

    def stop(self) -> dict[str, tuple[float, int]]:
        self._stop.set()
        self._thread.join()
        return {k: (mb, self.count[k]) for k, mb in self.peak.items()}


def run_variant(
    args: argparse.Namespace,
    work: Path,
    name: str,
    extra: list[str],
    env: dict[str, str],
    sessions: Callable[[int], list[int]],
) -> dict[str, Any]:
    plan = ["--strategy", args.strategies, "--seeds", str(args.seeds), "--rounds",
            str(args.rounds), "--epochs-per-round", str(args.epochs_per_round)]  # fmt: skip
    data = ["--quick"] if args.quick else ["--dataset", "fashion-mnist", "--data-dir",
                                           str(FASHION_DIR), "--pool", str(args.pool)]  # fmt: skip
    command = [sys.executable, "-m", "alctl", "simulate", *data, *plan, *extra,
               "--workspace", str(work), "--name", name]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.Popen(
        command,
        env=bench_env(**env),
        cwd=REPO,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    sampler = MemorySampler(lambda: sessions(proc.pid))
    _, err = proc.communicate()
    wall = time.perf_counter() - started
    memory = sampler.stop()
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed ({proc.returncode}):\n{err[-3000:]}")
    results = next(work.rglob(f"simulations/{name}/results.csv"))
    rows = read_results(results)
    per_run: dict[tuple[Any, ...], float] = {}
    for row in rows:
        key = (row["strategy"], row["seed"])
        per_run[key] = max(per_run.get(key, 0.0), row["wall_s"])
    numbers = sorted(tuple(v for k, v in r.items() if k != "wall_s") for r in rows)
    return {"wall": wall, "per_run": statistics.mean(per_run.values()), "runs": len(per_run),
            "numbers": numbers, "memory": memory}  # fmt: skip


def ray_overhead(env: dict[str, str]) -> dict[str, Any]:
    """A local Ray as `alctl simulate --workers 2` starts it: start-up, memory, shutdown."""
    script = (
        "import json, os, time\n"
        "t0 = time.perf_counter()\n"
        "import ray\n"
        "from ssvae.runs.ray_executor import RayExecutor\n"
        "t1 = time.perf_counter()\n"
        "def noop():\n"
        "    return os.getpid()\n"
        "with RayExecutor(workers=2).connected():\n"
        "    ray.get(ray.remote(num_cpus=1)(noop).remote())\n"
        "    t2 = time.perf_counter()\n"
        "    print(json.dumps({'import': t1 - t0, 'start': t2 - t1}), flush=True)\n"
        "    input()\n"
        "t3 = time.perf_counter()\n"
        "print(json.dumps({'stop': t3 - t2}), flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], env=bench_env(**env), cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    import json

    assert proc.stdout is not None and proc.stdin is not None
    first = json.loads(proc.stdout.readline())
    time.sleep(2)  # let the idle workers Ray starts ahead settle
    memory: dict[str, tuple[float, int]] = {}
    for pid in session_members(proc.pid):
        k = "driver (import ray)" if pid == proc.pid else kind(pid)
        mb, n = memory.get(k, (0.0, 0))
        memory[k] = (mb + pss_mb(pid), n + 1)
    proc.stdin.write("\n")
    proc.stdin.flush()
    second = json.loads(proc.stdout.readline())
    proc.wait(60)
    return {**first, **second, "memory": memory}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="generated data, a tiny plan")
    parser.add_argument("--strategies", default="margin,typical,random")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs-per-round", type=int, default=5)
    parser.add_argument("--pool", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=1, help="alternate the order N times")
    parser.add_argument("--no-cluster", action="store_true", help="skip the loopback cluster")
    parser.add_argument("--gpus-per-run", default="", help="e.g. 1,0.25: local Ray on the GPUs")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.rounds, args.epochs_per_round = 1, 2, 2

    load_before = machine_load()
    env = {k: v for k, v in ray_env().items() if k in RAY_VARS}
    own = lambda pid: [pid]  # noqa: E731  (the command's session: itself and its local Ray)
    variants: list[tuple[str, list[str]]] = [
        ("serial, 2 torch threads", ["--workers", "1", "--threads-per-run", "2"]),
        ("serial, 1 torch thread", ["--workers", "1"]),
        ("local Ray, 2 workers", ["--workers", "2"]),
    ]
    for share in filter(None, args.gpus_per_run.split(",")):
        variants.append((f"local Ray, --gpus-per-run {share}", ["--gpus-per-run", share]))
    measured: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in variants}
    cluster_start: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-simulate-") as tmp:
        for repeat in range(args.repeats):
            order = variants if repeat % 2 == 0 else variants[::-1]
            for i, (name, extra) in enumerate(order):
                work = Path(tmp) / f"r{repeat}v{i}"
                measured[name].append(run_variant(args, work, f"v{i}", extra, env, own))
                print(f"{name}: {measured[name][-1]['wall']:.1f} s", file=sys.stderr)
        if not args.no_cluster:
            name = "two-node loopback cluster (2 x 1 CPU)"
            measured[name] = []
            started = time.perf_counter()
            with loopback_cluster(nodes=2, cpus_per_node=1) as cluster:
                cluster_start.append(time.perf_counter() - started)
                nodes = [n.process.pid for n in cluster.nodes]
                for repeat in range(args.repeats):
                    work = Path(tmp) / f"c{repeat}"
                    extra = ["--address", cluster.address]
                    cluster_env = {k: cluster.env[k] for k in RAY_VARS}
                    result = run_variant(args, work, "cluster", extra, cluster_env,
                                         lambda pid: [pid, *nodes])  # fmt: skip
                    measured[name].append(result)
                    print(f"{name}: {result['wall']:.1f} s", file=sys.stderr)
        overhead = ray_overhead(env)

    report(args, measured, cluster_start, overhead, load_before)


def report(
    args: argparse.Namespace,
    measured: dict[str, list[dict[str, Any]]],
    cluster_start: list[float],
    overhead: dict[str, Any],
    load_before: str,
) -> None:
    data = "generated squares (600)" if args.quick else f"Fashion-MNIST, a pool of {args.pool}"
    n_strategies = len(args.strategies.split(","))
    print(f"\n### alctl simulate: {n_strategies} strategies x {args.seeds} seeds x "
          f"{args.rounds} rounds x {args.epochs_per_round} epochs, {data}\n")  # fmt: skip
    base2 = statistics.median(r["wall"] for r in measured["serial, 2 torch threads"])
    base1 = statistics.median(r["wall"] for r in measured["serial, 1 torch thread"])
    reference = measured["serial, 1 torch thread"][0]["numbers"]
    rows = []
    for name, results in measured.items():
        wall = statistics.median(r["wall"] for r in results)
        runs = results[0]["runs"]
        same = all(r["numbers"] == reference for r in results)
        rows.append([name, f"{wall:.1f}", f"{base2 / wall:.2f}x", f"{base1 / wall:.2f}x",
                     f"{statistics.median(r['per_run'] for r in results):.1f}",
                     f"{3600 * runs / wall:.0f}", "yes" if same else "NO"])  # fmt: skip
    print(markdown_table(["variant", "wall (s)", "speed-up vs serial 2 threads",
                          "vs serial 1 thread", "one run (s)", "runs per hour",
                          "numbers = serial 1 thread"], rows))  # fmt: skip
    notes = [f"wall: the whole command (start-up, data, Ray) as a user waits for it; median of "
             f"{args.repeats}; one run: a run's own time from its first epoch to its last round",
             f"{load_before} at the start; {machine_load()} at the end"]  # fmt: skip
    if cluster_start:
        notes.append(f"the loopback cluster took {cluster_start[0]:.1f} s to start (2 nodes, "
                     "one after the other; not in its wall time)")  # fmt: skip
    print("\n" + "\n".join(f"- {n}" for n in notes))

    print("\n### Ray's own cost (a local Ray as `--workers 2` starts it)\n")
    rows = [["import ray and the executor", f"{overhead['import']:.1f} s"],
            ["start a local Ray and run a first task", f"{overhead['start']:.1f} s"],
            ["shut it down", f"{overhead['stop']:.1f} s"]]  # fmt: skip
    for what, (mb, n) in sorted(overhead["memory"].items()):
        rows.append([f"memory (PSS), idle: {what} ({n} processes)", f"{mb:.0f} MB"])
    for name, results in measured.items():
        for what, (mb, n) in sorted(results[0]["memory"].items()):
            if what != "gone":
                rows.append([f"peak (PSS) while running, {name}: {what} ({n})", f"{mb:.0f} MB"])
    print(markdown_table(["what", "measured"], rows))


if __name__ == "__main__":
    main()
