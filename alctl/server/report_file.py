"""`POST /api/report` and `GET /report`: the static report of the saved model, from the page.

The report is `alctl report`'s (alctl.report.build), made from the workspace's files with the
dataset the server already holds, and written to one fixed file in the workspace
(`Workspace.report_html`); `GET /report` serves that file and nothing else, so no request
names a path. Building takes seconds (two forward passes, matplotlib figures): it runs in a
worker thread, one at a time, and reads the checkpoint on disk, never the trainer's live
model, so a running session is neither waited for nor disturbed.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from alctl.server.cpu_demand import BackgroundJobs
from ssvae.data.datasets import Dataset
from ssvae.io.workspace import Workspace

REPORT_URL = "/report"


class ReportBusy(Exception):
    """A report is being written already."""

    status = 409


class ReportUnavailable(Exception):
    """Nothing to report on yet (no checkpoint); the message says what to do."""

    status = 409


class ReportFile:
    """Writes the workspace's report file; `_lock` lets one write run at a time."""

    def __init__(
        self, workspace: Workspace, dataset: Dataset, jobs: BackgroundJobs | None = None
    ) -> None:
        self.workspace, self.dataset = workspace, dataset
        self.jobs = jobs or BackgroundJobs()  # a report counts as one while it is written
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self.workspace.report_html

    def write(self) -> dict[str, Any]:
        """Build and write the report (blocking: call it from a worker thread)."""
        from alctl.errors import CliError
        from alctl.report.build import write_report

        if not self._lock.acquire(blocking=False):
            raise ReportBusy("a report is being written already; it opens when it is done")
        try:
            started = time.perf_counter()
            with self.jobs.running():
                path = write_report(
                    self.workspace.root, self.dataset.name, self.path, data=self.dataset
                )
        except CliError as exc:  # no checkpoint yet
            raise ReportUnavailable(str(exc)) from None
        finally:
            self._lock.release()
        return {
            "path": str(path),
            "url": REPORT_URL,
            "bytes": path.stat().st_size,
            "seconds": round(time.perf_counter() - started, 2),
        }
