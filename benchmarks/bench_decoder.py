"""The decoder rows of bench_dashboard.py: cursor preview, the manifold grid, and training
throughput with the overlay on screen (A B A B against no page at all).

bench_dashboard.py runs them with every other row (the page harness both use is
dashboard_page.py); alone (minutes, not an hour):

    python benchmarks/bench_decoder.py [--quick] [--workspace DIR]   # DIR: has a checkpoint
    python benchmarks/bench_decoder.py --throughput-quick   # the A B A B row on generated data
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import (
    Result,
    ServerProcess,
    bench_server,
    chromium_cpu_s,
    launch_chromium,
    machine_load,
    percentile,
    print_results,
)
from dashboard_page import (
    Dashboard,
    Settings,
    add_data_options,
    closing_notes,
    make_checkpoint,
    make_settings,
    ms_stats,
    open_dashboard,
    open_page,
    wait_ready,
)

GRID = {"x0": -1.0, "x1": 1.0, "y0": -1.0, "y1": 1.0, "n": 20}  # 400 tiles, page space
# From a pointermove to the frame after the preview canvas was painted.
ARM_PREVIEW_JS = """() => __bench.arm("pointermove", (t0) =>
  (__bench.paints["decoder-image"] ?? -1) > t0)"""
# From the o key to the frame after the overlay drew its tiles.
ARM_MANIFOLD_JS = """() => __bench.arm("keydown", (t0) =>
  (__bench.paints["manifold"] ?? -1) > t0, 10000)"""


def measure_preview(page: Any, moves: int) -> Result:
    """Press m, then move the mouse to `moves` random places of the plot, one at a time."""
    import numpy as np

    rng = np.random.default_rng(1)
    box = page.locator("#scatter").bounding_box()
    page.keyboard.press("m")
    times: list[float | None] = []
    for _ in range(moves):
        x = box["x"] + 60 + rng.random() * (box["width"] - 220)
        y = box["y"] + 60 + rng.random() * (box["height"] - 220)
        page.evaluate(ARM_PREVIEW_JS)
        page.mouse.move(x, y)
        times.append(page.evaluate("() => __bench.pending"))
        time.sleep(0.03)
    page.keyboard.press("m")
    own = page.evaluate("() => window.alctl.state.timings.decodePreview")
    done = [t for t in times if t is not None]
    return Result(
        "cursor move → decoded preview painted (decoder view, key m)",
        "≤ 50 ms p95",
        "ms",
        50,
        done,
        note=f"{moves} moves to random places, one at a time; pointermove → first frame after "
        f"the preview canvas was painted; {len(times) - len(done)} missed; the page's own "
        f"decodePreview (move → paint) {ms_stats(own)}",
    )


def measure_grid_server(server: ServerProcess, rounds: int) -> Result:
    """POST /api/decode with a 20×20 grid from Python: whole round trip, JSON included."""
    import httpx

    total: list[float] = []
    forward: list[float] = []
    headers = {"X-Alctl-Token": server.wait_serving()}
    with httpx.Client(base_url=server.url, headers=headers, trust_env=False) as client:
        for _ in range(rounds):
            started = time.perf_counter()
            response = client.post("/api/decode", json={"grid": GRID})
            response.raise_for_status()
            total.append((time.perf_counter() - started) * 1000)
            forward.append(float(response.json()["decode_ms"]))
            time.sleep(0.02)
    return Result(
        "manifold grid of 400 tiles, server side",
        "≤ 100 ms p95",
        "ms",
        100,
        total,
        note=f"POST /api/decode 20×20 from Python, round trip incl. base64 JSON "
        f"({rounds} requests); the one forward pass alone {ms_stats(forward)}",
    )


def measure_grid_painted(page: Any, rounds: int) -> Result:
    """Toggle the overlay on (key o) and wait for its tiles; off again; repeat."""
    times: list[float | None] = []
    for _ in range(rounds):
        page.evaluate(ARM_MANIFOLD_JS)
        page.keyboard.press("o")
        times.append(page.evaluate("() => __bench.pending"))
        page.keyboard.press("o")
        time.sleep(0.05)
    own = page.evaluate("() => window.alctl.state.timings.manifoldPaint")
    done = [t for t in times if t is not None]
    return Result(
        "manifold overlay (400 tiles) → painted",
        "≤ 250 ms p95",
        "ms",
        250,
        done,
        note=f"key o → first frame after the overlay drew the decoded grid ({rounds} times); "
        f"the page's own request → drawn {ms_stats(own)}; after a pan the page waits 150 ms "
        "for the view to settle before it asks",
    )


class Panner:
    """Called every half second while training: drags the view 60 px left or right every 2 s,
    with the mouse as a person pans (a programmatic camera move would not wake the page's
    on-demand frame loop, so nothing would redraw)."""

    def __init__(self, page: Any) -> None:
        self.page, self.last, self.step = page, time.monotonic(), 60
        self.pans = 0

    def __call__(self) -> None:
        if time.monotonic() - self.last < 2.0:
            return
        box = self.page.locator("#scatter").bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        self.step = -self.step
        self.page.mouse.move(x, y)
        self.page.mouse.down()
        self.page.mouse.move(x + self.step, y, steps=6)
        self.page.mouse.up()
        self.pans += 1
        self.last = time.monotonic()


class Sessions:
    """Training sessions through the HTTP API, each left to finish its refresh before the next.

    A session's status turns idle before the server has predicted the new points, saved the
    checkpoint and announced them (then an open page reloads every point and, with the
    overlay on, asks for a grid). Started back to back, the next session, of whichever state
    comes next, would train through all of that, and a state's epochs and Chromium share
    would depend on a race. So the next session waits for the new points, and the page that
    would reload them is closed then."""

    def __init__(self, server: ServerProcess) -> None:
        import httpx

        self.url = server.url
        self.http = httpx.Client(
            base_url=server.url,
            headers={"X-Alctl-Token": server.wait_serving()},
            trust_env=False,
            timeout=30,
        )

    def latent_version(self) -> Any:
        return self.http.get("/api/status").json()["latent"]["version"]

    def train(self, epochs: int, during: Callable[[], None]) -> tuple[list[float], Any]:
        """Train `epochs`, calling `during` meanwhile: (s/epoch, the latent version before)."""
        version = self.latent_version()
        session = self.http.post("/api/train", json={"epochs": epochs}).raise_for_status().json()
        number = session.get("session")
        while self.http.get("/api/status").json()["training"]["state"] != "idle":
            during()
            time.sleep(0.5)
        records = self.http.get("/api/history").json()["records"]
        return [float(r["seconds"]) for r in records if r.get("session") == number], version

    def settle(self, version: Any, timeout_s: float = 600) -> None:
        """Wait until the server has the points after `version` out."""
        deadline = time.monotonic() + timeout_s
        while self.latent_version() == version:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no new latent after version {version} in {timeout_s:.0f} s")
            time.sleep(0.2)

    def close(self) -> None:
        self.http.close()


GRIDS_JS = "() => window.alctl.state.timings.manifoldPaint.length"

# The sides of the throughput comparison, run in turn each round (A B C D E A B C D E …):
# (overlay on, view panned every 2 s). None: no page at all.
SIDES: dict[str, tuple[bool, bool] | None] = {
    "no page": None,
    "page open": (False, False),
    "overlay on": (True, False),
    "page, panned": (False, True),
    "overlay on, panned": (True, True),
}


def _page_session(
    browser: Any, sessions: Sessions, s: Settings, console: list[str], overlay: bool, panned: bool
) -> tuple[list[float], float, int]:
    """One session with a page open: (s/epoch, Chromium CPU s per wall s while it trained,
    grids the overlay drew while it trained)."""
    page = open_page(browser, sessions.url, console)
    wait_ready(page)
    if overlay:
        page.keyboard.press("o")
        page.wait_for_function("document.getElementById('manifold').dataset.seq", timeout=60_000)
    pan = Panner(page)
    grids = int(page.evaluate(GRIDS_JS))
    cpu, wall = chromium_cpu_s(), time.monotonic()
    epochs, version = sessions.train(s.epochs, pan if panned else lambda: None)
    share = (chromium_cpu_s() - cpu) / (time.monotonic() - wall)
    grids = int(page.evaluate(GRIDS_JS)) - grids
    sessions.settle(version)
    page.context.close()
    return epochs, share, grids


def measure_throughput_overlay(
    browser: Any, workspace: Path, s: Settings, console: list[str]
) -> list[Result]:
    """Training throughput beside the page in five states, alternated each round after a
    warm-up session: no page; the page open; the overlay on; the page panned every 2 s; the
    overlay on and panned every 2 s (each pan recomputes the 400-tile grid).

    Rows: each page state against no page (the page-open budget, ≥ 95 %), and the overlay's
    own cost while panning (panned with the overlay against panned without). The notes give
    Chromium's CPU share per state: the page's own cost, which a shared machine disturbs far
    less than it disturbs epoch times."""
    epochs: dict[str, list[float]] = {side: [] for side in SIDES}
    shares: dict[str, list[float]] = {side: [] for side in SIDES if SIDES[side]}
    grids: dict[str, list[int]] = {side: [] for side, state in SIDES.items() if state and state[0]}
    with bench_server(workspace, s.dataset, s.data_dir) as server:
        server.wait_port()
        sessions = Sessions(server)
        try:
            # Warm-up: a new process's first epoch is slow.
            sessions.settle(sessions.train(1, lambda: None)[1])
            for _ in range(s.rounds):
                for side, state in SIDES.items():
                    if state is None:
                        seconds, version = sessions.train(s.epochs, lambda: None)
                        sessions.settle(version)
                        epochs[side] += seconds
                        continue
                    seconds, share, drawn = _page_session(browser, sessions, s, console, *state)
                    epochs[side] += seconds
                    shares[side].append(share)
                    if side in grids:
                        grids[side].append(drawn)
        finally:
            sessions.close()
    p50 = {side: percentile(values, 50) for side, values in epochs.items()}
    cpu = ", ".join(f"{side} {percentile(v, 50) * 100:.1f} %" for side, v in shares.items())
    drawn = ", ".join(f"{side} {' '.join(map(str, v))}" for side, v in grids.items())
    common_note = (
        f"s/epoch medians: {', '.join(f'{k} {v:.2f}' for k, v in p50.items())}; "
        f"{s.rounds} round(s) of {s.epochs} epoch(s) per state, states alternated, each "
        f"session started after the last one's new points were out; "
        f"Chromium CPU share (of one core) while training: {cpu}; "
        f"grids the overlay drew while training, per session: {drawn}"
    )
    rows = []
    for side in ("overlay on", "page open", "overlay on, panned"):
        ratio = p50["no page"] / p50[side] * 100
        rows.append(
            Result(
                f"training throughput, {side} vs no page",
                "≥ 95 %" if side != "overlay on, panned" else "info",
                "%",
                95 if side != "overlay on, panned" else None,
                [ratio] if math.isfinite(ratio) else [],
                judge="p50",
                higher_is_better=True,
                note=common_note if side == "overlay on" else "",
            )
        )
    ratio = p50["page, panned"] / p50["overlay on, panned"] * 100
    rows.append(
        Result(
            "training throughput, panned every 2 s: overlay on vs off",
            "≥ 95 %",
            "%",
            95,
            [ratio] if math.isfinite(ratio) else [],
            judge="p50",
            higher_is_better=True,
            note="what the overlay itself costs while the view moves (each pan: one grid)",
        )
    )
    return rows


def measure_decoder(d: Dashboard) -> list[Result]:
    """The interactive rows on bench_dashboard's open page (a Dashboard)."""
    moves = 20 if d.s.quick else 80
    return [
        measure_preview(d.page, moves),
        measure_grid_server(d.server, 10 if d.s.quick else 40),
        measure_grid_painted(d.page, 5 if d.s.quick else 20),
    ]


