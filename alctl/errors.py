"""How `alctl` ends: exit codes, and one line on stderr for the errors a user can fix.

Only errors raised on purpose for bad input or a bad environment become one line and exit
status 1: our own (CliError, ServerError, StartupError, DecodeRequestError), the library's
(LabelError, StateFileError, CheckpointError, DataError, IDXError, HyperparameterError,
DownloadError) and OSErrors
that name a file (permission, missing directory, full disk). Anything else is a bug: one
line saying so, how to see the traceback, and exit status 70. ALCTL_DEBUG=1 re-raises.
A reader of stdout that has gone (`alctl decode 0 0 | head -c 10`) is a normal end: exit 0,
nothing on stderr.
"""

from __future__ import annotations

import os
import select
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

EXIT_OK = 0
EXIT_ERROR = 1  # a problem the message says how to fix (also: a session already running)
EXIT_USAGE = 2  # options typer refuses before anything runs
EXIT_FAILED = 3  # a training session failed (e.g. the loss became NaN)
EXIT_STOPPED = 4  # a training session was stopped
EXIT_BUG = 70  # an unexpected error inside alctl (BSD's EX_SOFTWARE)
EXIT_INTERRUPTED = 130  # Ctrl+C

# Exit status of `alctl train` for a session's end status.
EXIT_BY_STATUS = {
    "completed": EXIT_OK,
    "early_stopped": EXIT_OK,
    "failed": EXIT_FAILED,
    "stopped": EXIT_STOPPED,
}

# Error types raised on purpose, looked up only if their module is already imported: an
# error from a module can only exist once it is loaded, and importing it here would pull
# in torch or starlette.
_USER_ERRORS = (
    ("alctl.cli.server_client", "ServerError"),
    ("alctl.server.run", "StartupError"),
    ("alctl.decode_request", "DecodeRequestError"),
    ("ssvae.io.labels", "LabelError"),
    ("ssvae.io.workspace", "StateFileError"),
    ("ssvae.io.checkpoint", "CheckpointError"),
    ("ssvae.io.checkpoint_lock", "Busy"),
    ("ssvae.data.datasets", "DataError"),
    ("ssvae.data.download", "DownloadError"),
    ("ssvae.data.idx", "IDXError"),
    ("ssvae.config.hparams", "HyperparameterError"),
    ("ssvae.runs.ray_executor", "RaySetupError"),
)


class CliError(Exception):
    """A problem the user can fix; the message says how."""


class UsageError(CliError):
    """Options that do not go together."""


def exit_code(result: dict[str, Any]) -> int:
    """The exit status of `alctl train` and scripts/train.py for how a session ended: a
    TrainResult dict, with `save_error` when the session trained but was not saved."""
    code = EXIT_BY_STATUS.get(str(result.get("status")), EXIT_ERROR)
    if code == EXIT_OK and result.get("save_error"):
        return EXIT_ERROR  # trained, but nothing of it is on disk: a problem to fix
    return code


def is_user_error(exc: BaseException) -> bool:
    """True for errors raised on purpose for bad input (see the module docstring)."""
    if isinstance(exc, CliError):
        return True
    if isinstance(exc, OSError) and exc.filename is not None:
        return True
    for module_name, class_name in _USER_ERRORS:
        module = sys.modules.get(module_name)
        error = getattr(module, class_name, None) if module is not None else None
        if isinstance(error, type) and isinstance(exc, error):
            return True
    return False


def error_line(exc: BaseException) -> str:
    """The message of `exc` as one line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"error: {text}"


@contextmanager
def fail_cleanly() -> Iterator[None]:
    """User errors: one line, exit 1. Bugs: a line and a traceback hint, exit 70.

    Ctrl+C exits 130 quietly; ALCTL_DEBUG set re-raises everything with its traceback.
    """
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as exc:
        if isinstance(exc, BrokenPipeError) and stdout_closed():
            quiet_stdout()
            raise typer.Exit(EXIT_OK) from None
        if os.environ.get("ALCTL_DEBUG"):
            raise
        if is_user_error(exc):
            typer.echo(error_line(exc), err=True)
            raise typer.Exit(EXIT_ERROR) from None
        typer.echo(
            f"{error_line(exc)}\n"
            f"This is a bug in alctl (unexpected {type(exc).__name__}). Run again with "
            "ALCTL_DEBUG=1 to see the traceback, and report it with that.",
            err=True,
        )
        raise typer.Exit(EXIT_BUG) from None


def stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has gone (`| head` after head exited): Linux
    flags the write end with POLLERR then. A BrokenPipeError from elsewhere (a socket to the
    server) is not this, and stays an error."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    poll = select.poll()
    poll.register(fd, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poll.poll(0))


def quiet_stdout() -> None:
    """Send what is still to be printed to /dev/null: nobody reads it any more, and the
    interpreter's last flush would otherwise fail loudly (exit 120)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def finish_stdout() -> bool:
    """Flush stdout at the end of a command; True when its reader had gone (then quieted)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_stdout()
        return True
    if stdout_closed():
        quiet_stdout()
        return True
    return False
