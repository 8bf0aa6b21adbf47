"""Run every benchmark one after another, then print all their tables together.

    python benchmarks/run_all.py            # the full runs (Fashion-MNIST 60k; minutes)
    python benchmarks/run_all.py --quick    # each benchmark's --quick mode

Each benchmark streams its output as it runs; the recap at the end repeats every Markdown
table (`### title` + `| ... |` lines) and is also written to bench-results/ (gitignored).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from common import REPO, bench_env, machine_load

BENCHMARKS = ("bench_library.py", "bench_cli.py", "bench_dashboard.py", "bench_memory.py")


def supports(script: Path, flag: str) -> bool:
    """Whether `script --help` mentions `flag` (bench_cli.py may have no --quick)."""
    proc = subprocess.run(
        [sys.executable, str(script), "--help"],
        cwd=REPO,
        env=bench_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode == 0 and flag in proc.stdout


def run_one(script: Path, args: list[str]) -> tuple[int, list[str], float]:
    """Run a benchmark, echoing its output live; (exit code, output lines, seconds)."""
    started = time.monotonic()
    lines: list[str] = []
    with subprocess.Popen(
        [sys.executable, str(script), *args],
        cwd=REPO,
        env=bench_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            lines.append(line.rstrip("\n"))
        code = proc.wait()
    return code, lines, time.monotonic() - started


def tables(lines: list[str]) -> list[str]:
    """The Markdown tables in `lines`, each with the `#` heading above it and notes below."""
    out: list[str] = []
    heading = ""
    in_table = False
    for line in lines:
        if line.startswith("#"):
            heading, in_table = line, False
        elif line.startswith("|"):
            if not in_table:
                out += ["", heading, ""] if heading else [""]
                heading, in_table = "", True
            out.append(line)
        elif in_table and line.startswith("- "):
            out += [""] if out[-1].startswith("|") else []
            out.append(line)
        elif in_table and line.strip():
            in_table = False
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to each benchmark")
    args = parser.parse_args()
    here = Path(__file__).resolve().parent
    load_start = machine_load()
    recap = [f"# alctl benchmarks{' (--quick)' if args.quick else ''}", ""]
    failed = 0
    for name in BENCHMARKS:
        script = here / name
        print(f"\n===== {name} =====", flush=True)
        if not script.exists():
            recap.append(f"- {name}: MISSING (not written yet)")
            failed += 1
            continue
        extra = ["--quick"] if args.quick and supports(script, "--quick") else []
        code, lines, seconds = run_one(script, extra)
        failed += code != 0
        status = "ok" if code == 0 else f"exit code {code}"
        recap.append(f"- {name} {' '.join(extra)}: {status}, {seconds:.0f} s")
        found = tables(lines)
        recap += found if found else ["", f"(no table found; last lines of {name})", *lines[-20:]]
        recap.append("")
    recap.append(f"Machine: {load_start} at start, {machine_load()} at the end.")
    text = "\n".join(recap)
    print("\n" + "=" * 72 + "\n" + text)
    out_dir = REPO / "bench-results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / time.strftime("run_all-%Y%m%d-%H%M%S.md")
    out.write_text(text + "\n", encoding="utf-8")
    print(f"\n(written to {out.relative_to(REPO)})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
