"""What the standalone scripts (scripts/*.py) share: their workspace options and how they
open the workspace, so `--workspace`, `--dataset`, `--data-dir`, `--weights` and `--device`
read and fail the same way in each (and as `alctl`'s options do).

argparse, not Typer: the scripts run without the CLI. Exit codes as `alctl`'s
(alctl.errors): 1 for a problem to fix, 2 for bad options (argparse's own).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from ssvae.data.datasets import Dataset
    from ssvae.io.workspace import Workspace


def add_workspace_options(
    parser: argparse.ArgumentParser, *, data_dir: bool = True, weights: bool = True
) -> None:
    """--workspace and --dataset; --data-dir, --weights and --device unless left out."""
    from ssvae.data.datasets import DATASETS

    parser.add_argument("--workspace", type=Path, default=Path("."), help="workspace directory")
    parser.add_argument(
        "--dataset", default="auto", choices=(*DATASETS, "auto"), help="default: auto"
    )
    if data_dir:
        parser.add_argument("--data-dir", type=Path, help="directory holding the four IDX files")
    if weights:
        parser.add_argument("--weights", type=Path, help="checkpoint file (default: workspace's)")
        parser.add_argument("--device", default=None, help="auto (default), cpu or cuda[:N]")


class Opened(NamedTuple):
    dataset: Dataset
    workspace: Workspace
    weights: Path  # absolute: the --weights given, else the workspace's checkpoint


def open_workspace(args: argparse.Namespace) -> Opened:
    """Load the dataset (and say which one), and resolve the workspace and the checkpoint.

    Raises DataError for a dataset that cannot be loaded; the caller prints it as one line.
    """
    from ssvae.data.datasets import load_dataset
    from ssvae.io.workspace import Workspace

    dataset = load_dataset(args.dataset, args.data_dir)
    print(f"dataset: {dataset.name} ({dataset.source})", flush=True)
    workspace = Workspace(args.workspace, dataset.name)
    weights = (args.weights or workspace.checkpoint).expanduser().absolute()
    return Opened(dataset, workspace, weights)
