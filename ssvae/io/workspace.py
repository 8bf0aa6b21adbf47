"""Workspace: every path alctl and the scripts read or write, named in one place.

Layout under the workspace root (the current directory by default):

    data/<dataset>/labels.csv            the user's labels (+ labels.csv.lock)
    artifacts/<dataset>/ssvae.ckpt       the checkpoint (+ ssvae.ckpt.lock: who changes it)
    artifacts/<dataset>/ssvae.prev.ckpt  the checkpoint before the last save
    artifacts/<dataset>/points_cache.npz the page's points for that checkpoint
    artifacts/<dataset>/history.csv      one row per trained epoch
    artifacts/<dataset>/loss_curves.png  the loss curves of that history
    artifacts/<dataset>/report.html      the static report the page's Report button writes
    artifacts/<dataset>/predictions_train.npz   scripts/infer.py output
    artifacts/<dataset>/queue/           the queue's image features and clusters (a cache)
    .alctl/server.json                   the running server's discovery file

Keeping labels and artifacts per dataset means a checkpoint trained on one
dataset is never picked up for another. `state_files()` names the files the programs keep
their state in; `check_output()` refuses any `--out` that would replace one of them.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ssvae.io.checkpoint_integrity import previous_path

_DATASET_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
POINTS_CACHE_NAME = "points_cache.npz"


class StateFileError(ValueError):
    """An output path that would replace one of the workspace's own state files."""


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
    def checkpoint_lock_file(self) -> Path:
        """Held by whoever changes the checkpoint (ssvae.io.checkpoint_lock)."""
        return lock_path_for(self.checkpoint)

    @property
    def previous_checkpoint(self) -> Path:
        """Where each save keeps the checkpoint it replaces (`alctl rollback` goes back to it)."""
        return previous_path(self.checkpoint)

    @property
    def points_cache(self) -> Path:
        """The page's points for the checkpoint, so `alctl serve` starts without torch."""
        return self.artifacts_dir / POINTS_CACHE_NAME

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

    def state_files(self) -> dict[str, Path]:
        """The files alctl and the scripts keep this dataset's state in, by what they hold.

        Every `--out` is checked against these (`check_output`): writing a report or a PNG
        over one of them would destroy labels, checkpoints or the server's discovery file.
        """
        return {
            "labels file": self.labels_csv,
            "labels lock": self.labels_lock,
            "checkpoint": self.checkpoint,
            "checkpoint lock": self.checkpoint_lock_file,
            "previous checkpoint": self.previous_checkpoint,
            "training history": self.history_csv,
            "loss-curve plot": self.loss_plot,
            "points cache": self.points_cache,
            "server discovery file": self.server_file,
        }


def check_output(
    path: str | os.PathLike[str], root: str | os.PathLike[str], dataset: str | None = None
) -> Path:
    """`path` (user-expanded), or StateFileError when writing it would replace a state file.

    Guards the state files of every dataset of the workspace at `root` (those on disk, the
    one given, and the one `path` itself would belong to), whichever way `path` names one:
    relative, through `..` or symbolic links, or as another hard link to it.
    """
    out = Path(path).expanduser()
    resolved = out.resolve()
    try:
        out_stat = os.stat(resolved)
    except OSError:
        out_stat = None
    for what, state in _state_files_of_root(Path(root).expanduser(), dataset, resolved):
        same = state.resolve() == resolved
        if not same and out_stat is not None:
            try:
                st = os.stat(state)
            except OSError:
                continue
            same = (st.st_dev, st.st_ino) == (out_stat.st_dev, out_stat.st_ino)
        if same:
            raise StateFileError(
                f"{path} is the workspace's {what} ({state}); write the output to another file"
            )
    return out


def _state_files_of_root(
    root: Path, dataset: str | None, resolved_out: Path
) -> list[tuple[str, Path]]:
    names = {dataset} if dataset else set()
    for parent in (root / "data", root / "artifacts"):
        # Not there yet (or unreadable): no dataset's files there to guard.
        with contextlib.suppress(OSError):
            names.update(p.name for p in parent.iterdir())
        if resolved_out.parent.parent == parent.resolve():
            names.add(resolved_out.parent.name)  # a dataset whose files do not exist yet
    valid = sorted(n for n in names if n != "auto" and _DATASET_NAME.match(n))
    files = [(w, p) for name in valid for w, p in Workspace(root, name).state_files().items()]
    if not files:  # no dataset at all: still the discovery file
        files = [("server discovery file", root / ".alctl" / "server.json")]
    return files


def lock_path_for(csv_path: str | os.PathLike[str]) -> Path:
    """The lock file that serialises writers of a file: the same path + `.lock`."""
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
