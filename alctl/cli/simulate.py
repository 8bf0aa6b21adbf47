"""`alctl simulate`: the active-learning loop with the ground truth as the oracle.

The options, the choice of executor (this process, a local Ray, a Ray cluster) and the
printed results around `ssvae.runs.campaign.run_simulation`; the plan and the run's directory
come from alctl.cli.simulate_plan. The run lives in
`<workspace>/artifacts/<dataset>/simulations/<name>/`; the user's labels and checkpoint are
never touched.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from alctl.cli.signals import handling
from alctl.cli.simulate_plan import build_plan, run_directory
from alctl.errors import EXIT_ERROR, EXIT_INTERRUPTED, UsageError, fail_cleanly


def simulate(
    strategy: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated: least_confidence, margin, entropy, random, diverse, typical"
            " [default: the queue's default strategy and random].",
            show_default=False,
        ),
    ] = None,
    protocol: Annotated[
        str,
        typer.Option(
            metavar="rounds|page",
            help="Both start from a fresh model with the dataset's defaults (as the page's) and"
            " train through the session pipeline's steps. rounds: seeded random start labels,"
            " then each round ranks once and reveals --step picks. page: the page's default"
            " path: labels one at a time from the queue's head (checks interleaved), then"
            " --presses presses of Start training.",
        ),
    ] = "rounds",
    start: Annotated[
        int | None,
        typer.Option(
            help="Labels before the first round [20; page: 100]: random ones (page: the"
            " queue's); 0 = none.",
            show_default=False,
        ),
    ] = None,
    step: Annotated[
        int | None,
        typer.Option(help="Labels picked per round [20] (page: before each later round)."),
    ] = None,
    rounds: Annotated[
        int | None, typer.Option(help="Rounds trained and measured [5; page: 1].")
    ] = None,
    epochs_per_round: Annotated[
        int | None,
        typer.Option(help="Epochs trained per round [5] (page: per press [max_epochs])."),
    ] = None,
    presses: Annotated[
        int | None,
        typer.Option(
            help="Page: presses of Start training per round, the later ones without new"
            " labels [1]; a row each.",
            show_default=False,
        ),
    ] = None,
    seeds: Annotated[int | None, typer.Option(help="Repeat with seeds 0..N-1 [1].")] = None,
    pretrain_epochs: Annotated[
        int, typer.Option(help="Unsupervised epochs before the first labels (warm start).")
    ] = 0,
    pool: Annotated[
        int, typer.Option(help="Use a fixed random subset of N training images (0 = all).")
    ] = 0,
    setting: Annotated[
        str | None,
        typer.Option(
            "--set", help="Model/training settings for the run: KEY=VALUE[,KEY=VALUE...]."
        ),
    ] = None,
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid",
            metavar="KEY=V1,V2",
            help="Sweep a setting: KEY=V1,V2,... (repeatable; every combination runs).",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Runs at once [every core; --quick: 1]. 1 runs them here, one after "
            "another, without Ray.",
            show_default=False,
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            envvar="RAY_ADDRESS",
            metavar="HOST:PORT",
            help="Run on the Ray cluster at HOST:PORT (or auto) instead of a local Ray.",
            show_default=False,
        ),
    ] = None,
    gpus_per_run: Annotated[
        float,
        typer.Option(min=0.0, max=64.0, help="GPUs per run on Ray, e.g. 0.25: four share one."),
    ] = 0.0,
    threads_per_run: Annotated[
        int, typer.Option(min=1, max=256, help="CPU cores (torch threads) per run.")
    ] = 1,
    name: Annotated[
        str | None, typer.Option(help="Run name (directory); default: made from the options.")
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Tiny generated dataset and a short plan (CI).")
    ] = False,
    workspace: Annotated[
        Path,
        typer.Option("--workspace", "-w", envvar="ALCTL_WORKSPACE", file_okay=False),
    ] = Path("."),
    dataset: Annotated[str, typer.Option("--dataset", "-d")] = "fashion-mnist",
    data_dir: Annotated[Path | None, typer.Option("--data-dir", file_okay=False)] = None,
    device: Annotated[
        str | None, typer.Option(help="cpu, cuda (default: best); with --workers 1.")
    ] = None,
) -> None:
    """Simulate labeling with the ground truth as oracle; compare strategies by test accuracy.

    Uses the same trainer and ranking as the page's queue. Each (settings, strategy, seed)
    run is a task on a local Ray (every core, one thread per run), or on a cluster with
    --address. Writes results.csv, summary.csv and accuracy.png under
    artifacts/<dataset>/simulations/<name>/. Ctrl+C keeps every finished round; the same
    command again resumes.

    --protocol page is the page's default path as one command: 100 queue labels, then
    Start training with the defaults, with the blind accuracy and the calibration each
    session makes; --presses 3 measures after 1x, 2x and 3x the default epochs.

    \b
    Examples:
      alctl simulate --strategy margin,random --start 20 --step 20 --rounds 5 \\
          --epochs-per-round 10 --seeds 3
      alctl simulate --strategy typical,random --grid label_weight=10,30 --seeds 3
      alctl simulate --protocol page --seeds 3 --presses 3
      alctl simulate --quick
    """
    with fail_cleanly():
        from ssvae.runs import sim_results
        from ssvae.runs.campaign import RunsFailed, run_simulation
        from ssvae.select.ranking import DEFAULT_STRATEGY

        plan = build_plan(
            strategy or f"{DEFAULT_STRATEGY},random",
            protocol,
            {
                "start": start,
                "step": step,
                "rounds": rounds,
                "epochs_per_round": epochs_per_round,
                "seeds": seeds,
            },
            presses,
            pretrain_epochs,
            pool,
            setting,
            grid or [],
            quick,
        )
        executor = _executor(quick, workers, address, gpus_per_run, threads_per_run, device)
        data = _load(quick, dataset, data_dir)
        plan.defaults = data.name  # a new model as the page makes it, in every protocol
        try:
            plan.validate(data.n_train)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        run_name, out_dir = run_directory(Path(workspace), data.name, name, plan)
        where = executor.where()
        print(f"simulation {run_name}: {data.source}; {where}; writing {out_dir}", file=sys.stderr)
        from alctl.cli.simulate_view import SimulationView, print_results

        view = SimulationView(plan.rounds, plan.presses)
        keys = plan.result_keys()
        failed: RunsFailed | None = None
        try:
            with handling(_interrupt, signal.SIGTERM):  # SIGTERM stops as Ctrl+C does
                run_simulation(
                    data, plan, out_dir, executor=executor, device=device, on_progress=view
                )
        except KeyboardInterrupt:
            view.close()
            rows = sim_results.read_results(out_dir / "results.csv")
            print_results(sim_results, out_dir, rows, data.name, keys, list(plan.grid), plot=False)
            print(
                "stopped: finished rounds are kept; run the same command to resume", file=sys.stderr
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except RunsFailed as exc:
            failed = exc
        view.close()
        rows = sim_results.read_results(out_dir / "results.csv")
        print_results(sim_results, out_dir, rows, data.name, keys, list(plan.grid))
        if failed is not None:
            for spec, reason in failed.failures:
                print(f"run {spec.label} did not finish: {reason}", file=sys.stderr)
            typer.echo(
                f"error: {len(failed.failures)} run(s) did not finish (named above); "
                "run the same command to try them again",
                err=True,
            )
            raise typer.Exit(EXIT_ERROR)


def _executor(
    quick: bool,
    workers: int | None,
    address: str | None,
    gpus_per_run: float,
    threads_per_run: int,
    device: str | None,
) -> Any:
    """This process for --workers 1 (and --quick), else Ray: local, or the cluster at address."""
    from_env = address is not None and address == os.environ.get("RAY_ADDRESS")
    if workers is None and quick and address is None:
        workers = 1
    if workers is None and address is None:  # every core, threads_per_run of them a run
        workers = max(1, (os.cpu_count() or 1) // threads_per_run)
    if workers == 1:
        if address is not None and not from_env:
            raise UsageError("--workers 1 runs here without Ray; drop --address or give more")
        if gpus_per_run:
            raise UsageError("--gpus-per-run is for runs on Ray; with --workers 1 use --device")
        from ssvae.runs.campaign import SerialExecutor

        return SerialExecutor(threads_per_run)
    if device not in (None, "cpu"):
        raise UsageError(
            "on Ray a run's device follows --gpus-per-run; --device is for --workers 1"
        )
    from ssvae.runs.ray_executor import RayExecutor, RaySetupError, check_address

    if address is not None:
        try:
            check_address(address.strip())  # before loading data: a typo fails at once
        except RaySetupError as exc:
            raise UsageError(str(exc)) from None
    return RayExecutor(
        workers=workers,
        address=None if address is None else address.strip(),
        gpus_per_run=gpus_per_run,
        threads_per_run=threads_per_run,
    )


def _load(quick: bool, dataset: str, data_dir: Path | None) -> Any:
    if quick:
        from ssvae.data.synthetic import synthetic_dataset

        return synthetic_dataset()
    from ssvae.data.datasets import load_dataset

    return load_dataset(dataset, data_dir, download=False)


def _interrupt(signum: int, frame: Any) -> None:
    """SIGTERM stops a simulation as Ctrl+C does: tasks cancelled, finished rounds kept."""
    raise KeyboardInterrupt
