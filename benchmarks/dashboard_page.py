"""The dashboard under measurement: a real page in Chromium with read-only probes, and the
settings and checkpoint every page benchmark starts from.

Shared by bench_dashboard.py and bench_decoder.py (either runs alone). PROBE_JS is described
in benchmarks/README.md ("How the page is observed").
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import common
from common import (
    REPO,
    EventRecorder,
    ServerProcess,
    bench_server,
    machine_load,
    percentile,
)

VIEWPORT = {"width": 1440, "height": 900}
HOVER_S = 0.15  # a person rests on a point briefly before clicking it

# Installed before the page's own scripts. Read-only instruments: input timestamps, 2-D canvas
# paints, scatter draws, DOM changes of the panels, and the page's event stream.
PROBE_JS = r"""
(() => {
  const B = { paints: {}, changed: {}, input: {}, waiters: [], sse: [], draws: [],
    plotDraw: -1, readyWall: null, pending: null };
  window.__bench = B;
  const now = () => performance.now();
  B.notify = () => {
    for (const w of B.waiters.slice()) {
      let ok = false;
      try { ok = w.test(); } catch (e) { ok = false; }
      if (!ok) continue;
      B.waiters.splice(B.waiters.indexOf(w), 1);
      clearTimeout(w.timer);
      requestAnimationFrame(() => w.resolve(now()));
    }
  };
  // The time of the first animation frame requested after test() became true, or null.
  B.until = (test, timeoutMs = 5000) => new Promise((resolve) => {
    const w = { test, resolve };
    w.timer = setTimeout(() => { B.waiters.splice(B.waiters.indexOf(w), 1); resolve(null); },
      timeoutMs);
    B.waiters.push(w);
    B.notify();
  });
  // From the next `type` input event to the frame after test(t0) holds; read B.pending.
  B.arm = (type, test, timeoutMs = 5000) => {
    B.input[type] = Infinity;
    B.pending = B.until(() => B.input[type] !== Infinity && test(B.input[type]), timeoutMs)
      .then((t) => (t === null ? null : t - B.input[type]));
  };
  for (const type of ["pointerup", "keydown", "pointermove"]) {
    window.addEventListener(type, (e) => { B.input[type] = e.timeStamp; }, true);
  }
  const proto = CanvasRenderingContext2D.prototype;
  for (const name of ["putImageData", "drawImage"]) {
    const original = proto[name];
    proto[name] = function (...args) {
      const result = original.apply(this, args);
      if (this.canvas && this.canvas.id) { B.paints[this.canvas.id] = now(); B.notify(); }
      return result;
    };
  }
  const TRACKED = "#train-state, #latest-losses, #progress-epoch, #stat-labeled";
  new MutationObserver((records) => {
    const t = now();
    for (const r of records) {
      const node = r.target.nodeType === 1 ? r.target : r.target.parentElement;
      if (!node) continue;
      if (node === document.body && r.attributeName === "data-ready" && B.readyWall === null
          && node.dataset.ready === "1") B.readyWall = performance.timeOrigin + t;
      const el = node.closest(TRACKED);
      if (el) B.changed[el.id] = t;
    }
    B.notify();
  }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
  const Native = window.EventSource;
  window.EventSource = class extends Native {
    constructor(...args) {
      super(...args);
      for (const name of ["train_started", "train_progress", "train_epoch", "train_ended"]) {
        this.addEventListener(name, (event) => {
          const t = now();
          const entry = { name, t, wall: performance.timeOrigin + t, data: JSON.parse(event.data) };
          B.sse.push(entry);
          if (name === "train_epoch") {
            B.until(() => (B.changed["latest-losses"] ?? -1) >= t, 3000).then((shown) => {
              entry.shownWall = shown === null ? null : performance.timeOrigin + shown;
            });
          }
          B.notify();
        });
      }
    }
  };
  // The page exposes the regl-scatterplot instance as window.alctl.scatter.
  B.hookScatter = () => {
    const plot = window.alctl.scatter;
    const draw = plot.draw.bind(plot);
    plot.draw = async (...args) => {
      const start = now();
      const result = await draw(...args);
      B.draws.push({ start, end: now() });
      B.notify();
      return result;
    };
    plot.subscribe("draw", () => { B.plotDraw = now(); B.notify(); });
    plot.subscribe("select", () => { B.selectAt = now(); });
  };
})();
"""

SCREEN_POS_JS = """(serial) => {
  const canvas = document.getElementById("scatter");
  const pos = window.alctl.scatter.getScreenPosition(serial);
  const rect = canvas.getBoundingClientRect();
  if (!pos) return { ok: false };
  const x = rect.left + pos[0], y = rect.top + pos[1];
  const inside = x > rect.left + 8 && y > rect.top + 8 && x < rect.right - 8 && y < rect.bottom - 8;
  return { ok: inside && document.elementFromPoint(x, y) === canvas, x, y };
}"""
ARM_PAINT_JS = """(type) => __bench.arm(type, (t0) =>
  (__bench.paints["img-original"] ?? -1) > t0 && (__bench.paints["img-recon"] ?? -1) > t0)"""
ARM_LABEL_JS = """([serial, digit]) => __bench.arm("keydown", (t0) =>
  window.alctl.state.user[serial] === digit && __bench.draws.some((d) => d.start >= t0))"""
ARM_MODE_JS = """(mode) => __bench.arm("keydown", (t0) =>
  window.alctl.state.mode === mode && __bench.plotDraw > t0)"""
ARM_RUNNING_JS = """() => __bench.arm("pointerup", (t0) =>
  document.getElementById("train-state").textContent.trim() === "running"
  && (__bench.changed["train-state"] ?? -1) >= t0)"""


# Every labeled point shows its class colour in "user" mode (the page's own colour hook).
@dataclass
class Settings:
    quick: bool
    dataset: str
    data_dir: Path | None
    starts: int  # start-up runs of each kind (cold, warm)
    clicks: int  # samples clicked and labeled
    jumps: int
    mode_rounds: int
    hammer: int  # API requests while training
    epochs: int  # epochs per throughput session
    rounds: int  # throughput rounds (script, then server)
    cost_rounds: int = 3  # page-cost rounds (page open, then no page)
    cost_epochs: int = 3  # epochs per page-cost session


def make_settings(args: argparse.Namespace, root: Path) -> Settings:
    dataset, data_dir = args.dataset, args.data_dir
    if args.quick and data_dir is None:
        sys.path.insert(0, str(REPO))
        from tests.datagen import write_synthetic_idx

        dataset, data_dir = "mnist", write_synthetic_idx(root / "idx", 3000, 500)
    if args.quick:
        return Settings(True, dataset, data_dir, 1, 10, 5, 2, 60, 1, 1, 2, 5)
    return Settings(False, dataset, data_dir, 3, 50, 20, 10, 300, 2, 2)


def ms_stats(values: list[float]) -> str:
    if not values:
        return "none"
    return f"p50 {percentile(values, 50):.1f} ms, p95 {percentile(values, 95):.1f} ms"


def train_script(workspace: Path, s: Settings, epochs: int, *extra: str, timeout: int) -> None:
    """Run scripts/train.py on the benchmark's dataset (continuing any checkpoint)."""
    common.train_script(workspace, s.dataset, s.data_dir, epochs, *extra, timeout=timeout)


def make_checkpoint(workspace: Path, s: Settings) -> None:
    train_script(workspace, s, 1, timeout=1800)


def open_page(browser: Any, url: str, console: list[str]) -> Any:
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(PROBE_JS)
    page = context.new_page()
    page.on(
        "console",
        lambda m: (
            console.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text
            else None
        ),
    )
    page.on("pageerror", lambda e: console.append(str(e)))
    page.on(
        "response",
        lambda r: (
            console.append(f"HTTP {r.status} {r.request.method} {r.url}")
            if r.status >= 400
            else None
        ),
    )
    page.goto(url, wait_until="commit")
    return page


def wait_ready(page: Any, timeout_s: float = 180.0) -> None:
    page.wait_for_function(
        "document.body && document.body.dataset.ready === '1'", timeout=timeout_s * 1000
    )


def wait_samples(server: ServerProcess, timeout: float = 60.0) -> float:
    """Seconds from spawn until a reconstruction can be served (the model may load later)."""
    import httpx

    deadline = time.perf_counter() + timeout
    with httpx.Client(base_url=server.url, trust_env=False, timeout=30.0) as client:
        while time.perf_counter() < deadline:
            # The server may hold this request while its model loads; that wait counts.
            if client.get("/api/samples/0").status_code == 200:
                return time.perf_counter() - server.spawned_at
            time.sleep(0.05)
    return math.nan


class Dashboard:
    """One server, one open page and an HTTP client: the interactive rows."""

    def __init__(self, server: ServerProcess, page: Any, s: Settings) -> None:
        import httpx
        import numpy as np

        self.server, self.page, self.s = server, page, s
        self.http = httpx.Client(
            base_url=server.url,
            headers={"X-Alctl-Token": server.wait_serving()},
            trust_env=False,
            timeout=10.0,
        )
        self.events = EventRecorder(server.url).start()
        # Steady-state rows: the model (loaded in the background on a warm start) is ready.
        wait_samples(server)
        self.n = int(page.evaluate("() => window.alctl.state.n"))
        self.rng = np.random.default_rng(0)
        self.select_ms: list[float] = []  # pointerup → the scatter's select event
        page.evaluate("() => __bench.hookScatter()")

    def close(self) -> None:
        self.events.close()
        self.http.close()

    def pending(self) -> float | None:
        return self.page.evaluate("() => __bench.pending")

    def click_random_point(self) -> tuple[float | None, bool]:
        """Hover then click a point; (ms to both images painted, whether it hit that point)."""
        for _ in range(50):
            serial = int(self.rng.integers(self.n))
            pos = self.page.evaluate(SCREEN_POS_JS, serial)
            if pos["ok"]:
                break
        else:
            raise RuntimeError("no point of the scatter is clickable on screen")
        self.page.keyboard.press("Escape")
        self.page.mouse.move(pos["x"], pos["y"])
        time.sleep(HOVER_S)
        self.page.evaluate(ARM_PAINT_JS, "pointerup")
        self.page.mouse.down()
        self.page.mouse.up()
        ms = self.pending()
        self.select_ms.append(
            self.page.evaluate("() => __bench.selectAt - __bench.input.pointerup")
        )
        return ms, self.page.evaluate("() => window.alctl.state.selected") == serial

    def jump(self, serial: int) -> float | None:
        self.page.fill("#jump-input", str(serial))
        self.page.evaluate(ARM_PAINT_JS, "keydown")
        self.page.press("#jump-input", "Enter")
        ms = self.pending()
        self.page.evaluate("() => document.activeElement && document.activeElement.blur()")
        return ms

    def label_selected(self) -> tuple[float | None, int, int]:
        serial = int(self.page.evaluate("() => window.alctl.state.selected"))
        current = int(self.page.evaluate("(i) => window.alctl.state.user[i]", serial))
        digit = int((max(current, 0) + 1 + self.rng.integers(9)) % 10)
        self.page.evaluate(ARM_LABEL_JS, [serial, digit])
        self.page.keyboard.press(str(digit))
        return self.pending(), serial, digit

    def switch_mode(self, key: str, mode: str) -> float | None:
        self.page.evaluate(ARM_MODE_JS, mode)
        self.page.keyboard.press(key)
        return self.pending()

    def start_training(self, epochs: int) -> tuple[float | None, int]:
        """Click Start with `epochs`; (ms until the panel shows running, session number)."""
        before = len(self.events.named("train_started"))
        progressed = len(self.events.named("train_progress"))
        self.page.fill('#train-form input[name="epochs"]', str(epochs))
        self.page.evaluate(ARM_RUNNING_JS)
        self.page.click("#train-start")
        ms = self.pending()
        _, started = self.events.wait_for("train_started", timeout=60, after=before)
        # Batches are running (the model may still have been loading at the start).
        self.events.wait_for("train_progress", timeout=120, after=progressed)
        return ms, int(started["session"])

    def wait_idle(self, session: int, timeout: float) -> dict[str, Any]:
        """Wait for the session's end and for the page to draw the refreshed latent."""
        deadline = time.monotonic() + timeout
        ended = None
        while ended is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"training session {session} did not end in {timeout:.0f} s")
            ended = next(
                (e for e in self.events.named("train_ended") if e[1].get("session") == session),
                None,
            )
            time.sleep(0.05)
        if ended[1]["status"] != "failed" or ended[1]["epochs_run"] > 0:
            refreshed = self.events.named("latent_refreshed")
            while not any(t >= ended[0] for t, _ in refreshed):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no latent_refreshed after session {session}")
                time.sleep(0.05)
                refreshed = self.events.named("latent_refreshed")
            version = refreshed[-1][1]["version"]
            self.page.wait_for_function(
                "(v) => String(window.alctl.state.latentVersion) === String(v)",
                arg=version,
                timeout=max(1.0, deadline - time.monotonic()) * 1000,
            )
        return ended[1]


@contextlib.contextmanager
def open_dashboard(
    browser: Any, workspace: Path, s: Settings, console: list[str]
) -> Iterator[Dashboard]:
    """A fresh server on `workspace` with the page open and drawn: its Dashboard."""
    with bench_server(workspace, s.dataset, s.data_dir) as server:
        server.wait_port()
        page = open_page(browser, server.url, console)
        wait_ready(page)
        dash = Dashboard(server, page, s)
        try:
            yield dash
        finally:
            dash.close()


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """--quick, --dataset and --data-dir, as every page benchmark takes them."""
    parser.add_argument("--quick", action="store_true", help="tiny generated data, few repeats")
    parser.add_argument("--dataset", default="fashion-mnist", help="default: fashion-mnist")
    parser.add_argument("--data-dir", type=Path, help="directory holding the 4 IDX files")


def closing_notes(load_start: str, console: list[str]) -> list[str]:
    """The machine's load at both ends, and the page's errors if there were any."""
    notes = [f"machine: {load_start} at start, {machine_load()} at the end (shared: noisy)"]
    if console:
        notes.append(f"page errors ({len(console)}): {'; '.join(console[:3])}")
    return notes
