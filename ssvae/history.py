"""Training history: epoch records <-> the history CSV, and the loss-curve PNG.

A record is `EpochRecord.to_dict()`: {session, epoch, global_epoch, seconds,
learning_rate, train: {loss, ...}, val: {loss, ...}}. In the CSV the nested dicts
become `train_<key>` / `val_<key>` columns; NaN is written as `nan`.
matplotlib is imported only inside `plot_history` (Agg, no pyplot, no window).
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ssvae.atomic import atomic_write
from ssvae.callbacks import METRIC_KEYS, EpochRecord
from ssvae.labels import atomic_write_text

_INT_COLUMNS = ("session", "epoch", "global_epoch")
COLUMNS: tuple[str, ...] = (
    *_INT_COLUMNS,
    "seconds",
    "learning_rate",
    *(f"train_{k}" for k in METRIC_KEYS),
    *(f"val_{k}" for k in METRIC_KEYS),
)


def flatten_record(record: EpochRecord | Mapping[str, Any]) -> dict[str, Any]:
    """One CSV row from an epoch record."""
    data = record.to_dict() if isinstance(record, EpochRecord) else record
    row = {name: data[name] for name in (*_INT_COLUMNS, "seconds", "learning_rate")}
    for split in ("train", "val"):
        for key in METRIC_KEYS:
            row[f"{split}_{key}"] = data[split].get(key, math.nan)
    return row


def unflatten_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The epoch record (nested dict) a CSV row stands for."""
    record: dict[str, Any] = {name: int(float(row[name])) for name in _INT_COLUMNS}
    record["seconds"] = float(row["seconds"])
    record["learning_rate"] = float(row["learning_rate"])
    for split in ("train", "val"):
        record[split] = {key: _float(row.get(f"{split}_{key}")) for key in METRIC_KEYS}
    return record


def append_history_csv(
    path: str | os.PathLike[str], records: Iterable[EpochRecord | Mapping[str, Any]]
) -> None:
    """Append records, writing the header first when the file is new or empty."""
    path = Path(path)
    rows = [flatten_record(r) for r in records]
    if path.exists() and path.stat().st_size > 0:
        with path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
        if tuple(header) != COLUMNS:
            raise ValueError(
                f"{path}: unexpected history columns; move the file away to start anew"
            )
        with path.open("a", newline="", encoding="utf-8") as handle:
            csv.DictWriter(handle, COLUMNS, lineterminator="\n").writerows(rows)
        return
    write_history_csv(path, rows)


def write_history_csv(
    path: str | os.PathLike[str], records: Iterable[EpochRecord | Mapping[str, Any]]
) -> None:
    """Replace the file with exactly these records (atomically)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(r if "train_loss" in r else flatten_record(r) for r in _as_maps(records))
    atomic_write_text(Path(path), buffer.getvalue())


def read_history_csv(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Epoch records from the CSV; [] when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        try:
            return [unflatten_row(row) for row in csv.DictReader(handle)]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: not a history CSV ({exc})") from exc


def plot_history(path_png: str | os.PathLike[str], records: Iterable[Mapping[str, Any]]) -> None:
    """Loss curves (train solid, validation dashed) per term against the global epoch."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    records = list(records)
    titles = {
        "loss": "total loss",
        "reconstruction_loss": "reconstruction",
        "kl_loss": "KL",
        "classification_loss": "classification",
        "accuracy": "accuracy (labeled rows)",
    }
    fig = Figure(figsize=(12, 6.5), layout="constrained")
    axes = fig.subplots(2, 3).ravel()
    x = [r["global_epoch"] for r in records]
    starts = [r["global_epoch"] - 0.5 for r in records if r["epoch"] == 1][1:]
    for ax, key in zip(axes, METRIC_KEYS, strict=False):
        ax.plot(x, [r["train"][key] for r in records], "-o", ms=3, label="train")
        ax.plot(x, [r["val"][key] for r in records], "--o", ms=3, label="validation")
        for start in starts:  # a new training session begins here
            ax.axvline(start, color="0.8", lw=0.8, ls=":")
        ax.set_title(titles[key])
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].legend()
    axes[-1].axis("off")
    if records:
        last = records[-1]
        axes[-1].text(0, 0.5, f"{len(records)} epochs\nlast: global epoch {last['global_epoch']}")
    _atomic_savefig(fig, Path(path_png))


def record_session(
    history_csv: str | os.PathLike[str],
    loss_plot: str | os.PathLike[str],
    new_records: Iterable[Mapping[str, Any]],
    all_records: Iterable[Mapping[str, Any]],
) -> None:
    """Persist one session's epochs for the scripts: append the CSV, redraw the PNG.

    A missing CSV (say, a checkpoint moved here without it) is rewritten from everything
    the checkpoint knows, so the file always covers the whole history.
    """
    history_csv = Path(history_csv)
    all_records = list(all_records)
    if history_csv.exists():
        append_history_csv(history_csv, new_records)
    else:
        write_history_csv(history_csv, all_records)
    plot_history(loss_plot, all_records)


def _atomic_savefig(fig: Any, path: Path) -> None:
    with atomic_write(path) as handle:
        fig.savefig(handle, format="png", dpi=100)


def _as_maps(records: Iterable[EpochRecord | Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    for record in records:
        yield record.to_dict() if isinstance(record, EpochRecord) else record


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
