"""Turn the errors a user can fix into one line on stderr and exit status 1 (no traceback)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer

EXIT_ERROR = 1
EXIT_FAILED = 3
EXIT_STOPPED = 4
EXIT_INTERRUPTED = 130

# The library's error types, looked up only if their module is already imported: an error
# from a module can only exist once it is loaded, and importing it here would pull in torch.
_LIBRARY_ERRORS = (
    ("ssvae.labels", "LabelError"),
    ("ssvae.checkpoint", "CheckpointError"),
    ("ssvae.data", "DataNotFoundError"),
    ("ssvae.idx", "IDXError"),
)


class CliError(Exception):
    """A problem the user can fix; the message says how."""


class UsageError(CliError):
    """Options that do not go together."""


def _known_errors() -> tuple[type[BaseException], ...]:
    from alctl.cli.server_client import ServerError

    known: list[type[BaseException]] = [CliError, ServerError, ValueError, OSError]
    for module_name, class_name in _LIBRARY_ERRORS:
        module = sys.modules.get(module_name)
        error = getattr(module, class_name, None) if module is not None else None
        if isinstance(error, type):
            known.append(error)
    return tuple(known)


def error_line(exc: BaseException) -> str:
    """The message of `exc` as one line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"error: {text}"


@contextmanager
def fail_cleanly() -> Iterator[None]:
    """Print known errors as one line and exit 1; Ctrl+C exits 130 quietly.

    Unexpected errors are reported the same way unless ALCTL_DEBUG is set, which re-raises
    them with their traceback.
    """
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as exc:
        if os.environ.get("ALCTL_DEBUG"):
            raise
        if isinstance(exc, _known_errors()):
            typer.echo(error_line(exc), err=True)
        else:
            typer.echo(
                f"{error_line(exc)} (unexpected {type(exc).__name__}; "
                "ALCTL_DEBUG=1 shows the traceback)",
                err=True,
            )
        raise typer.Exit(EXIT_ERROR) from None
