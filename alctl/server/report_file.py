"""`GET /report` and `POST /api/report`: the static report of the saved model, from the page.

The report is `alctl report`'s (alctl.report.build), made from the workspace's files with the
dataset the server already holds, and written to one fixed file in the workspace
(`Workspace.report_html`); `GET /report` serves that file and nothing else, so no request
names a path. The page's Report link opens `/report` itself, a URL that can be reloaded and
bookmarked: the GET first brings the file up to date when the files it is made of
(checkpoint, labels, history) changed since it was written, so reloading shows the model as
it is now. Building takes seconds (two forward passes, matplotlib figures): it runs in a
worker thread, one at a time (a GET waits for a write in progress, then serves what it
wrote), and reads the checkpoint on disk, never the trainer's live model, so a running
session is neither waited for nor disturbed. A GET rebuilds only for changed files, so
repeating it costs nothing.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from alctl.server.cpu_demand import BackgroundJobs
from alctl.server.disk import refused_by_disk
from ssvae.data.datasets import Dataset
from ssvae.io.workspace import Workspace

REPORT_URL = "/report"


class ReportBusy(Exception):
    """A report is being written already."""

    status = 409


class ReportUnavailable(Exception):
    """Nothing to report on yet (no checkpoint); the message says what to do."""

    status = 409


def _stamp(path: Path) -> tuple[int, int] | None:
    """(mtime in ns, size) of a file, None when it does not exist."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size


class ReportFile:
    """Writes the workspace's report file; `_lock` lets one write run at a time."""

    def __init__(
        self, workspace: Workspace, dataset: Dataset, jobs: BackgroundJobs | None = None
    ) -> None:
        self.workspace, self.dataset = workspace, dataset
        self.jobs = jobs or BackgroundJobs()  # a report counts as one while it is written
        self._lock = threading.Lock()
        self._made_from: tuple[Any, ...] | None = None  # the inputs' stamps of the last write

    @property
    def path(self) -> Path:
        return self.workspace.report_html

    def _inputs(self) -> tuple[Any, ...]:
        ws = self.workspace
        return tuple(_stamp(p) for p in (ws.checkpoint, ws.labels_csv, ws.history_csv))

    def write(self) -> dict[str, Any]:
        """Build and write the report (blocking: call it from a worker thread)."""
        if not self._lock.acquire(blocking=False):
            raise ReportBusy("a report is being written already; it opens when it is done")
        try:
            started = time.perf_counter()
            path = self._write()
        finally:
            self._lock.release()
        return {
            "path": str(path),
            "url": REPORT_URL,
            "bytes": path.stat().st_size,
            "seconds": round(time.perf_counter() - started, 2),
        }

    def current(self) -> Path:
        """The report file of the workspace's files as they are now: written first unless the
        last write read these same files (blocking: call it from a worker thread)."""
        with self._lock:
            if self._made_from != self._inputs() or not self.path.is_file():
                self._write()
            return self.path

    def _write(self) -> Path:
        from alctl.errors import CliError
        from alctl.report.build import write_report

        inputs = self._inputs()  # before reading: a change meanwhile is seen next time
        try:
            with self.jobs.running(), refused_by_disk(self.path):
                path = write_report(
                    self.workspace.root, self.dataset.name, self.path, data=self.dataset
                )
        except CliError as exc:  # no checkpoint yet
            raise ReportUnavailable(str(exc)) from None
        self._made_from = inputs
        return path
