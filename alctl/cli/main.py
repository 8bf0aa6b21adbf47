"""The `alctl` command line: every dashboard action from the shell.

Thin by design: each command finds a live server through the workspace's discovery file and
goes through its HTTP API, or else works on the files directly (alctl.cli.offline). Imports are
lazy so that `alctl status` and `alctl label` never pay for torch, numpy or starlette when a
server answers.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Annotated, Any

import typer

from alctl.cli import dispatch
from alctl.cli.options import Where, on_workspace, with_session_options
from alctl.cli.simulate import simulate
from alctl.errors import EXIT_OK, fail_cleanly, finish_stdout
from ssvae.config.blas import one_blas_thread

OutOpt = Annotated[
    Path | None, typer.Option("--out", "-o", dir_okay=False, help="Write to FILE instead.")
]
ThreadsOpt = Annotated[
    int | None,
    typer.Option(
        "--threads",
        min=1,
        help="Torch threads for training (default: chosen for the machine and what else runs;"
        " OMP_NUM_THREADS also sets it).",
        show_default=False,
    ),
]


@on_workspace(no_server=False)
def serve(
    *,
    where: Where,
    host: Annotated[str, typer.Option(help="Address to bind; keep loopback.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0 = any free).")] = 8050,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page.")] = False,
    threads: ThreadsOpt = None,
) -> None:
    """Run the dashboard for a workspace.

    \b
    Examples:
      alctl serve
      alctl serve --workspace runs/a --dataset fashion-mnist --port 8060 --open
    """
    from alctl.server.run import exit_process, run_server

    with fail_cleanly():
        code = run_server(
            where.workspace,
            dataset=where.dataset,
            host=host,
            port=port,
            open_browser=open_browser,
            data_dir=where.data_dir,
            echo=print,
            threads=threads,
        )
    if code in (0, 130):  # served and stopped, or stopped while starting: see exit_process
        exit_process(code)
    raise typer.Exit(code)


@on_workspace()
def label(
    serial: Annotated[
        str | None, typer.Argument(metavar="SERIAL", help="Row of the training split.")
    ] = None,
    value: Annotated[str | None, typer.Argument(metavar="LABEL", help="Class 0-9.")] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove SERIAL's label.")] = False,
    import_file: Annotated[
        Path | None,
        typer.Option("--import", dir_okay=False, help="Set many labels from a Serial,label CSV."),
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="Print all labels as CSV.")] = False,
    out: OutOpt = None,
    *,
    where: Where,
) -> None:
    """Set, delete, import or list labels (a running page sees it live).

    An import is validated as a whole first: the whole file is applied or nothing.

    \b
    Examples:
      alctl label 1234 7
      alctl label 1234 --delete
      alctl label --import more_labels.csv
      alctl label --list --out labels_backup.csv
    """
    modes = [value is not None, delete, import_file is not None, list_]
    # Refused like typer refuses a non-number (exit 2), but only ASCII digits: int() takes
    # '٣', '+5', '1_0' and ' 5'.
    number = None if serial is None else dispatch.decimal(serial, "SERIAL")
    label = None if value is None else dispatch.decimal(value, "LABEL")
    with fail_cleanly():
        if (
            sum(modes) != 1
            or (list_ and serial is not None)
            or (import_file and serial is not None)
        ):
            raise dispatch.UsageError(
                "give exactly one of: SERIAL LABEL, SERIAL --delete, --import FILE, --list"
            )
        if out is not None and not list_:
            raise dispatch.UsageError("--out goes with --list")
        backend = where.backend()
        if list_:
            dispatch.list_labels(backend, out)
        elif import_file is not None:
            dispatch.import_labels(backend, import_file)
        elif number is None:
            raise dispatch.UsageError("give the SERIAL to label, e.g. `alctl label 1234 7`")
        else:
            dispatch.set_label(backend, number, None if delete else label)


@on_workspace()
def labels(
    out: OutOpt = None,
    *,
    where: Where,
) -> None:
    """Print all labels as CSV (Serial,label), or write them to --out.

    \b
    Examples:
      alctl labels > labels.csv
      alctl labels --out backup.csv
    """
    with fail_cleanly():
        dispatch.list_labels(where.backend(), out)


@on_workspace()
def train(
    detach: Annotated[
        bool, typer.Option("--detach", help="Return once the server accepted the start.")
    ] = False,
    threads: ThreadsOpt = None,
    *,
    where: Where,
    **hparams: Any,
) -> None:
    """Train one session, continuing from the checkpoint (omitted settings stay as they were).

    With a server the page shows the session and this command follows it; Ctrl+C asks
    whether to stop the session or detach. Without one it trains here and saves the
    checkpoint and history like the server does; Ctrl+C stops after the current batch
    and still saves.

    Exit status: 0 completed or early-stopped, 1 error (also: a session already running),
    3 failed, 4 stopped.

    \b
    Examples:
      alctl train --epochs 20
      alctl train --epochs 10 --kl-weight 0.5 --learning-rate 3e-4
      alctl train --epochs 50 --detach
    """
    with fail_cleanly():
        values = dispatch.parse_hparams(hparams)
        epochs = values.pop("epochs", None)
        backend = where.backend()
        code = dispatch.train(backend, epochs, values, detach=detach, threads=threads)
    raise typer.Exit(code)


@on_workspace()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    *,
    where: Where,
) -> None:
    """Show dataset, labels, checkpoint and server state.

    \b
    Examples:
      alctl status
      alctl status --json | jq .labels.labeled
    """
    with fail_cleanly():
        dispatch.status(where.backend(), as_json)


@on_workspace()
def rollback(
    *,
    where: Where,
) -> None:
    """Go back to the previous checkpoint (kept as ssvae.prev.ckpt at every save).

    The two files swap places, so running it again undoes it.

    \b
    Examples:
      alctl rollback
    """
    with fail_cleanly():
        dispatch.rollback(where.backend())


@on_workspace(no_server=False)
def report(
    out: Annotated[
        Path, typer.Option("--out", "-o", dir_okay=False, help="The HTML file to write.")
    ] = Path("alctl-report.html"),
    *,
    where: Where,
) -> None:
    """Write a static, self-contained HTML report of the current model (works offline).

    Latent scatter by label and by prediction, loss curves, label statistics, test accuracy
    and confusion matrix, the most uncertain unlabeled samples, hyperparameters. Made from
    the files alone; a running server is not needed.

    \b
    Examples:
      alctl report
      alctl report --out reports/after-round-3.html
    """
    with fail_cleanly():
        dispatch.report(where.workspace, where.dataset, where.data_dir, out)


@on_workspace()
def suggest(
    n: Annotated[int, typer.Option("-n", "--count", min=1, max=1000, help="How many.")] = 20,
    strategy: Annotated[
        str | None,
        typer.Option(
            help="least_confidence, margin, entropy, random, diverse or typical (the page's"
            " chooser) [default: the page's default, ssvae.select.ranking.DEFAULT_STRATEGY].",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    *,
    where: Where,
) -> None:
    """Print the head of the labeling queue: serial, prediction, certainty, score.

    The same order as the page's queue for the same checkpoint and labels; labeled samples
    never appear. Before the model has trained the order is random, and it says so.

    \b
    Examples:
      alctl suggest -n 20
      alctl suggest --strategy margin --json | jq '.items[].serial'
    """
    with fail_cleanly():
        backend = where.backend()
        dispatch.suggest(backend, strategy, n, as_json)


@on_workspace()
def evaluate(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    *,
    where: Where,
) -> None:
    """Per-class accuracy and the confusion matrix of the model on the test split.

    The numbers the page's Evaluate dialog shows: with a server, its current model; without
    one, the checkpoint on disk (the same weights once a session is saved).

    \b
    Examples:
      alctl evaluate
      alctl evaluate --json | jq '.per_class[] | [.name, .accuracy]'
    """

    with fail_cleanly():
        dispatch.evaluate(where.backend(), as_json)


@on_workspace()
def decode(
    x: Annotated[float | None, typer.Argument(help="X in the model's 2-D view.")] = None,
    y: Annotated[float | None, typer.Argument(help="Y in the model's 2-D view.")] = None,
    grid: Annotated[
        int | None,
        typer.Option(
            "--grid",
            min=1,
            max=32,
            help="An N×N manifold around the training points.",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", dir_okay=False, help="Write a PNG here.")
    ] = None,
    *,
    where: Where,
) -> None:
    """Draw what the decoder makes of a point of the latent plane, or a manifold grid.

    X Y are coordinates of the model's 2-D view: the latent itself when latent_dim is 2,
    else the first two principal components with every other component at the data's mean
    (the axes of the report's scatters). Negative numbers work as they are (`-1.5 0.3`).

    \b
    Examples:
      alctl decode 0.5 -1.2
      alctl decode 0.5 -1.2 --out point.png
      alctl decode --grid 20 --out manifold.png
    """
    with fail_cleanly():
        if grid is None and (x is None or y is None):
            raise dispatch.UsageError("give X and Y, or --grid N (e.g. `alctl decode --grid 20`)")
        if grid is not None and x is not None:
            raise dispatch.UsageError("give X Y or --grid N, not both")
        if grid is not None and out is None:
            out = Path("manifold.png")
        backend = where.backend()

        point = None if x is None or y is None else (x, y)
        if out is not None:
            out = dispatch.checked_out(backend.workspace, backend.dataset, out)
        for line in dispatch.decode(backend, point, grid, out):
            typer.echo(line)


def create_cli() -> typer.Typer:
    """The Typer app (a factory, so importing this module has no side effects)."""
    app = typer.Typer(
        name="alctl",
        help="Active-learning workbench for a semi-supervised VAE: dashboard and CLI.",
        no_args_is_help=True,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.command()(serve)
    app.command()(label)
    app.command()(labels)
    app.command(name="train")(with_session_options(train))
    app.command()(status)
    app.command()(report)
    app.command()(suggest)
    app.command()(evaluate)
    app.command()(rollback)
    # Unknown "-1.5" tokens are the arguments X Y, not options.
    app.command(context_settings={"ignore_unknown_options": True})(decode)
    app.command()(simulate)
    return app


def main() -> None:
    """The `alctl` console script (also behind `python -m alctl`)."""
    # First: numpy must not be imported before this (ssvae.config.blas says why).
    one_blas_thread()
    from typer.main import get_command

    from alctl.cli.params import install

    command = get_command(create_cli())
    install(command)  # ~0.2 s less per command; see alctl.cli.params
    try:
        command(prog_name="alctl")
    except SystemExit as done:
        # Output still buffered for a reader that has gone is dropped quietly; click ends a
        # help text cut off that way with exit 1 (raised while handling the BrokenPipeError).
        if finish_stdout() and isinstance(done.__context__, BrokenPipeError):
            raise SystemExit(EXIT_OK) from None
        raise
    finally:
        # The command is done; spare the interpreter's final garbage collection over torch's
        # many objects (seconds on a busy machine: a Ctrl+C'd training took that long to end).
        gc.freeze()
