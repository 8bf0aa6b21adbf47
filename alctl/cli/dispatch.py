"""The CLI's actions, each done through a Backend (alctl.cli.backend): a live server's API
or the workspace files. Nothing here asks which one it has.

Heavy modules are imported inside the functions that need them; see alctl.cli.main.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from alctl.cli.backend import Backend, note, resolve
from alctl.errors import CliError, UsageError
from ssvae.records.formats import plural

__all__ = ["Backend", "CliError", "UsageError", "resolve"]


def decimal(text: str, what: str) -> int:
    """A SERIAL or LABEL argument: ASCII digits only (`int()` would take '٣', '+5', '1_0')."""
    from ssvae.io.strict_input import clip, parse_decimal

    try:
        return parse_decimal(text, what)
    except ValueError:
        raise typer.BadParameter(
            f"{clip(repr(text))} is not a whole number written with the digits 0-9.",
            param_hint=f"'{what}'",
        ) from None


def _check(serial: int, label: int | None, n_samples: int) -> None:
    # The server checks too; checking here gives the same words as LabelStore in both modes
    # (a negative serial would otherwise be a routing 404).
    from ssvae.config import LABEL_WORDS, is_label

    if not 0 <= serial < n_samples:
        raise CliError(f"serial {serial} is outside the dataset (0..{n_samples - 1})")
    if label is not None and not is_label(label):
        raise CliError(f"label {label} for serial {serial} must be {LABEL_WORDS}")


def stats_line(stats: dict[str, Any]) -> str:
    from ssvae.records.formats import percent_short

    share = percent_short(stats.get("coverage"), missing="")
    return f"{stats.get('labeled', '?')} labeled" + (f" ({share})" if share else "")


def set_label(backend: Backend, serial: int, label: int | None) -> None:
    """`alctl label SERIAL LABEL` and `alctl label SERIAL --delete`."""
    _check(serial, label, backend.n_samples())
    answer = backend.set_label(serial, label)
    previous = answer.get("previous")
    was = "was unlabeled" if previous is None else f"was {previous}"
    if label is None:
        head = (
            f"serial {serial}: no label to delete"
            if previous is None
            else (f"serial {serial}: label deleted ({was})")
        )
    else:
        head = f"serial {serial}: label {label} ({was})"
    typer.echo(f"{head}; {stats_line(answer.get('stats') or {})}")


def import_labels(backend: Backend, path: Path) -> None:
    """`alctl label --import FILE`: validate the whole file, then apply it at once."""
    changes = _read_import(path, backend.n_samples())
    if not changes:
        typer.echo(f"{path} holds no labels; nothing changed")
        return
    answer = backend.import_labels(changes)
    changed = answer.get("changed")
    count = len(changed) if isinstance(changed, (list, dict)) else changed
    typer.echo(
        f"imported {plural(len(changes), 'label')} from {path} ({count} changed); "
        f"{stats_line(answer.get('stats') or {})}"
    )


def _read_import(path: Path, n_samples: int) -> dict[int, int]:
    """The file streamed and checked (ssvae.io.label_import), with progress when it is big."""
    from alctl.cli.progress import ReadProgress
    from ssvae.io.label_import import read_import

    progress = ReadProgress(str(path))
    try:
        return read_import(path, n_samples, progress=progress)
    finally:
        progress.done()


def list_labels(backend: Backend, out: Path | None) -> None:
    """`alctl labels` / `alctl label --list`: the CSV on stdout or into `out`."""
    if out is not None:
        out = checked_out(backend.workspace, backend.dataset, out)
    text = backend.labels_csv()
    if out is None:
        sys.stdout.write(text)
        return
    from ssvae.io.atomic import atomic_write_text

    atomic_write_text(out, text)
    count = max(0, len(text.strip().splitlines()) - 1)
    note(f"wrote {plural(count, 'label')} to {out}")


def checked_out(workspace: Path, dataset: str, out: Path) -> Path:
    """Every `--out`: refused (exit 1, nothing written) when it names a state file of the
    workspace (labels, checkpoints, history, cache, server file), however it names it."""
    from ssvae.io.workspace import check_output

    return check_output(out, workspace, None if dataset == "auto" else dataset)


def parse_hparams(given: dict[str, Any]) -> dict[str, Any]:
    """The `alctl train` options given, checked (text: parsed) by the hyperparameter schema."""
    from ssvae.config import SESSION_PARAMS

    def one(name: str, value: Any) -> Any:
        param = SESSION_PARAMS[name]
        return param.parse(value) if isinstance(value, str) else param.check(value)

    return {k: one(k, v) for k, v in given.items() if v is not None}


def train(
    backend: Backend,
    epochs: int | None,
    hparams: dict[str, Any],
    *,
    detach: bool,
    threads: int | None = None,
) -> int:
    """`alctl train`: through the server (followed live) or here; returns the exit status."""
    given = {k: v for k, v in hparams.items() if v is not None}
    return backend.train(epochs, given, detach=detach, threads=threads)


def status(backend: Backend, as_json: bool) -> None:
    """`alctl status [--json]`."""
    from alctl.cli.status_view import render_status

    facts = backend.status()
    if as_json:
        typer.echo(json.dumps(facts, indent=2, default=str))
    else:
        typer.echo(render_status(facts))


def rollback(backend: Backend) -> None:
    """`alctl rollback`: the previous checkpoint (ssvae.prev.ckpt) becomes current again."""
    answer = backend.rollback()
    typer.echo(
        f"restored the previous checkpoint ({plural(answer.get('epochs_trained'), 'epoch')}) as "
        f"{answer.get('checkpoint')}; run `alctl rollback` again to undo"
    )


def report(workspace: Path, dataset: str, data_dir: Path | None, out: Path) -> None:
    """`alctl report`: built from the files; a live server only decides the dataset."""
    from alctl.report.build import write_report

    backend = resolve(workspace, dataset, data_dir, no_server=False)
    out = checked_out(backend.workspace, backend.dataset, out)
    path = write_report(backend.workspace, backend.dataset, out, data_dir=data_dir)
    note(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


def suggest(backend: Backend, strategy: str | None, n: int, as_json: bool) -> None:
    """`alctl suggest`: the head of the labeling queue, the page's order."""
    from alctl.cli.suggest import render
    from alctl.queue_request import check_request

    try:
        strategy, n = check_request(strategy, n)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    head = backend.queue(strategy, n)
    typer.echo(json.dumps(head, indent=2) if as_json else render(head))


