"""Training speed with the dashboard open vs no page, per torch-thread setting (issue 20's table).

    python benchmarks/bench_page_cost.py                  # Fashion-MNIST 60k, settings policy,2,1
    python benchmarks/bench_page_cost.py --threads 2,1    # fixed counts only (OMP_NUM_THREADS)
    python benchmarks/bench_page_cost.py --threads policy,2,2+passive   # OpenMP threads that sleep
    python benchmarks/bench_page_cost.py --browser software   # the tests' cheaper Chromium
    python benchmarks/bench_page_cost.py --quick          # tiny generated data: the harness only

Each setting gets its own server (a number: OMP_NUM_THREADS=N; "policy": alctl's own choice),
all settled `--settle` seconds once their model is ready; then `--rounds` rounds in which each
setting trains `--epochs` epochs at batch 128 with a page open (A), then with none (B). The
page is the real dashboard in Chromium at `--viewport`, by default compositing through
SwiftShader (the harder case). Prints the table, then the budgets: page open ≥ 0.9 of the best
no-page speed; no page no slower than the two-thread setting.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from common import (
    FASHION_DIR,
    FASHION_TRAIN,
    label_csv,
    machine_load,
    print_results,
    train_script,
)
from page_cost import POLICY, budget_rows, launch_browser, measure_page_cost, table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default=f"{POLICY},2,1", help="settings, comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="A B rounds per setting")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per session")
    parser.add_argument("--settle", type=float, default=25.0, help="seconds before training")
    parser.add_argument("--browser", choices=("swiftshader", "software"), default="swiftshader")
    parser.add_argument("--viewport", default="1440x900", help="WIDTHxHEIGHT")
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--data-dir", type=Path, help="default: the machine's Fashion-MNIST")
    parser.add_argument(
        "--labels", type=int, default=100, help="labeled images (a session's classifier runs)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny generated data, 1 round")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    width, height = (int(v) for v in args.viewport.lower().split("x"))
    settings = [s.strip() for s in args.threads.split(",") if s.strip()]
    load_start = machine_load()
    root = Path(tempfile.mkdtemp(prefix="alctl-bench-page-"))
    dataset, data_dir = args.dataset, args.data_dir
    if args.quick:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.datagen import write_synthetic_idx

        dataset, data_dir = "mnist", write_synthetic_idx(root / "idx", 3000, 500)
        args.rounds, args.epochs, args.settle = 1, 2, 2.0
    elif data_dir is None and dataset == "fashion-mnist" and FASHION_DIR.is_dir():
        data_dir = FASHION_DIR
    print(f"bench_page_cost: {dataset}, settings {settings}, {args.browser}; {load_start}")
    try:
        # A trained checkpoint (one epoch) for every server to continue, and labels: with
        # none, the classifier (most of an epoch's work on the default model) barely runs.
        n_train = 3000 if args.quick else FASHION_TRAIN
        label_csv(root / "ws", dataset, n_train, min(args.labels, n_train))
        train_script(root / "ws", dataset, data_dir, 1, timeout=3600)
        with sync_playwright() as playwright:
            browser = launch_browser(playwright, args.browser)
            measured, order = measure_page_cost(
                browser,
                root / "ws",
                dataset,
                data_dir,
                settings=settings,
                rounds=args.rounds,
                epochs=args.epochs,
                viewport={"width": width, "height": height},
                settle_s=args.settle,
            )
            browser.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    title = f"Training with the page open vs no page, {dataset}, {args.browser} {args.viewport}"
    print(f"\n### {title}\n\n{table(measured)}")
    notes = [
        f"order: {' '.join(order)}; {args.epochs} epochs per session at batch 128, "
        f"{args.labels} labels, "
        f"servers settled {args.settle:.0f} s",
        f"machine: {load_start} at start, {machine_load()} at the end",
    ]
    if args.quick:
        notes.append("--quick: tiny generated data, one round: not the budgets' verdicts")
    print_results("Budgets (issue 20)", budget_rows(measured), notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
