"""`<workspace>/.alctl/server.json`: how the CLI finds the server running on a workspace.

Standard library only: the CLI imports this on its fast path (no torch, no starlette).
"""

from __future__ import annotations

import contextlib
import json
import os
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from ssvae.io.atomic import atomic_write

FIELDS = ("url", "pid", "token", "dataset", "workspace", "started_at")


@dataclass(frozen=True)
class ServerInfo:
    url: str
    pid: int
    token: str
    dataset: str
    workspace: str
    started_at: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def discovery_path(workspace: Path) -> Path:
    # Same place as ssvae.io.workspace.Workspace.server_file; not imported to stay light.
    return Path(workspace) / ".alctl" / "server.json"


def write_discovery(workspace: Path, info: ServerInfo) -> Path:
    """Write the file atomically with mode 0600 (it holds the token)."""
    path = discovery_path(workspace)
    with atomic_write(path, "w", perms=0o600, encoding="utf-8") as handle:
        json.dump(info.to_dict(), handle, indent=2)
    return path


def read_discovery(workspace: Path) -> ServerInfo | None:
    """The recorded server, or None when the file is missing or not ours to trust."""
    try:
        data = json.loads(discovery_path(workspace).read_text(encoding="utf-8"))
        return ServerInfo(
            url=str(data["url"]),
            pid=int(data["pid"]),
            token=str(data["token"]),
            dataset=str(data["dataset"]),
            workspace=str(data["workspace"]),
            started_at=str(data["started_at"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_discovery(workspace: Path, pid: int | None = None) -> None:
    """Remove the file; with `pid`, only when it still names that process."""
    path = discovery_path(workspace)
    if pid is not None:
        info = read_discovery(workspace)
        if info is not None and info.pid != pid:
            return  # another server took over this workspace
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def server_answers(url: str, timeout: float = 1.0) -> bool:
    """True when GET <url>/api/status answers 200 within `timeout` seconds."""
    # No proxies: an http_proxy in the environment must not see (or break) loopback calls.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url.rstrip("/") + "/api/status", timeout=timeout) as resp:
            return resp.status == 200
    except (OSError, urllib.error.URLError, ValueError):
        return False


def same_workspace(recorded: str, workspace: Path) -> bool:
    """True when `recorded` (a server's workspace path) is the directory `workspace`.

    A copied workspace (`cp -rp ws ws-copy`) carries the original's server.json; that
    server serves the original's files, never the copy's.
    """
    try:
        return os.path.samefile(recorded, workspace)
    except OSError:  # one of them is gone: compare the names
        return Path(recorded).resolve() == Path(workspace).resolve()


def find_live_server(workspace: Path, timeout: float = 1.0) -> ServerInfo | None:
    """The server recorded for `workspace` if it is this workspace's, its pid is alive and
    it answers; else None."""
    info = read_discovery(workspace)
    if info is None or not same_workspace(info.workspace, workspace) or not pid_alive(info.pid):
        return None
    return info if server_answers(info.url, timeout) else None
