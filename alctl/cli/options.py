"""The options `alctl` commands share, declared once: --workspace, --dataset, --data-dir and
--no-server (`on_workspace`), and one option per session hyperparameter of the schema
(`with_session_options`).

Both rewrite a command's signature, which is what Typer reads: the command itself takes one
`where: Where` (or `**hparams`) and resolves the server or the files only when it needs to,
so its own usage errors still come first.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from alctl.cli.backend import Backend


class DatasetName(str, Enum):
    auto = "auto"
    mnist = "mnist"
    fashion_mnist = "fashion-mnist"


WorkspaceOpt = Annotated[
    Path,
    typer.Option(
        "--workspace",
        "-w",
        envvar="ALCTL_WORKSPACE",
        file_okay=False,
        help="Workspace directory (labels, checkpoint, server file).",
    ),
]
DatasetOpt = Annotated[
    DatasetName,
    typer.Option(
        "--dataset",
        "-d",
        help="Dataset; 'auto' picks MNIST when available, else Fashion-MNIST. "
        "A running server's dataset wins.",
    ),
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", file_okay=False, help="Directory holding the 4 IDX files."),
]
NoServerOpt = Annotated[
    bool,
    typer.Option("--no-server", help="Work on the files even when a server is running."),
]


@dataclass(frozen=True)
class Where:
    """The shared options as given: where a command acts, not yet resolved."""

    workspace: Path
    dataset: str  # "auto" allowed
    data_dir: Path | None
    no_server: bool = False

    def backend(self) -> Backend:
        """The live server of the workspace (unless --no-server), else its files."""
        from alctl.cli.backend import resolve

        return resolve(self.workspace, self.dataset, self.data_dir, self.no_server)


def _keyword(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def _with_signature(command: Callable[..., Any], call: Callable[..., Any], params: list) -> Any:
    """`call` under `command`'s name and docstring, with `params` as Typer's signature."""
    wrapper = functools.wraps(command)(call)
    wrapper.__signature__ = inspect.Signature(params)
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def on_workspace(*, no_server: bool = True) -> Callable[[Callable[..., Any]], Any]:
    """Give a command the shared options --workspace, --dataset, --data-dir and, unless
    `no_server` is False, --no-server. It receives them as one keyword-only `where: Where`,
    whose place among its parameters is where `--help` lists them."""

    def decorate(command: Callable[..., Any]) -> Any:
        shared = [
            _keyword("workspace", WorkspaceOpt, Path(".")),
            _keyword("dataset", DatasetOpt, DatasetName.auto),
            _keyword("data_dir", DataDirOpt, None),
        ]
        if no_server:
            shared.append(_keyword("no_server", NoServerOpt, False))
        params: list[inspect.Parameter] = []
        for param in inspect.signature(command, eval_str=True).parameters.values():
            params.extend(shared if param.name == "where" else [param])

        def call(
            *args: Any,
            workspace: Path,
            dataset: DatasetName,
            data_dir: Path | None,
            no_server: bool = False,
            **kwargs: Any,
        ) -> Any:
            where = Where(workspace, dataset.value, data_dir, no_server)
            return command(*args, where=where, **kwargs)

        return _with_signature(command, call, params)

    return decorate


def with_session_options(command: Callable[..., Any]) -> Any:
    """`command` with one option per session hyperparameter of the schema (--epochs, ...),
    first; they arrive in its `**hparams`.

    The values arrive as text and are parsed by the schema itself, so `alctl train`, the
    API, the page and scripts/train.py accept and refuse exactly the same values.
    """
    from ssvae.config import SESSION_PARAMS

    signature = inspect.signature(command, eval_str=True)
    fixed = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    options = []
    for name, param in SESSION_PARAMS.items():
        kind = {"int": int, "float": float}.get(param.kind, str)
        # Whole numbers get typer's own range check and message (exit 2); typer cannot say
        # "above 0" or refuse NaN, so numbers are left to the schema (one line, exit 1),
        # which checks every value again before anything runs.
        bounds = {"min": param.low, "max": param.high} if kind is int else {}
        info = typer.Option(
            "--" + name.replace("_", "-"),
            help=f"{param.help} [{param.describe()}; default: as last time]",
            show_default=False,
            **bounds,
        )
        options.append(_keyword(name, Annotated[kind | None, info], None))  # type: ignore[valid-type]
    fixed = [p.replace(kind=p.KEYWORD_ONLY) for p in fixed]

    def call(**kwargs: Any) -> Any:
        return command(**kwargs)

    return _with_signature(command, call, [*options, *fixed])
