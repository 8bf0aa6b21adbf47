"""Real Ray for tests: a cluster of several nodes on this machine's loopback, the way the
README tells users to start one (`ray start --head`, then `ray start --address` per node),
and the processes a Ray started by a command left behind.

Every node is a `ray start --block` child in a session of its own, so stopping the test's
cluster (SIGTERM, then SIGKILL to that session) ends only what the test started. The
nodes listen on 127.0.0.2 (loopback, but not the name Ray swaps for the machine's address)
and share a token known only to the test's processes.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.2"
START_TIMEOUT_S = 180.0  # a loaded 2-core machine takes 5-30 s per node
STOP_TIMEOUT_S = 30.0
RAY = str(Path(sys.executable).with_name("ray"))


def ray_env(token: str | None = None) -> dict[str, str]:
    """The environment of a test's Ray processes and of the commands that use them."""
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    env["RAY_AUTH_MODE"] = "token"
    env["RAY_AUTH_TOKEN"] = token or secrets.token_hex(24)
    return env


def free_port(host: str = HOST) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class _Node:
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def wait_started(self, deadline: float) -> None:
        # `ray start --block` says so once the node is up and has joined the head.
        while not any("block forever" in line for line in self.output):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("a Ray node did not start:\n" + "".join(self.output[-30:]))
            time.sleep(0.1)

    def stop(self) -> None:
        # `ray start --block` ends its node's processes on SIGTERM.
        self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(STOP_TIMEOUT_S)
        with contextlib.suppress(ProcessLookupError):  # whatever it left in its session
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT_S)


@dataclass
class LoopbackCluster:
    address: str
    env: dict[str, str]
    nodes: list[_Node]

    def session_pids(self) -> set[int]:
        """Every process of the cluster's nodes (they keep their session)."""
        sessions = {node.process.pid for node in self.nodes}
        return {pid for pid in _all_pids() if _session(pid) in sessions}


@contextlib.contextmanager
def loopback_cluster(nodes: int = 2, cpus_per_node: int = 1) -> Iterator[LoopbackCluster]:
    """A head node and `nodes - 1` more, each with `cpus_per_node` CPUs; stopped after."""
    env = ray_env()
    address = f"{HOST}:{free_port()}"
    common = ["--node-ip-address", HOST, "--num-cpus", str(cpus_per_node), "--block",
              "--disable-usage-stats"]  # fmt: skip
    started: list[_Node] = []
    try:
        head = ["start", "--head", "--port", address.rsplit(":", 1)[1], "--include-dashboard",
                "false", *common]  # fmt: skip
        commands = [head] + [["start", "--address", address, *common]] * (nodes - 1)
        for args in commands:
            started.append(_start(args, env))
            started[-1].wait_started(time.monotonic() + START_TIMEOUT_S)
        yield LoopbackCluster(address, env, started)
    finally:
        for node in reversed(started):
            node.stop()


def _start(args: list[str], env: dict[str, str]) -> _Node:
    process = subprocess.Popen(
        [RAY, *args, "--dashboard-agent-listen-port", str(free_port())],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,
    )
    return _Node(process)


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _session(pid: int) -> int | None:
    """The session of a live process; None for a zombie (dead, waiting to be reaped by an
    init that may never reap it) or a process gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else int(fields[3])  # fields 3 and 6: state, session


def process_title(pid: int) -> str:
    """What `ps` shows for a process (Ray names a worker after the task it runs)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def workers_running(task_title: str, pids: set[int]) -> list[int]:
    """The pids among `pids` whose title starts with `ray::<task_title>`."""
    return [pid for pid in pids if process_title(pid).startswith(f"ray::{task_title}")]


def session_members(session: int) -> list[int]:
    """Processes still in session `session` (what a command's own local Ray left behind)."""
    return [pid for pid in _all_pids() if _session(pid) == session]
