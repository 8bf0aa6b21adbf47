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
epochs within seconds (the points cache is then left to the next `alctl serve`). Exit
codes as `alctl train`'s: 0 done, 1 a problem to fix (bad file, no dataset, the checkpoint
busy, not saved), 2 bad options, 3 training failed, 4 stopped (Ctrl+C).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

_CHECKOUT = Path(__file__).resolve().parent.parent
if (_CHECKOUT / "ssvae" / "__init__.py").is_file():  # run from a checkout: use its own library
    sys.path.insert(0, str(_CHECKOUT))

from ssvae.config.blas import one_blas_thread

one_blas_thread()  # before numpy is imported (below): a fork or the exit never hangs in it

from alctl.cli.progress import outcome_lines
from alctl.cli.signals import stop_on_ctrl_c
from alctl.errors import EXIT_ERROR, exit_code
from alctl.report.loss_plot import loss_plot_writer
from alctl.script_args import add_workspace_options, open_workspace
from ssvae.config import PARAMS
from ssvae.config.hparams import HyperparameterError, Param
from ssvae.data.datasets import DataError
from ssvae.io.checkpoint import CheckpointError
from ssvae.io.checkpoint_integrity import backup_problem
from ssvae.io.checkpoint_lock import CheckpointBusy
from ssvae.io.labels import LabelError
from ssvae.io.workspace import sidecar_paths
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
    add_workspace_options(parser)
    parser.add_argument("--labels", type=Path, help="labels CSV (default: workspace's)")
    parser.add_argument(
        "--threads",
        type=_positive_int,
        metavar="N",
        help="torch threads (default: chosen for the machine and what else runs on it; "
        "OMP_NUM_THREADS also sets it)",
    )
    for name in CONFIG_FLAGS:
        param = PARAMS[name]
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=_schema_type(param),
            metavar=param.kind.upper() if param.kind != "choice" else "|".join(param.choices),
            help=f"{param.help} ({param.describe()}; default {param.default!r})",
        )
    return parser


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:  # argparse prints this message and exits 2
        raise argparse.ArgumentTypeError(f"give a whole number, 1 or more, not {text!r}")
    return int(text)


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
        dataset, workspace, weights = open_workspace(args)
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
            threads=args.threads,
        )
        stop = threading.Event()
        # Stopped (Ctrl+C, SIGTERM): the process ends promptly; the next session redraws it.
        plot = loss_plot_writer(loss_plot, unless=stop.is_set)
        with stop_on_ctrl_c(stop, lambda line: print(line, file=sys.stderr, flush=True)):
            outcome = train_on_files(run, [EpochPrinter()], stop_event=stop, after_save=[plot])
    except (DataError, CheckpointError, CheckpointBusy, LabelError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    result = outcome.result
    for line in outcome_lines(outcome.to_dict(), weights):
        print(line)
    if outcome.saved:
        curves = "redrawn by the next session (stopped)" if stop.is_set() else loss_plot
        print(f"history {history_csv}; loss curves {curves}")
    if result.status == "failed":
        print(f"error: training failed: {result.error}", file=sys.stderr)
    return exit_code({**result.to_dict(), **outcome.to_dict()})


if __name__ == "__main__":
    code = main()
    # Done and saved: spare the interpreter's final garbage collection over torch's many
    # objects (seconds on a busy machine, after a Ctrl+C too).
    gc.freeze()
    sys.exit(code)
