"""What an open dashboard costs a training session: epochs with the page open vs no page.

One server, one checkpoint, batch 128; sessions alternate page open / no page (A B A B…), so
a machine that gets busier or calmer during the run favours neither side. The row is the
ratio of the medians of all epochs of each side; the notes give every epoch and how much CPU
Chromium used while the page-open sessions trained: the page's own cost, which a machine
busy with other work disturbs far less than it disturbs epoch times.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from common import (
    EventRecorder,
    Result,
    ServerProcess,
    bench_server,
    chromium_cpu_s,
    machine_load,
    percentile,
    speed_ratio_row,
)

BATCH_SIZE = 128


class Trainer:
    """Starts sessions over HTTP and reads their epochs from a Python SSE client."""

    def __init__(self, server: ServerProcess) -> None:
        import httpx

        self.http = httpx.Client(
            base_url=server.url, headers={"X-Alctl-Token": server.wait_serving()}, trust_env=False
        )
        self.events = EventRecorder(server.url).start()

    def session(self, epochs: int) -> tuple[list[float], float]:
        """Train `epochs` epochs, once the new latent is out: (seconds of each epoch,
        Chromium's CPU share of one core from the session's start to its end)."""
        counts = {name: len(self.events.named(name)) for name in ("train_started", "train_ended")}
        refreshed = len(self.events.named("latent_refreshed"))
        answer = self.http.post("/api/train", json={"epochs": epochs, "batch_size": BATCH_SIZE})
        answer.raise_for_status()
        session = answer.json()["session"]
        self.events.wait_for("train_started", timeout=600, after=counts["train_started"])
        cpu, wall = chromium_cpu_s(), time.monotonic()
        self.events.wait_for("train_ended", timeout=3600, after=counts["train_ended"])
        share = (chromium_cpu_s() - cpu) / (time.monotonic() - wall)
        self.events.wait_for("latent_refreshed", timeout=600, after=refreshed)
        seconds = [
            float(record["seconds"])
            for _, record in self.events.named("train_epoch")
            if record.get("session") == session
        ]
        return seconds, share

    def close(self) -> None:
        self.events.close()
        self.http.close()


def open_dashboard(browser: Any, url: str, viewport: dict[str, int]) -> Any:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=180_000)
    page.wait_for_selector("#conn[data-state='live']", timeout=60_000)
    page.wait_for_timeout(1000)  # let the first draws finish before the clock starts
    return context


def measure_page_cost(
    browser: Any,
    workspace: Path,
    dataset: str,
    data_dir: Path | None,
    *,
    rounds: int,
    epochs: int,
    viewport: dict[str, int],
) -> Result:
    """`rounds` pairs of sessions (page open, then none), `epochs` epochs each."""
    with_page: list[float] = []
    without: list[float] = []
    chromium_share: list[float] = []
    order: list[str] = []
    load_start = machine_load()
    with bench_server(workspace, dataset, data_dir) as server:
        server.wait_port()
        trainer = Trainer(server)
        try:
            for _ in range(rounds):
                context = open_dashboard(browser, server.url, viewport)
                seconds, share = trainer.session(epochs)
                with_page += seconds
                chromium_share.append(share)
                context.close()
                order.append("A")
                without += trainer.session(epochs)[0]
                order.append("B")
        finally:
            trainer.close()
    ratio = percentile(without, 50) / percentile(with_page, 50) * 100
    spread = (max(with_page + without) - min(with_page + without)) / percentile(without, 50)
    return speed_ratio_row(
        "training speed with the page open vs no page",
        ratio,
        f"no-page s/epoch ÷ page-open s/epoch, medians over all epochs: "
        f"{percentile(without, 50):.2f} s ÷ {percentile(with_page, 50):.2f} s; "
        f"{rounds} × (page open, no page) = {' '.join(order)}, {epochs} epochs each, batch "
        f"{BATCH_SIZE}, one server and checkpoint; Chromium used "
        f"{_percents(chromium_share)} of a core while the page-open sessions trained (from "
        f"train_started to train_ended; the page's cost, less sensitive to a busy machine "
        f"than the ratio); page-open epochs "
        f"{_seconds(with_page)}; no-page epochs {_seconds(without)}; spread of all epochs "
        f"{100 * spread:.0f} % of the no-page median; {load_start} at start, "
        f"{machine_load()} at the end",
    )


def _percents(shares: list[float]) -> str:
    return " ".join(f"{100 * v:.1f} %" for v in shares)


def _seconds(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values) + " s"
