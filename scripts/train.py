#!/usr/bin/env python3
"""Train the semi-supervised VAE on the workspace's labels; continue the checkpoint if present.

Examples:
    python scripts/train.py --dataset fashion-mnist --max-epochs 10
    python scripts/train.py --labels my_labels.csv --weights runs/a.ckpt --kl-weight 0.5

Runs the same session pipeline as the dashboard and `alctl train`: it holds the
checkpoint's lock (one trainer per checkpoint, whatever started it), calibrates the
certainty on labels the weights have not seen, saves the checkpoint, appends the history
CSV, redraws the loss-curve PNG and refreshes the page's points cache (workspace defaults:
artifacts/<dataset>/). Ctrl+C stops after the current batch and saves the completed
epochs. Exit codes as `alctl train`'s: 0 done, 1 a problem to fix (bad file, no dataset,
the checkpoint busy, not saved), 2 bad options, 3 training failed, 4 stopped (Ctrl+C).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

_CHECKOUT = Path(__file__).resolve().parent.parent
if (_CHECKOUT / "ssvae" / "__init__.py").is_file():  # run from a checkout: use its own library
    sys.path.insert(0, str(_CHECKOUT))

from alctl.cli.progress import outcome_lines
from alctl.errors import EXIT_ERROR, exit_code
from alctl.report.loss_plot import loss_plot_writer
from ssvae.config import PARAMS
from ssvae.config.hparams import HyperparameterError, Param
from ssvae.data.datasets import DATASETS, DataError, load_dataset
from ssvae.io.checkpoint import CheckpointError
from ssvae.io.checkpoint_integrity import backup_problem
from ssvae.io.checkpoint_lock import CheckpointBusy
from ssvae.io.labels import LabelError
from ssvae.io.workspace import Workspace, sidecar_paths
from ssvae.records.events import EpochPrinter
from ssvae.runs.pipeline import FilesRun, SessionFiles, train_on_files

# Every scalar config field is an option (--kl-weight, ...), parsed and range-checked by the
# hyperparameter schema; left out, it keeps the checkpoint's value (or the default).
CONFIG_FLAGS = tuple(name for name, p in PARAMS.items() if p.kind != "int_list")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Options left out keep the checkpoint's values (or the defaults for a new one).",
    )
    parser.add_argument("--workspace", type=Path, default=Path("."), help="workspace directory")
    parser.add_argument(
        "--dataset", default="auto", choices=(*DATASETS, "auto"), help="default: auto"
    )
    parser.add_argument("--data-dir", type=Path, help="directory holding the four IDX files")
    parser.add_argument("--labels", type=Path, help="labels CSV (default: workspace's)")
    parser.add_argument("--weights", type=Path, help="checkpoint file (default: workspace's)")
    parser.add_argument("--device", default=None, help="auto (default), cpu or cuda[:N]")
    for name in CONFIG_FLAGS:
        param = PARAMS[name]
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=_schema_type(param),
            metavar=param.kind.upper() if param.kind != "choice" else "|".join(param.choices),
            help=f"{param.help} ({param.describe()}; default {param.default!r})",
        )
    return parser


def _schema_type(param: Param) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return param.parse(text)
        except HyperparameterError as exc:  # argparse prints this message and exits 2
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = param.kind
    return convert


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        dataset = load_dataset(args.dataset, args.data_dir)
        print(f"dataset: {dataset.name} ({dataset.source})", flush=True)
        workspace = Workspace(args.workspace, dataset.name)
        weights = (args.weights or workspace.checkpoint).expanduser().absolute()
        history_csv, loss_plot = sidecar_paths(weights, workspace)
        backup = backup_problem(weights)
        if backup:
            print(f"warning: {backup}", file=sys.stderr, flush=True)
        explicit = {k: getattr(args, k) for k in CONFIG_FLAGS if getattr(args, k) is not None}
        # The page's points belong to the workspace's own checkpoint only.
        cache = workspace.points_cache if weights == workspace.checkpoint else None
        run = FilesRun(
            dataset=dataset,
            files=SessionFiles(dataset.name, weights, history_csv, cache),
            labels_csv=(args.labels or workspace.labels_csv).expanduser().absolute(),
            explicit=explicit,
            epochs=args.max_epochs,
            device=args.device,
            what=f"scripts/train.py (pid {os.getpid()})",
        )
        stop = threading.Event()
        _stop_on_ctrl_c(stop)
        outcome = train_on_files(
            run, [EpochPrinter()], stop_event=stop, after_save=[loss_plot_writer(loss_plot)]
        )
    except (DataError, CheckpointError, CheckpointBusy, LabelError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    result = outcome.result
    for line in outcome_lines(outcome.to_dict(), weights):
        print(line)
    if outcome.saved:
        print(f"history {history_csv}; loss curves {loss_plot}")
    if result.status == "failed":
        print(f"error: training failed: {result.error}", file=sys.stderr)
    return exit_code({**result.to_dict(), **outcome.to_dict()})


def _stop_on_ctrl_c(stop: threading.Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        print("\nstopping after this batch (Ctrl+C again to abort)", file=sys.stderr, flush=True)
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, handler)


if __name__ == "__main__":
    sys.exit(main())
