"""A simulation's files: results.csv (one row per finished round, or press of the page
protocol) and summary.csv (the table and the chart are drawn by alctl:
alctl/cli/simulate_view.py, alctl/report/simulation_plot.py).

Swept settings (`alctl simulate --grid`) come first in each row as text columns, one per
key; the summary groups by them, then by strategy and label count. Only the driver of a
simulation writes here: workers send their rows back, so a cluster needs no shared disk.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ssvae.io.atomic import atomic_write
from ssvae.runs.simulate import OPTIONAL_FIELDS, PAGE_FIELDS, RESULT_FIELDS

_INTS = ("seed", "round", "n_labels", "blind_n", "calibration_labels", "epochs_run")
_FLOATS = tuple(f for f in PAGE_FIELDS[PAGE_FIELDS.index("n_labels") + 1 :] if f not in _INTS)


def result_columns(keys: Sequence[str] = (), fields: Sequence[str] = RESULT_FIELDS) -> list[str]:
    """results.csv's header: the key columns (swept settings, the page protocol's press)
    first, then `fields` (the plan's: Plan.result_fields)."""
    return [*keys, *fields]


def check_columns(
    path: Path, keys: Sequence[str] = (), fields: Sequence[str] = RESULT_FIELDS
) -> None:
    """ValueError when an existing results.csv has other columns (an older alctl wrote it):
    resuming would mix rows measured differently."""
    if not path.exists():
        return
    with path.open(newline="") as handle:
        header = next(csv.reader(handle), [])
    if header and header != result_columns(keys, fields):
        raise ValueError(
            f"{path} was written with other columns (an older alctl); pass another --name"
        )


def read_results(path: Path) -> list[dict[str, Any]]:
    """Rows of results.csv (numbers parsed, settings as text); [] when there is none yet."""
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key in _INTS:
            if key in row:  # the page protocol's columns are absent from the rounds'
                row[key] = int(row[key])
        for key in _FLOATS:
            if key in row:  # a column added later is absent from older files
                row[key] = None if row[key] == "" and key in OPTIONAL_FIELDS else float(row[key])
    return rows


def append_result(
    path: Path, row: dict[str, Any], keys: Sequence[str] = (), fields: Sequence[str] = RESULT_FIELDS
) -> None:
    """Add one row, rewriting the file atomically so a kill never leaves half a line.

    `keys` are the key columns, which go first; `fields` the rest (result_columns).
    """
    columns = result_columns(keys, fields)
    rows = [*read_results(path), row]
    with atomic_write(path) as handle:
        text = ",".join(columns) + "\n" + "".join(_csv_line(r, columns) for r in rows)
        handle.write(text.encode())


def _csv_line(row: dict[str, Any], columns: Sequence[str]) -> str:
    return ",".join(_cell(row[k]) for k in columns) + "\n"


def _cell(value: Any) -> str:
    if value is None:  # an optional figure not taken (no blind label)
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def summarize(rows: Sequence[dict[str, Any]], keys: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Per (swept settings, strategy, n_labels): mean and spread (sample std) over seeds."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        group = (*(row[k] for k in keys), row["strategy"], int(row["n_labels"]))
        groups.setdefault(group, []).append(row)
    out = []
    for group, members in sorted(groups.items()):
        acc = np.array([r["test_accuracy"] for r in members])
        out.append(
            {
                **dict(zip(keys, group, strict=False)),
                "strategy": group[-2],
                "n_labels": group[-1],
                "seeds": len(members),
                "accuracy_mean": float(acc.mean()),
                "accuracy_std": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
                "test_ece_mean": _mean(members, "test_ece"),
                "blind_accuracy_mean": _mean(members, "blind_accuracy"),
                "ece_raw_mean": _mean(members, "ece_raw"),
                "ece_calibrated_mean": _mean(members, "ece_calibrated"),
                "wall_s_mean": float(np.mean([r["wall_s"] for r in members])),
            }
        )
    return out


def _mean(rows: Sequence[dict[str, Any]], key: str) -> float | None:
    """The mean over the rows that have the figure; None when none has it."""
    values = [r[key] for r in rows if r[key] is not None]
    return float(np.mean(values)) if values else None


def write_summary(path: Path, summary: Sequence[dict[str, Any]]) -> None:
    if not summary:
        return
    keys = list(summary[0])
    lines = [",".join(keys)] + [",".join(_cell(s[k]) for k in keys) for s in summary]
    with atomic_write(path) as handle:
        handle.write(("\n".join(lines) + "\n").encode())


def setting_groups(
    summary: Sequence[dict[str, Any]], keys: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """The summary split by swept settings, named "key=value ..." ("" without a sweep)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for s in summary:
        out.setdefault(" ".join(f"{k}={s[k]}" for k in keys), []).append(s)
    return out
