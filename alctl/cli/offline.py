"""What the CLI does when no server runs: the same actions, on the workspace files directly.

Labels go through ssvae's LabelStore (the same lock and atomic write the server uses).
Nothing here imports torch; the dataset size comes from the IDX header, not a full load.
Answers have the shapes of the HTTP API's answers so the CLI prints both the same way.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ssvae.io.labels import label_stats, labels_csv_text
from ssvae.io.workspace import Workspace

if TYPE_CHECKING:
    from ssvae.io.labels import LabelStore


@dataclass(frozen=True)
class Files:
    """One workspace for one concrete dataset, with the dataset's size."""

    root: Path
    dataset: str
    n_samples: int

    @property
    def workspace(self) -> Workspace:
        return Workspace(self.root, self.dataset)

    def store(self) -> LabelStore:
        from ssvae.io.labels import LabelStore  # numpy: only when labels are touched

        return LabelStore(self.workspace.labels_csv, self.n_samples)


def open_files(root: Path, dataset: str, data_dir: Path | None) -> Files:
    """Resolve `dataset` (maybe "auto") the way the server does and read its size cheaply."""
    from ssvae.data.datasets import dataset_size

    name, n_samples = dataset_size(dataset, data_dir)
    return Files(Path(root), name, n_samples)


def set_label(files: Files, serial: int, label: int | None) -> dict[str, Any]:
    """Set (or with None delete) one label; `{serial, label, previous, stats}`."""
    store = files.store()
    previous = store.delete(serial) if label is None else store.set(serial, label)
    return {
        "serial": serial,
        "label": label,
        "previous": previous,
        "stats": label_stats(store.read(), files.n_samples),
    }


def import_labels(files: Files, changes: Mapping[int, int | None]) -> dict[str, Any]:
    """Apply validated changes at once (all or nothing); `{changed, stats}`."""
    store = files.store()
    previous = store.update(changes)
    changed = sum(1 for serial, value in changes.items() if previous.get(serial) != value)
    return {"changed": changed, "stats": label_stats(store.read(), files.n_samples)}


def labels_csv(files: Files) -> str:
    """The labels as the clean CSV the store writes (`Serial,label`, sorted)."""
    return labels_csv_text(files.store().read())


def last_history_row(path: Path) -> dict[str, str] | None:
    """The last epoch row of a history CSV (standard library only), or None."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            row = None
            for row in csv.DictReader(handle):  # noqa: B007 - we want the last one
                pass
            return row
    except (OSError, csv.Error, UnicodeDecodeError):
        return None


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def checkpoint_facts(files: Files) -> dict[str, Any]:
    """Checkpoint facts without torch: its header (checkpoint_summary) plus the history CSV."""
    from ssvae.io.checkpoint import checkpoint_summary

    ws = files.workspace
    summary = checkpoint_summary(ws.checkpoint)
    facts = {k: v for k, v in summary.items() if v is not None and k != "config"}
    if not summary["exists"]:
        return facts
    row = last_history_row(ws.history_csv)
    if row is not None:
        facts["train_loss"] = _float(row.get("train_loss"))
        facts["val_loss"] = _float(row.get("val_loss"))
    return facts


def status(files: Files) -> dict[str, Any]:
    """The `alctl status` facts when no server runs (a bad labels file is shown, not fatal)."""
    from ssvae.io.labels import LabelError

    store = files.store()
    labels: dict[str, Any] = {"path": str(store.path)}
    try:
        labels.update(label_stats(store.read(), files.n_samples))
    except LabelError as exc:
        labels["error"] = " ".join(str(exc).split())
    return {
        "workspace": str(files.root),
        "dataset": {"name": files.dataset, "n_samples": files.n_samples},
        "labels": labels,
        "checkpoint": checkpoint_facts(files),
        "evaluations": evaluations(files),
        "threads": local_threads(),
        "server": None,
    }


def local_threads() -> dict[str, Any]:
    """The torch threads `alctl train --no-server` would start with here, now, and why."""
    from ssvae.train.threads import ThreadGovernor

    try:
        return ThreadGovernor.for_process().describe()
    except ValueError as exc:  # a bad OMP_NUM_THREADS: say so, status still answers
        return {"error": str(exc)}


def evaluations(files: Files) -> list[dict[str, Any]]:
    """The accuracy-vs-labels curve from the checkpoint's session entries (no torch)."""
    from ssvae.io.checkpoint import checkpoint_records
    from ssvae.records.sessions import evaluation_curve

    return evaluation_curve(checkpoint_records(files.workspace.checkpoint, "sessions") or [])