def main() -> int:
    """The decoder rows alone, on a workspace with a checkpoint (or a fresh 1-epoch one)."""
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_options(parser)
    parser.add_argument("--workspace", type=Path, help="use this workspace's checkpoint")
    parser.add_argument(
        "--throughput-quick", action="store_true", help="the throughput row on generated data"
    )
    parser.add_argument("--no-throughput", action="store_true", help="the page rows only")
    parser.add_argument(
        "--rounds", type=int, default=None, help="throughput rounds (each state once per round)"
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="alctl-bench-decoder-"))
    console: list[str] = []
    load_start = machine_load()
    try:
        s = make_settings(args, root)
        workspace = root / "ws"
        if args.workspace is not None:
            shutil.copytree(args.workspace, workspace, ignore=shutil.ignore_patterns(".alctl"))
        else:
            make_checkpoint(workspace, s)
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            with open_dashboard(browser, workspace, s, console) as dash:
                results = measure_decoder(dash)
            quick = root / "quick"
            if args.throughput_quick and not args.no_throughput:
                generated = {**vars(args), "quick": True, "data_dir": None, "dataset": "mnist"}
                s = make_settings(argparse.Namespace(**generated), quick)
                s.rounds, s.epochs = 3, 2
                make_checkpoint(quick / "ws", s)
                workspace = quick / "ws"
            if args.rounds:
                s.rounds = args.rounds
            if not args.no_throughput:
                results += measure_throughput_overlay(browser, workspace, s, console)
            browser.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    notes = closing_notes(load_start, console)
    if args.throughput_quick:
        notes.append("the throughput row ran on generated data (3,000 images), 3 rounds")
    print_results(
        f"Decoder budgets, {args.dataset}, real server + headless Chromium", results, notes
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