def evaluate(backend: Backend, as_json: bool) -> None:
    """`alctl evaluate`: per-class accuracy and the confusion matrix on the test split."""
    from alctl.cli.evaluate import render

    answer = backend.evaluation()
    typer.echo(json.dumps(answer, indent=2) if as_json else render(answer))


def decode(
    backend: Backend, xy: tuple[float, float] | None, grid: int | None, out: Path | None
) -> list[str]:
    """`alctl decode`: decode and write `out` (PNG) if given; returns the lines to print."""
    from alctl.cli.decode import ascii_image
    from alctl.decode_request import parse_body, point_body
    from alctl.images import png_bytes
    from ssvae.io.atomic import atomic_write
    from ssvae.nn.decode import tile

    if xy is not None:  # refused before a checkpoint loads or a request goes out
        parse_body(point_body(*xy))
    result = backend.decode(xy, grid)
    lines = []
    if grid is not None:
        assert result.bounds is not None
        x0, x1, y0, y1 = result.bounds
        image = tile(result.images, grid)
        lines.append(
            f"{grid}×{grid} manifold over x {x0:.3g}..{x1:.3g}, y {y0:.3g}..{y1:.3g} "
            "(the square around the training points in the 2-D view; top row = largest y)"
        )
    else:
        image = result.images[0]
        x, y = (float(v) for v in result.view[0])
        where = f"({x:.4g}, {y:.4g})"
        if result.latent is not None and len(result.latent[0]) != 2:
            where += f" = latent [{', '.join(f'{v:.3g}' for v in result.latent[0])}]"
        if result.pred is not None and result.certainty is not None:
            cls = result.pred[0]
            name = result.class_names[cls] if cls < len(result.class_names) else str(cls)
            lines.append(f"{where}: predicted {cls} · {name} ({result.certainty[0]:.0%} certain)")
        else:
            lines.append(f"{where}: {result.note}")
        if out is None:
            lines.append(ascii_image(image))
    if out is not None:
        with atomic_write(out, perms=0o644) as handle:
            handle.write(png_bytes(image))
        lines.append(f"wrote {out} ({image.shape[1]}×{image.shape[0]} px)")
    return lines
