"""`alctl simulate`: the active-learning loop with the ground truth as the oracle.

Argument parsing, a progress bar and the printed table around `ssvae.runs.simulate`. The run
lives in `<workspace>/artifacts/<dataset>/simulations/<name>/`; the user's labels and
checkpoint are never touched.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from alctl.errors import EXIT_INTERRUPTED, UsageError, fail_cleanly
from ssvae.records.formats import plural

_NAME = re.compile(r"[A-Za-z0-9._+=,-]{1,200}")
_DEFAULTS = {"start": 20, "step": 20, "rounds": 5, "epochs_per_round": 5, "seeds": 1}
# Small enough for CI: a few seconds on generated data.
_QUICK = {"start": 50, "step": 50, "rounds": 2, "epochs_per_round": 5, "seeds": 1}
_QUICK_SETTINGS = {"batch_size": 32}  # 600 images: enough steps per epoch to learn


def simulate(
    strategy: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated: least_confidence, margin, entropy, random, diverse, typical"
            " [default: the queue's default strategy and random].",
            show_default=False,
        ),
    ] = None,
    start: Annotated[
        int | None, typer.Option(help="Random labels before the first round [20]; 0 = none.")
    ] = None,
    step: Annotated[int | None, typer.Option(help="Labels picked per round [20].")] = None,
    rounds: Annotated[int | None, typer.Option(help="Rounds trained and measured [5].")] = None,
    epochs_per_round: Annotated[
        int | None, typer.Option(help="Epochs trained per round [5].")
    ] = None,
    seeds: Annotated[int | None, typer.Option(help="Repeat with seeds 0..N-1 [1].")] = None,
    pretrain_epochs: Annotated[
        int, typer.Option(help="Unsupervised epochs before the first labels (warm start).")
    ] = 0,
    pool: Annotated[
        int, typer.Option(help="Use a fixed random subset of N training images (0 = all).")
    ] = 0,
    setting: Annotated[
        str | None,
        typer.Option(
            "--set", help="Model/training settings for the run: KEY=VALUE[,KEY=VALUE...]."
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Run name (directory); default: made from the options.")
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Tiny generated dataset and a short plan (CI).")
    ] = False,
    workspace: Annotated[
        Path,
        typer.Option("--workspace", "-w", envvar="ALCTL_WORKSPACE", file_okay=False),
    ] = Path("."),
    dataset: Annotated[str, typer.Option("--dataset", "-d")] = "fashion-mnist",
    data_dir: Annotated[Path | None, typer.Option("--data-dir", file_okay=False)] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, mps (default: best).")] = None,
) -> None:
    """Simulate labeling with the ground truth as oracle; compare strategies by test accuracy.

    Uses the same trainer and ranking as the page's queue. Writes results.csv, summary.csv
    and accuracy.png under artifacts/<dataset>/simulations/<name>/. Ctrl+C keeps every
    finished round; the same command again resumes.

    \b
    Examples:
      alctl simulate --strategy margin,random --start 20 --step 20 --rounds 5 \\
          --epochs-per-round 10 --seeds 3
      alctl simulate --quick
    """
    with fail_cleanly():
        from ssvae.runs import simulate as sim
        from ssvae.select.ranking import DEFAULT_STRATEGY

        strategy = strategy or f"{DEFAULT_STRATEGY},random"

        given = {
            "start": start,
            "step": step,
            "rounds": rounds,
            "epochs_per_round": epochs_per_round,
            "seeds": seeds,
        }
        defaults = _QUICK if quick else _DEFAULTS
        options = {k: defaults[k] if v is None else v for k, v in given.items()}
        plan = sim.Plan(
            strategies=[s.strip() for s in strategy.split(",") if s.strip()],
            pretrain_epochs=pretrain_epochs,
            pool=pool,
            overrides={
                **(_QUICK_SETTINGS if quick else {}),
                **parse_settings(setting.split(",") if setting else []),
            },
            **options,
        )
        data = _load(quick, dataset, data_dir)
        plan.validate(data.n_train)
        run_name = name or default_name(plan)
        if not _NAME.fullmatch(run_name) or run_name.startswith("."):
            raise UsageError(
                f"bad run name {run_name!r}: letters, digits and . _ + = - only (no /)"
            )
        out_dir = Path(workspace) / "artifacts" / data.name / "simulations" / run_name
        _check_same_plan(out_dir, plan, run_name)
        print(f"simulation {run_name}: {data.source}; writing {out_dir}", file=sys.stderr)
        bar = _Bar()
        try:
            rows = sim.run_simulation(data, plan, out_dir, device=device, on_progress=bar)
        except KeyboardInterrupt:
            bar.close()
            rows = sim.read_results(out_dir / "results.csv")
            _finish(sim, out_dir, rows, data.name, plot=False)  # stopping: promptly
            print(
                "stopped: finished rounds are kept; run the same command to resume", file=sys.stderr
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None
        bar.close()
        _finish(sim, out_dir, rows, data.name)


def parse_settings(items: list[str]) -> dict[str, Any]:
    """["label_weight=30", "classifier_input=hidden"] -> typed overrides (JSON values)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set wants KEY=VALUE, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw  # a bare word: a string setting such as classifier_input=hidden
        out[key.strip().replace("-", "_")] = value
    return out


