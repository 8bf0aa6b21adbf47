"""Downloads through torchvision that fail fast offline, and memory of recent failures.

A blackholed network must not hang a start-up: a TCP probe with a 5 s limit runs
first, and the download itself runs with a 5 s socket timeout. A failed attempt
leaves `<cache>/.download-failed` so that `auto` does not pay the timeout again for
a day (an explicit dataset name always retries).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import urllib.parse
from pathlib import Path

NETWORK_TIMEOUT_S = 5.0
AUTO_RETRY_S = 24 * 3600  # after a failed download, `auto` stays local this long
_FAILURE_MARKER = ".download-failed"


class DownloadError(Exception):
    """The download did not happen; the message says why in a few words."""


def recent_failure(cache: Path, name: str) -> str | None:
    """Why `auto` should not try the network again yet: a download failed recently.

    Offline machines would otherwise pay the network timeout on every start. An
    explicit `--dataset mnist` always retries.
    """
    marker = cache / _FAILURE_MARKER
    try:
        age = time.time() - marker.stat().st_mtime
        reason = marker.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if age > AUTO_RETRY_S:
        return None
    return f"skipped: it failed {age / 60:.0f} min ago ({reason}); --dataset {name} retries now"


def remember_failure(cache: Path, reason: str) -> None:
    with contextlib.suppress(OSError):  # only an optimisation; never fail the load for it
        cache.mkdir(parents=True, exist_ok=True)
        (cache / _FAILURE_MARKER).write_text(reason + "\n", encoding="utf-8")


def forget_failure(cache: Path) -> None:
    with contextlib.suppress(OSError):
        (cache / _FAILURE_MARKER).unlink()


def download_idx(root: Path, torchvision_name: str) -> Path:
    """Download `torchvision_name` into `root`; returns where the raw IDX files are.

    Raises DownloadError within seconds when the network does not answer.
    """
    from torchvision import datasets  # heavy: only when we really download

    tv_class = getattr(datasets, torchvision_name)
    host = urllib.parse.urlsplit(tv_class.mirrors[0])
    probe(host.hostname or "", host.port or (443 if host.scheme == "https" else 80))
    previous = socket.getdefaulttimeout()
    # urllib inside torchvision has no timeout; a blackholed network would hang forever.
    socket.setdefaulttimeout(NETWORK_TIMEOUT_S)
    try:
        for train in (True, False):
            tv_class(root=str(root), train=train, download=True)
    except Exception as exc:  # torchvision raises RuntimeError/URLError/OSError variously
        raise DownloadError(
            f"torchvision download failed: {str(exc).strip().splitlines()[0]}"
        ) from exc
    finally:
        socket.setdefaulttimeout(previous)
    return root / torchvision_name / "raw"


def probe(host: str, port: int) -> None:
    """Raise DownloadError unless `host:port` accepts a TCP connection within the timeout.

    DNS lookups ignore socket timeouts, so the probe runs in a daemon thread we can
    abandon.
    """
    outcome: list[BaseException | None] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=NETWORK_TIMEOUT_S).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=connect, name="alctl-download-probe", daemon=True)
    thread.start()
    thread.join(NETWORK_TIMEOUT_S + 0.5)
    if not outcome:
        raise DownloadError(f"no answer from {host} within {NETWORK_TIMEOUT_S:g} s (offline?)")
    if outcome[0] is not None:
        raise DownloadError(f"cannot reach {host}: {outcome[0]}")
