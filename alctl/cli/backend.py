"""Where a CLI command acts: a live server over HTTP, or the workspace files directly.

`resolve()` picks one; the commands (alctl.cli.dispatch and friends) call the `Backend`
protocol and never ask which one they hold. Both answer in the shapes of the HTTP API, so
every command prints the same either way. Heavy modules (torch, numpy) are imported inside
the file backend's methods that need them; the server backend needs the standard library
only, so `alctl status` and `alctl label` stay fast while a server runs.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import typer

from alctl.errors import CliError, UsageError

if TYPE_CHECKING:
    from alctl.cli.decode import DecodedPoints
    from alctl.cli.offline import Files
    from alctl.cli.server_client import LiveServer

Point = tuple[float, float]


class Backend(Protocol):
    """What every command needs from where it acts (answers as the HTTP API shapes them)."""

    workspace: Path  # absolute
    data_dir: Path | None

    @property
    def dataset(self) -> str:
        """The dataset: the server's, or as asked ("auto" allowed) for the files."""
        ...

    def n_samples(self) -> int: ...

    def set_label(self, serial: int, label: int | None) -> dict[str, Any]:
        """`{previous, stats}`; None deletes."""
        ...

    def import_labels(self, changes: Mapping[int, int | None]) -> dict[str, Any]:
        """All or nothing: `{changed, stats}`."""
        ...

    def labels_csv(self) -> str: ...

    def train(
        self,
        epochs: int | None,
        hparams: dict[str, Any],
        *,
        detach: bool,
        threads: int | None = None,
    ) -> int:
        """One session, followed to its end; the exit status (`threads`: --threads)."""
        ...

    def status(self) -> dict[str, Any]:
        """The facts of alctl.cli.status_view."""
        ...

    def rollback(self) -> dict[str, Any]:
        """`{checkpoint, epochs_trained}` of the restored checkpoint."""
        ...

    def queue(self, strategy: str, n: int) -> dict[str, Any]: ...

    def evaluation(self) -> dict[str, Any]: ...

    def decode(self, xy: Point | None, grid: int | None) -> DecodedPoints: ...


def note(text: str) -> None:
    typer.echo(text, err=True)


@dataclass(frozen=True)
class ServerBackend:
    """A live server of the workspace: every action is one of its API calls."""

    workspace: Path
    data_dir: Path | None
    server: LiveServer

    @property
    def dataset(self) -> str:
        return self.server.dataset

    def n_samples(self) -> int:
        return int(self.server.status["n_samples"])

    def set_label(self, serial: int, label: int | None) -> dict[str, Any]:
        client = self.server.client
        return client.delete_label(serial) if label is None else client.set_label(serial, label)

    def import_labels(self, changes: Mapping[int, int | None]) -> dict[str, Any]:
        return self.server.client.update_labels(changes, source="import")

    def labels_csv(self) -> str:
        return self.server.client.labels_csv()

    def train(
        self,
        epochs: int | None,
        hparams: dict[str, Any],
        *,
        detach: bool,
        threads: int | None = None,
    ) -> int:
        from alctl.cli.server_train import train_remote

        if threads is not None:
            raise UsageError(
                f"--threads sets training here; the server at {self.server.client.url} "
                "chooses its own (`alctl serve --threads N`), or add --no-server"
            )
        return train_remote(self.server.client, epochs, hparams, detach=detach)

    def status(self) -> dict[str, Any]:
        from alctl.cli.status_view import server_status

        return server_status(self.workspace, self.server)

    def rollback(self) -> dict[str, Any]:
        return self.server.client.rollback()

    def queue(self, strategy: str, n: int) -> dict[str, Any]:
        return self.server.client.queue(strategy, n)

    def evaluation(self) -> dict[str, Any]:
        return self.server.client.evaluation()

    def decode(self, xy: Point | None, grid: int | None) -> DecodedPoints:
        from alctl.cli.decode import decode_via_server

        return decode_via_server(self.server, xy, grid)


@dataclass(frozen=True)
class FilesBackend:
    """The workspace's files, with the library's own locked, atomic writers (no server)."""

    workspace: Path
    dataset: str  # as asked: "auto" is resolved by `files`
    data_dir: Path | None

    @functools.cached_property
    def files(self) -> Files:
        """The concrete dataset (an "auto" resolved) and its size, read from the IDX header."""
        from alctl.cli.offline import open_files

        return open_files(self.workspace, self.dataset, self.data_dir)

    def n_samples(self) -> int:
        return self.files.n_samples

    def set_label(self, serial: int, label: int | None) -> dict[str, Any]:
        from alctl.cli.offline import set_label

        return set_label(self.files, serial, label)

    def import_labels(self, changes: Mapping[int, int | None]) -> dict[str, Any]:
        from alctl.cli.offline import import_labels

        return import_labels(self.files, changes)

    def labels_csv(self) -> str:
        from alctl.cli.offline import labels_csv

        return labels_csv(self.files)

    def train(
        self,
        epochs: int | None,
        hparams: dict[str, Any],
        *,
        detach: bool,
        threads: int | None = None,
    ) -> int:
        if detach:
            raise UsageError("--detach needs a running server (start one with `alctl serve`)")
        from alctl.cli.offline_train import train_direct
        from ssvae.train.threads import user_threads

        try:
            user_threads(threads)  # a bad OMP_NUM_THREADS is one line, before the data loads
        except ValueError as exc:
            raise CliError(str(exc)) from None
        return train_direct(self.files, epochs, hparams, data_dir=self.data_dir, threads=threads)

    def status(self) -> dict[str, Any]:
        from alctl.cli.offline import status

        return status(self.files)

    def rollback(self) -> dict[str, Any]:
        from alctl.report.loss_plot import redraw_loss_curves
        from ssvae.io.rollback import rollback_checkpoint

        ws = self.files.workspace
        what = f"`alctl rollback` (pid {os.getpid()})"
        ckpt = rollback_checkpoint(ws.checkpoint, ws.dataset, ws.history_csv, what=what)
        problem = redraw_loss_curves(ws.loss_plot, ckpt.history)
        if problem is not None:
            note(f"warning: {problem}")
        return {"checkpoint": str(ws.checkpoint), "epochs_trained": ckpt.epochs_trained}

    def queue(self, strategy: str, n: int) -> dict[str, Any]:
        from alctl.cli.suggest import offline_queue

        return offline_queue(self.files, strategy, n, self.data_dir)

    def evaluation(self) -> dict[str, Any]:
        from alctl.cli.evaluate import offline_evaluation

        return offline_evaluation(self.files, self.data_dir)

    def decode(self, xy: Point | None, grid: int | None) -> DecodedPoints:
        from alctl.cli.decode import decode_offline

        return decode_offline(self.files, self.data_dir, xy, grid)


def resolve(workspace: Path, dataset: str, data_dir: Path | None, no_server: bool) -> Backend:
    """The live server of `workspace` unless `no_server` (its dataset wins), else its files."""
    root = workspace.expanduser().absolute()
    if not root.is_dir():
        raise CliError(f"workspace {root} is not a directory; create it or pass --workspace DIR")
    server = None
    if not no_server:
        from alctl.cli.server_client import find_server

        server = find_server(root, note)
    if server is None:
        return FilesBackend(root, dataset, data_dir)
    if dataset not in ("auto", server.dataset):
        note(f"note: the server on this workspace serves {server.dataset}; using it, not {dataset}")
    return ServerBackend(root, data_dir, server)