def default_name(plan: Any) -> str:
    """A readable name from the plan, so the same command resumes the same run."""
    parts = [
        "+".join(plan.strategies),
        f"s{plan.start}-{plan.step}x{plan.rounds}",
        f"e{plan.epochs_per_round}",
    ]
    if plan.pretrain_epochs:
        parts.append(f"p{plan.pretrain_epochs}")
    if plan.pool:
        parts.append(f"pool{plan.pool}")
    parts += [f"{k}={v}" for k, v in sorted(plan.overrides.items())]
    return "_".join(parts).replace("/", "-").replace(" ", "")


def _check_same_plan(out_dir: Path, plan: Any, run_name: str) -> None:
    """A rerun resumes only the same plan (more seeds may be added)."""
    from dataclasses import asdict

    from ssvae.io.atomic import atomic_write

    wanted = {k: v for k, v in asdict(plan).items() if k != "seeds"}
    stored = out_dir / "plan.json"
    if stored.exists():
        # A plan stored before a field existed meant that field's default.
        defaults = asdict(type(plan)(strategies=[]))
        have = {**defaults, **json.loads(stored.read_text())}
        have.pop("seeds")
        if have != wanted:
            raise UsageError(
                f"simulation {run_name!r} exists with another plan; pass another --name"
            )
    with atomic_write(stored) as handle:
        handle.write(json.dumps(asdict(plan), indent=1).encode())


def _load(quick: bool, dataset: str, data_dir: Path | None) -> Any:
    if quick:
        from ssvae.data.synthetic import synthetic_dataset

        return synthetic_dataset()
    from ssvae.data.datasets import load_dataset

    return load_dataset(dataset, data_dir, download=False)


def _finish(
    sim: Any, out_dir: Path, rows: list[dict[str, Any]], dataset: str, plot: bool = True
) -> None:
    """Summary CSV, the plot (not after Ctrl+C: drawing takes seconds; the resumed run draws
    it) and the table."""
    summary = sim.summarize(rows)
    if not summary:
        print("no round finished yet", file=sys.stderr)
        return
    sim.write_summary(out_dir / "summary.csv", summary)
    if plot:
        sim.plot_summary(out_dir / "accuracy.png", summary, f"{dataset}: test accuracy vs labels")
    print("test accuracy (%), mean ± spread over seeds:")
    print(sim.format_table(summary))
    wall = sum(s["wall_s_mean"] * s["seeds"] for s in summary if _is_last(s, summary))
    print(f"wall time of the training runs: {wall / 60:.1f} min")
    drawn = f" and {out_dir / 'accuracy.png'}" if plot else " (the plot: when the run resumes)"
    print(f"saved {out_dir / 'summary.csv'}{drawn}")


def _is_last(s: dict[str, Any], summary: list[dict[str, Any]]) -> bool:
    """The last label count of its strategy (its wall time covers the whole run)."""
    return s["n_labels"] == max(x["n_labels"] for x in summary if x["strategy"] == s["strategy"])


class _Bar:
    """One progress line on stderr: redrawn in place on a terminal, a line per round else."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.first: tuple[int, float] | None = None  # (done, time) at the first new round

    def __call__(self, progress: Any) -> None:
        from ssvae.records.formats import duration as format_duration

        now, eta = time.perf_counter(), None
        if progress.row is not None and self.first is None:
            # Rate from the first round on: a warm start before it would skew the ETA.
            self.first = (progress.done, now)
        elif self.first is not None and progress.done > self.first[0]:
            per_round = (now - self.first[1]) / (progress.done - self.first[0])
            eta = per_round * (progress.total - progress.done)
        filled = int(20 * progress.done / max(progress.total, 1))
        line = f"[{'#' * filled}{'.' * (20 - filled)}] {progress.done}/{progress.total} rounds"
        if progress.row:
            r = progress.row
            line += (
                f"  {r['strategy']} seed {r['seed']}: {plural(r['n_labels'], 'label')} "
                f"{100 * r['test_accuracy']:.1f} %"
            )
        line += f"  eta {format_duration(eta)}"
        if self.tty:
            sys.stderr.write("\r\033[K" + line)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")
