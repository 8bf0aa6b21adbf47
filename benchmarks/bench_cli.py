"""`alctl` from the shell: how long quick commands take, and what `alctl report` costs.

    python benchmarks/bench_cli.py            # Fashion-MNIST 60k (a few minutes)
    python benchmarks/bench_cli.py --quick    # tiny generated data (about a minute)

Every row is a real subprocess, timed from spawn to exit as a shell user sees it:
`alctl status` and `alctl label` with a server running (and, for comparison, with none),
next to `python -c pass` and `python -c 'import typer'`, the floor any Typer CLI pays, and
`alctl status` / `alctl --help` with typer's own option parsing instead of alctl.cli.params
(interleaved);
then `alctl report` over every training image, and the size of the file it writes.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import (
    FASHION_DIR,
    REPO,
    Result,
    bench_env,
    bench_server,
    dataset_args,
    machine_load,
    print_results,
    run_checked,
)

REPORT_MAX_MB = 5.0
# `alctl` without alctl.cli.params: typer 0.29's own (pydantic) option parsing.
TYPER_OWN = (
    "import sys; from typer.main import get_command; from alctl.cli.main import create_cli; "
    "get_command(create_cli())(prog_name='alctl', args=sys.argv[1:])"
)


def timed(cmd: list[str], env: dict[str, str]) -> float:
    """Milliseconds from spawn to exit; raises when the command fails."""
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    elapsed = (time.perf_counter() - started) * 1000
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[2:5])}… exited {proc.returncode}: {proc.stderr[-800:]}")
    return elapsed


def alctl(*args: object) -> list[str]:
    return [sys.executable, "-m", "alctl", *[str(a) for a in args]]


def prepare(root: Path, dataset: str, data_dir: Path | None, env: dict[str, str]) -> None:
    """50 labels and a 1-epoch checkpoint, made with the CLI itself (not timed)."""
    ws = ["--workspace", str(root), *dataset_args(dataset, data_dir)]
    labels = root / "labels.csv"
    labels.write_text("Serial,label\n" + "".join(f"{i * 37},{i % 10}\n" for i in range(50)))
    run_checked(alctl("label", "--import", labels, "--no-server", *ws), timeout=300, env=env)
    run_checked(
        alctl("train", "--epochs", 1, "--batch-size", 512, "--no-server", *ws),
        timeout=1800,
        env=env,
    )


def quick_commands(
    root: Path, dataset: str, data_dir: Path | None, repeats: int, env: dict[str, str]
) -> list[Result]:
    ws = ["--workspace", str(root)]
    files = [*ws, "--no-server", *dataset_args(dataset, data_dir)]
    rows = [
        Result("python -c pass (floor)", "info", "ms"),
        Result("python -c 'import typer' (Typer floor)", "info", "ms"),
        Result("alctl status, server running", "info", "ms"),
        Result("alctl label SERIAL LABEL, server running", "info", "ms"),
        Result("alctl status --no-server", "info", "ms"),
        Result("alctl label --no-server", "info", "ms"),
        Result("alctl status --no-server, typer's own parsing (no alctl.cli.params)", "info", "ms"),
        Result("alctl --help", "info", "ms"),
        Result("alctl --help, typer's own parsing", "info", "ms"),
    ]
    with bench_server(root, dataset, data_dir, env=env) as server:
        server.wait_port(timeout=600)
        server.wait_serving(timeout=60)
        for i in range(repeats):
            # Interleaved, so load changes on the machine hit every row alike.
            rows[0].samples.append(timed([sys.executable, "-c", "pass"], env))
            rows[1].samples.append(timed([sys.executable, "-c", "import typer"], env))
            rows[2].samples.append(timed(alctl("status", *ws), env))
            rows[3].samples.append(timed(alctl("label", 1000 + i, i % 10, *ws), env))
    for i in range(max(3, repeats // 2)):
        rows[4].samples.append(timed(alctl("status", *files), env))
        rows[5].samples.append(timed(alctl("label", 2000 + i, i % 10, *files), env))
        rows[6].samples.append(timed([sys.executable, "-c", TYPER_OWN, "status", *files], env))
        rows[7].samples.append(timed(alctl("--help"), env))
        rows[8].samples.append(timed([sys.executable, "-c", TYPER_OWN, "--help"], env))
    return rows


def report(root: Path, dataset: str, data_dir: Path | None, env: dict[str, str]) -> list[Result]:
    out = root / "report.html"
    args = ["--workspace", root, *dataset_args(dataset, data_dir), "--out", out]
    seconds = timed(alctl("report", *args), env) / 1000
    size_mb = out.stat().st_size / 1e6
    n = "all training images"
    return [
        Result(f"alctl report ({n})", "info", "s", samples=[seconds], judge="p50"),
        Result(
            "report file size",
            f"≤ {REPORT_MAX_MB:g} MB",
            "MB",
            limit=REPORT_MAX_MB,
            samples=[size_mb],
            judge="p50",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny generated data, few repeats")
    parser.add_argument("--dataset", default="fashion-mnist", help="default: fashion-mnist")
    parser.add_argument("--data-dir", type=Path, help="directory holding the 4 IDX files")
    parser.add_argument("--repeats", type=int, help="runs per quick command (default 20; 5 quick)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    args = parser.parse_args()
    env = bench_env(OMP_NUM_THREADS="2")
    load_start = machine_load()
    root = Path(tempfile.mkdtemp(prefix="alctl-bench-cli-"))
    dataset, data_dir = args.dataset, args.data_dir
    if args.quick and data_dir is None:
        sys.path.insert(0, str(REPO))
        from tests.datagen import write_synthetic_idx

        dataset, data_dir = "mnist", write_synthetic_idx(root / "idx", 3000, 500)
    elif dataset == "fashion-mnist" and data_dir is None and not FASHION_DIR.is_dir():
        raise SystemExit(f"{FASHION_DIR} is missing: apt-get install dataset-fashion-mnist")
    repeats = args.repeats or (5 if args.quick else 20)
    try:
        workspace = root / "ws"
        workspace.mkdir()
        prepare(workspace, dataset, data_dir, env)
        results = quick_commands(workspace, dataset, data_dir, repeats, env)
        results += report(workspace, dataset, data_dir, env)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    floor = results[1].stat("p50")
    notes = [
        f"over the Typer floor (p50): status {results[2].stat('p50') - floor:+.0f} ms, "
        f"label {results[3].stat('p50') - floor:+.0f} ms",
        f"alctl.cli.params saves (p50): status --no-server "
        f"{results[6].stat('p50') - results[4].stat('p50'):+.0f} ms, --help "
        f"{results[8].stat('p50') - results[7].stat('p50'):+.0f} ms",
        f"machine: {load_start} at start, {machine_load()} at the end",
    ]
    if args.quick:
        notes.append("--quick: tiny generated data, few repetitions")
    print_results(f"alctl CLI from the shell, {dataset}", results, notes)
    return 0 if all(r.verdict in ("MET", "info") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
