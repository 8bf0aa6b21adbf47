"""The CLI's actions, each routed to a live server's API or to the files (alctl.cli.offline).

Heavy modules are imported inside the functions that need them; see alctl.cli.main.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from alctl.errors import CliError, UsageError
from ssvae.records.formats import plural

if TYPE_CHECKING:
    from alctl.cli.offline import Files
    from alctl.cli.server_client import LiveServer

__all__ = ["CliError", "Target", "UsageError", "resolve"]


def note(text: str) -> None:
    typer.echo(text, err=True)


@dataclass(frozen=True)
class Target:
    """Where a command acts: a live server (`server` set) or the files of a workspace."""

    workspace: Path
    dataset: str  # as asked ("auto" allowed) or, with a server, the server's dataset
    data_dir: Path | None
    server: LiveServer | None = None

    def files(self) -> Files:
        from alctl.cli.offline import open_files

        return open_files(self.workspace, self.dataset, self.data_dir)


def resolve(workspace: Path, dataset: str, data_dir: Path | None, no_server: bool) -> Target:
    """Find the live server of `workspace` unless `no_server`; its dataset wins."""
    root = workspace.expanduser().absolute()
    if not root.is_dir():
        raise CliError(f"workspace {root} is not a directory; create it or pass --workspace DIR")
    server = None
    if not no_server:
        from alctl.cli.server_client import find_server

        server = find_server(root, note)
    if server is None:
        return Target(root, dataset, data_dir, None)
    if dataset not in ("auto", server.dataset):
        note(f"note: the server on this workspace serves {server.dataset}; using it, not {dataset}")
    return Target(root, server.dataset, data_dir, server)


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
    if not 0 <= serial < n_samples:
        raise CliError(f"serial {serial} is outside the dataset (0..{n_samples - 1})")
    if label is not None and not 0 <= label <= 9:
        raise CliError(f"label {label} for serial {serial} must be 0-9")


def stats_line(stats: dict[str, Any]) -> str:
    from ssvae.records.formats import percent_short

    share = percent_short(stats.get("coverage"), missing="")
    return f"{stats.get('labeled', '?')} labeled" + (f" ({share})" if share else "")


def set_label(target: Target, serial: int, label: int | None) -> None:
    """`alctl label SERIAL LABEL` and `alctl label SERIAL --delete`."""
    if target.server is not None:
        _check(serial, label, int(target.server.status["n_samples"]))
        client = target.server.client
        answer = client.delete_label(serial) if label is None else client.set_label(serial, label)
    else:
        from alctl.cli.offline import set_label as direct_set

        files = target.files()
        _check(serial, label, files.n_samples)
        answer = direct_set(files, serial, label)
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


def import_labels(target: Target, path: Path) -> None:
    """`alctl label --import FILE`: validate the whole file, then apply it at once."""
    if target.server is not None:
        changes = _read_import(path, int(target.server.status["n_samples"]))
        if changes:
            answer = target.server.client.update_labels(changes, source="import")
    else:
        from alctl.cli.offline import import_labels as direct_import

        files = target.files()
        changes = _read_import(path, files.n_samples)
        if changes:
            answer = direct_import(files, changes)
    if not changes:
        typer.echo(f"{path} holds no labels; nothing changed")
        return
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


def list_labels(target: Target, out: Path | None) -> None:
    """`alctl labels` / `alctl label --list`: the CSV on stdout or into `out`."""
    if out is not None:
        out = checked_out(target.workspace, target.dataset, out)
    if target.server is not None:
        text = target.server.client.labels_csv()
    else:
        from alctl.cli.offline import labels_csv

        text = labels_csv(target.files())
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


def train(target: Target, epochs: int | None, hparams: dict[str, Any], *, detach: bool) -> int:
    """`alctl train`: through the server (followed live) or here; returns the exit status."""
    given = {k: v for k, v in hparams.items() if v is not None}
    if target.server is not None:
        from alctl.cli.server_train import train_remote

        return train_remote(target.server.client, epochs, given, detach=detach)
    if detach:
        raise UsageError("--detach needs a running server (start one with `alctl serve`)")
    from alctl.cli.offline_train import train_direct

    return train_direct(target.files(), epochs, given, data_dir=target.data_dir)


def status(target: Target, as_json: bool) -> None:
    """`alctl status [--json]`."""
    from alctl.cli.status_view import render_status, server_status

    if target.server is not None:
        facts = server_status(target.workspace, target.server)
    else:
        from alctl.cli.offline import status as direct_status

        facts = direct_status(target.files())
    if as_json:
        typer.echo(json.dumps(facts, indent=2, default=str))
    else:
        typer.echo(render_status(facts))


def rollback(target: Target) -> None:
    """`alctl rollback`: the previous checkpoint (ssvae.prev.ckpt) becomes current again."""
    if target.server is not None:
        answer = target.server.client.rollback()
    else:
        from alctl.report.loss_plot import redraw_loss_curves
        from ssvae.io.rollback import rollback_checkpoint

        ws = target.files().workspace
        what = f"`alctl rollback` (pid {os.getpid()})"
        ckpt = rollback_checkpoint(ws.checkpoint, ws.dataset, ws.history_csv, what=what)
        problem = redraw_loss_curves(ws.loss_plot, ckpt.history)
        if problem is not None:
            note(f"warning: {problem}")
        answer = {"checkpoint": str(ws.checkpoint), "epochs_trained": ckpt.epochs_trained}
    typer.echo(
        f"restored the previous checkpoint ({plural(answer.get('epochs_trained'), 'epoch')}) as "
        f"{answer.get('checkpoint')}; run `alctl rollback` again to undo"
    )


def report(workspace: Path, dataset: str, data_dir: Path | None, out: Path) -> None:
    """`alctl report`: built from the files; a live server only decides the dataset."""
    from alctl.report.build import write_report

    target = resolve(workspace, dataset, data_dir, no_server=False)
    out = checked_out(target.workspace, target.dataset, out)
    path = write_report(target.workspace, target.dataset, out, data_dir=data_dir)
    note(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
