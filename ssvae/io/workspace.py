"""Workspace: every path alctl and the scripts read or write, named in one place.

Layout under the workspace root (the current directory by default):

    data/<dataset>/labels.csv            the user's labels (+ labels.csv.lock)
    artifacts/<dataset>/ssvae.ckpt       the checkpoint
    artifacts/<dataset>/history.csv      one row per trained epoch
    artifacts/<dataset>/loss_curves.png  the loss curves of that history
    artifacts/<dataset>/report.html      the static report the page's Report button writes
    artifacts/<dataset>/predictions_train.npz   scripts/infer.py output
    artifacts/<dataset>/queue/           the queue's image features and clusters (a cache)
    .alctl/server.json                   the running server's discovery file

Keeping labels and artifacts per dataset means a checkpoint trained on one
dataset is never picked up for another.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

_DATASET_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class Workspace:
    """Paths of one workspace for one dataset; nothing is created until someone writes."""

    root: Path
    dataset: str

    def __init__(self, root: str | os.PathLike[str], dataset: str) -> None:
        if dataset == "auto" or not _DATASET_NAME.match(dataset or ""):
            raise ValueError(
                f"workspace dataset must be a concrete name such as 'mnist', got {dataset!r}"
            )
        object.__setattr__(self, "root", Path(root).expanduser().absolute())
        object.__setattr__(self, "dataset", dataset)

    @property
    def data_dir(self) -> Path:
        return self.root / "data" / self.dataset

    @property
    def artifacts_dir(self) -> Path:
        return self.root / "artifacts" / self.dataset

    @property
    def labels_csv(self) -> Path:
        return self.data_dir / "labels.csv"

    @property
    def labels_lock(self) -> Path:
        return lock_path_for(self.labels_csv)

    @property
    def checkpoint(self) -> Path:
        return self.artifacts_dir / "ssvae.ckpt"

    @property
    def history_csv(self) -> Path:
        return self.artifacts_dir / "history.csv"

    @property
    def loss_plot(self) -> Path:
        return self.artifacts_dir / "loss_curves.png"

    @property
    def report_html(self) -> Path:
        """The static report the page's Report button writes (`alctl report --out` elsewhere)."""
        return self.artifacts_dir / "report.html"

    @property
    def queue_dir(self) -> Path:
        """What the "typical" queue computed once (ssvae.io.queue_cache): a cache."""
        return self.artifacts_dir / "queue"

    @property
    def predictions(self) -> Path:
        return self.predictions_for("train")

    def predictions_for(self, split: str) -> Path:
        """`predictions_<split>.npz` (split is "train" or "test")."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return self.artifacts_dir / f"predictions_{split}.npz"

    @property
    def server_file(self) -> Path:
        return self.root / ".alctl" / "server.json"


def lock_path_for(csv_path: str | os.PathLike[str]) -> Path:
    """The lock file that serialises writers of `csv_path`: the same path + `.lock`."""
    path = Path(csv_path)
    return path.with_name(path.name + ".lock")


def sidecar_paths(weights: Path, workspace: Workspace) -> tuple[Path, Path]:
    """History CSV and loss-curve PNG that belong next to a checkpoint file.

    The workspace's own checkpoint uses the workspace names; any other `--weights`
    file gets `<weights>.history.csv` / `<weights>.loss_curves.png` beside it, so
    two checkpoints in one directory never share a history.
    """
    weights = Path(weights).expanduser().absolute()
    if weights == workspace.checkpoint:
        return workspace.history_csv, workspace.loss_plot
    return (
        weights.with_name(weights.name + ".history.csv"),
        weights.with_name(weights.name + ".loss_curves.png"),
    )
