#!/usr/bin/env python3
"""Run the checkpoint over a dataset split and write the predictions .npz.

Keys: input, latent, tsne (the 2-D view of the latent), labels (ground truth),
reconstruted, pred_classes, pred_certainty, split. The file is written atomically.
Exit codes as `alctl`'s: 0 done, 1 a problem to fix (no data, no or bad checkpoint), 2 bad
options.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent
if (_CHECKOUT / "ssvae" / "__init__.py").is_file():  # run from a checkout: use its own library
    sys.path.insert(0, str(_CHECKOUT))

from ssvae.config.blas import one_blas_thread

one_blas_thread()  # before numpy is imported (below): a fork or the exit never hangs in it

from alctl.errors import EXIT_ERROR
from alctl.script_args import add_workspace_options, open_workspace
from ssvae.data.datasets import DataError
from ssvae.io.checkpoint import CheckpointError
from ssvae.io.workspace import check_output
from ssvae.runs.infer import infer_to_npz


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_workspace_options(parser)
    parser.add_argument(
        "--output",
        type=Path,
        help="npz to write (default: artifacts/<dataset>/predictions_<split>.npz)",
    )
    parser.add_argument("--split", choices=("train", "test"), default="train")
    parser.add_argument("--batch-size", type=int, default=4096)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    try:
        if args.batch_size < 1:
            raise ValueError(f"--batch-size must be positive, got {args.batch_size}")
        dataset, workspace, weights = open_workspace(args)
        output = (args.output or workspace.predictions_for(args.split)).expanduser().absolute()
        check_output(output, workspace.root, dataset.name)  # never over labels or a checkpoint
        facts = infer_to_npz(
            dataset,
            weights,
            output,
            split=args.split,
            batch_size=args.batch_size,
            device=args.device,
        )
    except (DataError, CheckpointError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(
        f"wrote {output}: {facts['n']} {args.split} images, accuracy {facts['accuracy']:.4f}, "
        f"mean certainty {facts['mean_certainty']:.3f}, model at epoch {facts['epochs_trained']} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
