"""What `alctl simulate` shows: a line per finished round, one bar over all runs, the table.

Lines go to stderr (the table and the saved paths to stdout). On a terminal the bar stays
at the bottom, redrawn in place under the round lines; elsewhere each round line carries
the count instead.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alctl.cli.progress import evaluation_facts
from ssvae.records.formats import duration as format_duration
from ssvae.runs.sim_results import setting_groups


class SimulationView:
    """`on_progress` for ssvae.runs.campaign.run_simulation."""

    def __init__(self, rounds: int, presses: int = 1) -> None:
        self.rounds, self.presses = rounds, presses
        self.tty = sys.stderr.isatty()
        self.first: tuple[int, float] | None = None  # (done, time) at the first new round
        self.bar_shown = False

    def __call__(self, progress: Any) -> None:
        now = time.perf_counter()
        if progress.row is not None and self.first is None:
            # The rate from the first round on: start-up and warm starts would skew it.
            self.first = (progress.done, now)
        count = f"{progress.done}/{progress.total}"
        if progress.row is not None:
            line = round_line(progress.run, progress.row, self.rounds, self.presses)
            self._line(f"[{count}] {line}")
        elif progress.note is not None:
            self._line(f"[{count}] {progress.note}" if progress.run is None else
                       f"[{count}] {progress.run.label}: {progress.note}")  # fmt: skip
        if self.tty:
            self._bar(progress, now)

    def _line(self, text: str) -> None:
        sys.stderr.write(("\r\033[K" if self.bar_shown else "") + text + "\n")
        self.bar_shown = False
        sys.stderr.flush()

    def _bar(self, progress: Any, now: float) -> None:
        eta = None
        if self.first is not None and progress.done > self.first[0]:
            per_round = (now - self.first[1]) / (progress.done - self.first[0])
            eta = per_round * (progress.total - progress.done)
        filled = int(20 * progress.done / max(progress.total, 1))
        sys.stderr.write(
            f"\r\033[K[{'#' * filled}{'.' * (20 - filled)}] {progress.done}/{progress.total}"
            f" {'presses' if self.presses > 1 else 'rounds'}  eta {format_duration(eta)}"
        )
        self.bar_shown = True
        sys.stderr.flush()

    def close(self) -> None:
        if self.bar_shown:
            sys.stderr.write("\n")
            self.bar_shown = False


def round_line(run: Any, row: dict[str, Any], rounds: int, presses: int = 1) -> str:
    """ "margin seed 1 label_weight=10: round 3/5, 60 labels: test accuracy 71.3%, blind
    accuracy 55.0% on 20 new labels, calibration error 4.1%" (as a session's outcome line);
    under the page protocol with several presses, "round 1/1, press 2/3, ..."."""
    facts = ", ".join(evaluation_facts(row))
    press = f", press {row['press']}/{presses}" if presses > 1 and "press" in row else ""
    where = f"round {row['round'] + 1}/{rounds}{press}"
    return f"{run.label}: {where}, {row['n_labels']} labels: {facts}"


def print_results(
    results: Any,
    out_dir: Path,
    rows: list[dict[str, Any]],
    dataset: str,
    keys: list[str],
    settings: list[str] | None = None,
    *,
    plot: bool = True,
) -> None:
    """summary.csv, accuracy.png and the table on stdout (nothing when no round finished).

    `keys` group the rows (swept settings, and the page protocol's press); `settings` (the
    swept ones; default `keys`) tell the runs apart, for the time they took.

    `plot=False` after Ctrl+C: drawing the chart (matplotlib) would double the time a stop
    takes; the finished run draws it.
    """
    summary = results.summarize(rows, keys)
    if not summary:
        print("no round finished yet", file=sys.stderr)
        return
    results.write_summary(out_dir / "summary.csv", summary)
    if plot:
        from alctl.report.simulation_plot import plot_summary

        title = f"{dataset}: test accuracy vs labels"
        plot_summary(out_dir / "accuracy.png", summary, title, keys)
    print("test accuracy (%), mean ± spread over seeds:")
    print(format_table(summary, keys))
    runs = _by_run(rows, keys if settings is None else settings)
    busy = sum(max(r["wall_s"] for r in run) for run in runs.values())
    print(f"time the runs trained (summed over runs): {busy / 60:.1f} min")
    chart = f" and {out_dir / 'accuracy.png'}" if plot else " (the chart: when the run resumes)"
    print(f"saved {out_dir / 'summary.csv'}{chart}")


def _by_run(rows: list[dict[str, Any]], keys: list[str]) -> dict[tuple[Any, ...], list[Any]]:
    runs: dict[tuple[Any, ...], list[Any]] = {}
    for row in rows:
        runs.setdefault((*(row[k] for k in keys), row["strategy"], row["seed"]), []).append(row)
    return runs


def format_table(summary: Sequence[dict[str, Any]], keys: Sequence[str] = ()) -> str:
    """Plain-text tables, one per swept setting (headed by it): rows = label counts,
    columns = strategies (mean ± spread %)."""
    parts = []
    for name, part in setting_groups(summary, keys).items():
        table = _one_table(part)
        parts.append(f"{name}:\n{table}" if name else table)
    return "\n\n".join(parts)


def _one_table(summary: Sequence[dict[str, Any]]) -> str:
    strategies = sorted({s["strategy"] for s in summary})
    counts = sorted({s["n_labels"] for s in summary})
    cell = {(s["strategy"], s["n_labels"]): s for s in summary}
    header = ["labels", *strategies]
    lines = [header]
    for n in counts:
        line = [str(n)]
        for strategy in strategies:
            s = cell.get((strategy, n))
            line.append(
                "-"
                if s is None
                else f"{100 * s['accuracy_mean']:.1f} ± {100 * s['accuracy_std']:.1f}"
            )
        lines.append(line)
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    padded = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in lines]
    return "\n".join(padded)
