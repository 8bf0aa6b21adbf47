"""run_server(): what `alctl serve` does, start to finish.

Start-up reserves the port first (so "port in use" is reported before the slow steps),
loads the dataset and labels, then either serves the cached points at once and loads
torch and the model in the background, or loads the model and predicts before serving.
Connections are refused until all of that is done: the socket is bound early but only
listens once uvicorn serves, so a page never sees half a server.

Ctrl+C (or SIGTERM) ends SSE streams, stops a running training session cooperatively
(its checkpoint is saved), ends the background work and every long computation at its next
step, removes the discovery file and returns 0; `exit_process` then ends the process without
waiting for threads that compute answers nobody will read.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import socket
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import uvicorn

from alctl.discovery import ServerInfo, find_live_server, remove_discovery, write_discovery
from alctl.server.events import EventBus
from alctl.server.security import is_loopback, new_token
from ssvae.records.formats import plural

# How long a stop waits for requests in flight: a label write takes milliseconds; a report or
# a queue being computed is abandoned (its answer would reach a page that is going away).
GRACEFUL_SHUTDOWN_S = 0.5
SHUTDOWN_TRAINING_S = 120.0


class StartupError(Exception):
    """A problem the user can fix; the message is the one line we print."""


class _Terminated(BaseException):
    """SIGTERM, turned into an exception so clean-up runs like for Ctrl+C."""


class _Server(uvicorn.Server):
    """uvicorn.Server that also begins our shutdown the moment a signal arrives."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit
        self.loop: asyncio.AbstractEventLoop | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # Run on the loop, not here: a signal handler interrupts the main thread wherever it
        # is, maybe inside a lock that `on_exit` needs (the event loop reads the status).
        if self.loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing left to end
                self.loop.call_soon_threadsafe(self._on_exit)


