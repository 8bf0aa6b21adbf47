"""Stop a training command (not a server) by a signal once its first epoch is done; time the exit.

Shared by tests/test_stops.py and `benchmarks/bench_stops.py --trainers`: `alctl train
--no-server` and scripts/train.py stop after the current batch, save the whole epochs and
exit within the 3 s every stop has (the session is evaluated on the test split, not the
training images: ssvae.runs.pipeline, `ending`).
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.cli_support import REPO, as_foreground, cli_env

TRAINERS = {
    "alctl train --no-server": ["-m", "alctl", "train", "--no-server", "--epochs", "1000"],
    "scripts/train.py": [str(REPO / "scripts" / "train.py"), "--max-epochs", "1000"],
}
# The first epoch's line: alctl's "epoch 1/1000 (#1) ...", the script's "epoch 1 (global 2) ...".
FIRST_EPOCH = re.compile(r"epoch 1(/\d+)? \(")


def stop_a_trainer(
    command: list[str], sig: int, ready: re.Pattern[str] = FIRST_EPOCH, cwd: Path = REPO
) -> float:
    """Start `command`, signal it once a line matches `ready` (its first epoch is done),
    return the seconds to its exit."""
    as_foreground()
    proc = subprocess.Popen(
        [sys.executable, *command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, env=cli_env(), cwd=cwd,
    )  # fmt: skip
    first_epoch = threading.Event()
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.append(raw.decode(errors="replace"))
            if ready.search(lines[-1]):
                first_epoch.set()
        first_epoch.set()  # ended early: the wait below must not hang

    threading.Thread(target=read, daemon=True).start()
    try:
        assert first_epoch.wait(600) and proc.poll() is None, "".join(lines)
        started = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(60)
        seconds = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code in (4, 130), "".join(lines)  # stopped, after saving
    return seconds