def run_server(
    workspace: Path,
    dataset: str = "auto",
    host: str = "127.0.0.1",
    port: int = 8050,
    open_browser: bool = False,
    data_dir: Path | None = None,
    echo: Callable[[str], None] = print,
    threads: int | None = None,
) -> int:
    """Serve the dashboard for `workspace` until Ctrl+C; returns the exit code.

    `threads`: the trainer's torch threads (--threads); None leaves them to the policy.
    """
    root = Path(workspace).expanduser().absolute()
    sock: socket.socket | None = None
    previous = _interrupt_on_ctrl_c()
    try:
        echo(f"alctl serve: workspace {root}")
        _check_threads(threads)
        sock = _reserve_port(host, port)
        with _workspace_claim(root):
            session, model_pending = _open_session(root, dataset, data_dir, echo, threads)
            return _serve(session, sock, host, open_browser, model_pending, echo)
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        echo("interrupted while starting")
        return 130
    finally:
        if sock is not None:
            sock.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _interrupt_on_ctrl_c() -> Any:
    """Make Ctrl+C (SIGINT) raise KeyboardInterrupt from the first moment; the handler it
    replaces, or None off the main thread (signals reach the main thread only).

    A process started in the background by a script inherits SIGINT ignored, and Python keeps
    it so: a SIGINT during start-up was lost, and the server, once up, ran on (uvicorn answers
    SIGINT, but only from when it serves). Stops must be prompt whatever the server was doing.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, signal.default_int_handler)


@contextlib.contextmanager
def _step(echo: Callable[[str], None], name: str) -> Iterator[list[str]]:
    """Time one start-up step; the body appends the text of its line."""
    started = time.perf_counter()
    text: list[str] = []
    yield text
    echo(f"  {name:<12}{' '.join(text)} ({time.perf_counter() - started:.2f} s)")


@contextlib.contextmanager
def _workspace_claim(root: Path) -> Iterator[None]:
    """One server per workspace, from its first step to its exit: `.alctl/serve.lock`.

    The discovery file alone cannot do it: two servers started at the same instant both
    find none and both serve, training over each other's checkpoint.
    """
    from ssvae.io.checkpoint_lock import Busy, OwnerLock, describe

    if root.exists() and not root.is_dir():
        raise StartupError(f"--workspace {root} is a file; give a directory")
    lock = OwnerLock(root / ".alctl" / "serve.lock", f"alctl serve (pid {os.getpid()})")
    try:
        lock.acquire()
    except Busy as exc:
        live = find_live_server(root)
        where = f" at {live.url}" if live is not None else " (still starting)"
        raise StartupError(
            f"a server is already running for this workspace{where}: {describe(exc.holder)}; "
            "use it, or stop it first"
        ) from None
    except OSError as exc:
        raise StartupError(f"cannot use --workspace {root} ({exc.strerror})") from exc
    try:
        yield
    finally:
        lock.release()


def _reserve_port(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise StartupError(f"cannot use --host {host!r} ({exc.strerror}); try 127.0.0.1") from exc
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno in (98, 48):  # EADDRINUSE (Linux, macOS)
            raise StartupError(
                f"port {port} on {host} is already in use (another alctl serve?); "
                f"choose another with --port, or stop the program using it"
            ) from exc
        raise StartupError(
            f"cannot listen on {host}:{port} ({exc.strerror}); try another --host/--port"
        ) from exc
    return sock


def _check_threads(threads: int | None) -> None:
    """A bad --threads or OMP_NUM_THREADS is one line before anything starts."""
    from ssvae.train.threads import user_threads

    try:
        user_threads(threads)
    except ValueError as exc:
        raise StartupError(str(exc)) from None


def _open_session(
    root: Path,
    dataset: str,
    data_dir: Path | None,
    echo: Callable[[str], None],
    threads: int | None = None,
) -> tuple[Any, bool]:
    """The session, ready to serve; True when the model is still to be loaded."""
    # Imported here: numpy and the session modules are not needed to report a busy port.
    from alctl.server.memory import keep_triton_out, limit_arenas
    from alctl.server.session import WorkspaceSession
    from ssvae.data.datasets import DataError, load_dataset
    from ssvae.io.checkpoint import CheckpointError
    from ssvae.io.labels import LabelError
    from ssvae.io.workspace import Workspace

    if root.exists() and not root.is_dir():
        raise StartupError(f"--workspace {root} is a file; give a directory")
    live = find_live_server(root)
    if live is not None:
        raise StartupError(
            f"a server is already running for this workspace at {live.url} (pid {live.pid}); "
            "use it, or stop it first"
        )
    root.mkdir(parents=True, exist_ok=True)
    # Importing torch takes seconds; begin now so that it overlaps reading the dataset
    # (zlib releases the GIL) instead of following it, or stalling the loop once serving.
    keep_triton_out()  # before any thread can create an optimizer
    limit_arenas()
    threading.Thread(target=_preload_model_code, name="preload-torch", daemon=True).start()
    with _step(echo, "dataset") as line:
        try:
            data = load_dataset(dataset, data_dir)
        except DataError as exc:
            raise StartupError(" ".join(str(exc).split())) from exc
        sizes = f"{data.n_train:,} train / {len(data.test_targets):,} test images"
        line.append(f"{data.name}: {sizes}, {data.source}")
    ws = Workspace(root, data.name)
    _tidy_after_a_crash(ws, echo)
    with _step(echo, "labels") as line:
        try:
            session = WorkspaceSession(ws, data, EventBus(), threads)
        except LabelError as exc:
            raise StartupError(f"{exc}; fix or move {ws.labels_csv}") from exc
        line.append(f"{session.labels.stats()['labeled']:,} labeled ({ws.labels_csv})")
    with _step(echo, "checkpoint") as line:
        cached = session.use_cache()
        facts = session.status()["checkpoint"]
        if cached:
            epochs = plural(facts["epochs_trained"], "epoch")
            line.append(f"{ws.checkpoint}, {epochs}; points from the cache")
        else:
            line.append(
                f"{ws.checkpoint}" + ("" if facts["exists"] else " (none yet: a fresh model)")
            )
    if facts.get("backup_warning"):
        echo(f"warning: {facts['backup_warning']}")
    if cached:
        echo(f"  {'model':<12}loads in the background once serving (samples and training wait)")
        return session, True
    with _step(echo, "model") as line:
        try:
            session.load_model()
        except CheckpointError as exc:
            raise StartupError(
                f"{exc}. Move it away to start with a fresh model, or restore a good copy"
            ) from exc
        status = session.status()
        epochs = plural(status["checkpoint"]["epochs_trained"], "epoch")
        line.append(f"{epochs} trained, on {status['device']}")
    with _step(echo, "predictions") as line:
        problem = session.compute_points()
        line.append(f"{data.n_train:,} images")
    if problem:
        echo(f"warning: {problem}")
    return session, False


def _tidy_after_a_crash(ws: Any, echo: Callable[[str], None]) -> None:
    from alctl.report.loss_plot import redraw_loss_curves
    from ssvae.io.housekeeping import (
        remove_orphan_temp_files,
        repair_history_csv,
        workspace_temp_dirs,
    )

    for path in remove_orphan_temp_files(workspace_temp_dirs(ws)):
        echo(f"  {'tidy':<12}removed {path}, left by an interrupted write")
    try:
        records = repair_history_csv(ws)
        if records is not None:
            echo(f"  {'tidy':<12}rewrote {ws.history_csv} from the checkpoint's own history")
        if records is not None or _older(ws.loss_plot, ws.history_csv):
            # Also after a session saved while the server stopped (it skips the picture).
            from ssvae.io.checkpoint import checkpoint_records

            problem = redraw_loss_curves(
                ws.loss_plot, checkpoint_records(ws.checkpoint, "history") or []
            )
            if problem is not None:
                echo(f"warning: {problem}")
    except OSError as exc:
        echo(f"warning: cannot repair {ws.history_csv} ({exc})")


def _older(picture: Path, source: Path) -> bool:
    """Whether `source` exists and `picture` is missing or older than it."""
    try:
        made = source.stat().st_mtime_ns
    except OSError:
        return False
    try:
        return picture.stat().st_mtime_ns < made
    except OSError:
        return True


def _preload_model_code() -> None:
    import ssvae.nn.model  # noqa: F401  (imports torch)


def _url(host: str, port: int) -> str:
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def _serve(
    session: Any,
    sock: socket.socket,
    host: str,
    open_browser: bool,
    model_pending: bool,
    echo: Callable[[str], None],
) -> int:
    from alctl.server.app import create_app
    from alctl.server.protocol import HeaderDeadlineProtocol

    token = new_token()
    app = create_app(session, token, bind_host=host)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        lifespan="on",
        http=HeaderDeadlineProtocol,
    )
    server = _Server(config, on_exit=session.begin_shutdown)
    url = _url(host, sock.getsockname()[1])
    root = session.workspace.root

    async def main() -> None:
        server.loop = asyncio.get_running_loop()
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if server.started:
            info = ServerInfo(
                url, session.pid, token, session.dataset.name, str(root), session.started_at
            )
            try:
                write_discovery(root, info)
            except OSError as exc:
                echo(f"warning: cannot write {exc.filename} ({exc.strerror}); the CLI won't see us")
            echo(f"serving {session.dataset.name} at {url}  (Ctrl+C to stop)")
            if not is_loopback(host):
                echo(
                    f"warning: listening on {host}, not only this machine: others can read "
                    "the data and labels (changes still need the token)"
                )
            if model_pending:
                # Only now: importing torch stalls the GIL for a moment, and the page's
                # first requests should not wait behind the imports of the server itself.
                session.load_model_in_background()
            if open_browser:
                threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
        await serving

    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        asyncio.run(main())
    except (KeyboardInterrupt, _Terminated):
        pass
    except SystemExit as exc:  # uvicorn exits like this when the app fails to start
        raise StartupError(
            f"the server failed to start (exit {exc.code}); see the messages above"
        ) from exc
    except OSError as exc:  # listen() lost a race for the port we had bound
        raise StartupError(f"cannot listen on {url} ({exc.strerror}); try another --port") from exc
    finally:
        signal.signal(signal.SIGTERM, previous)
        remove_discovery(root, session.pid)
        # Normally done by the app's lifespan already; not when a second Ctrl+C forced the exit.
        session.shutdown(SHUTDOWN_TRAINING_S)
    echo("stopped")
    # Everything is saved; spare the interpreter's final garbage collection over torch's
    # many objects, which takes seconds on a busy machine and delays the exit.
    gc.freeze()
    return 0


def exit_process(code: int) -> NoReturn:
    """End `alctl serve` once run_server has returned: everything is saved by then.

    Threads may still compute answers nobody will read (a report, a decode grid cancelled by
    the stop) and the model may still be loading: the interpreter's own exit would wait for
    the first and run its finalizers beside the others, which takes seconds and can crash
    inside native code. So the output is flushed and the process ends here.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _raise_terminated(sig: int, frame: FrameType | None) -> None:
    raise _Terminated()
