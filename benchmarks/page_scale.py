"""The page at 1,000,000 points: load, pan, zoom, colour switch, select, label.

The server runs on the benchmark's 60k dataset; the page is handed a synthetic latent of
1M points instead (10 Gaussian blobs, random classes and certainties): a Playwright route
answers `/api/points` from a file, and the page's embedded config announces 1M points so
the page takes the path a 1M dataset would (the library's performance mode, no draw order).
Selecting and labeling use serials below 60k, which the real server knows. The route's
transfer through Playwright is slower than the loopback socket would be, so the notes split
the load into fetch, decode and first draw as the page measures them.
"""

from __future__ import annotations

import itertools
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import Result, bench_server, machine_load, percentile

POINTS = 1_000_000

# Read-only instruments: draw times of the scatter and the page's own phase marks.
PROBE_JS = """
(() => {
  window.__scale = { draws: [] };
  window.alctl.scatter.subscribe('draw', () => window.__scale.draws.push(performance.now()));
})()
"""


# The page's own split of its points load (ms): fetch + decode, adopt (palette codes), total.
PHASES_JS = """(() => { const t = window.alctl.state.timings;
  const f = (name) => t[name].map((v) => v.toFixed(0)).join('/');
  return `fetch+decode ${f('pointsFetch')}, adopt ${f('pointsAdopt')}, total ${f('pointsLoad')}`;
})()"""


def synthetic_points(n: int, seed: int = 0) -> bytes:
    """An /api/points body (docs/api.md layout) of `n` clustered points."""
    rng = np.random.default_rng(seed)
    cls = rng.integers(0, 10, n)
    centres = rng.uniform(-0.7, 0.7, (10, 2))
    xy = (centres[cls] + rng.normal(0, 0.12, (n, 2))).clip(-1, 1).astype("<f4")
    certainty = rng.uniform(0.1, 1.0, n).astype("<f4")
    pred = np.where(rng.random(n) < 0.8, cls, rng.integers(0, 10, n)).astype(np.int8)
    user = np.full(n, -1, np.int8)
    return (
        xy.tobytes()
        + certainty.tobytes()
        + pred.tobytes()
        + cls.astype(np.int8).tobytes()
        + (user.tobytes())
    )


def _route_synthetic(context: Any, body_file: Path, n: int) -> None:
    headers = {
        "Content-Type": "application/octet-stream",
        "X-Points-Count": str(n),
        "X-Latent-Version": "1",
        "Cache-Control": "no-store",
    }
    context.route("**/api/points", lambda route: route.fulfill(path=body_file, headers=headers))

    def page(route: Any) -> None:
        response = route.fetch()
        html = re.sub(r'"n_samples": \d+', f'"n_samples": {n}', response.text())
        route.fulfill(response=response, body=html)

    context.route(re.compile(r"^http://127\.0\.0\.1:\d+/$"), page)


def _frame_ms(page: Any, act: Any) -> list[float]:
    """Gaps between scatter draws while `act()` moves the view, until the loop rests."""
    page.evaluate("window.__scale.draws.length = 0")
    act()
    page.wait_for_function("!window.alctl.scatterAnimating", timeout=60_000)
    draws = page.evaluate("window.__scale.draws")
    return [b - a for a, b in itertools.pairwise(draws)]


def measure_scale(
    browser: Any,
    workspace: Path,
    dataset: str,
    data_dir: Path | None,
    *,
    viewport: dict[str, int],
    loads: int = 2,
    n: int = POINTS,
) -> list[Result]:
    body_file = Path(tempfile.mkstemp(prefix="alctl-points-", suffix=".bin")[1])
    body_file.write_bytes(synthetic_points(n))
    load_s: list[float] = []
    phases: list[str] = []
    with bench_server(workspace, dataset, data_dir) as server:
        server.wait_port()
        for _ in range(loads):
            context = browser.new_context(viewport=viewport)
            _route_synthetic(context, body_file, n)
            page = context.new_page()
            started = time.perf_counter()
            page.goto(server.url)
            page.wait_for_selector("body[data-ready='1']", timeout=300_000)
            load_s.append(time.perf_counter() - started)
            phases.append(page.evaluate(PHASES_JS))
            if len(load_s) < loads:
                context.close()
        real_n = int(page.evaluate("fetch('/api/status').then((r) => r.json())")["n_samples"])
        results = _interact(page, n, [int(real_n * f) for f in (0.01, 0.2, 0.4, 0.6, 0.8)])
        context.close()
    body_file.unlink()
    load = Result(
        f"{n:,} points: open the page → scatter drawn",
        "usable: ≤ 10 s",
        "s",
        10,
        load_s,
        note=f"synthetic latent; the page's points load per open (ms): {'; '.join(phases)} "
        f"(total = until drawn); {machine_load()}",
    )
    return [load, *results]


def _interact(page: Any, n: int, serials: list[int]) -> list[Result]:
    page.evaluate(PROBE_JS)
    page.wait_for_function("!window.alctl.scatterAnimating", timeout=60_000)
    box = page.locator("#scatter").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    def pan() -> None:
        page.mouse.move(cx, cy)
        page.mouse.down()
        for step in range(1, 21):
            page.mouse.move(cx + 10 * step, cy + 5 * step)
            page.wait_for_timeout(30)
        page.mouse.up()

    def zoom() -> None:
        page.mouse.move(cx, cy)
        for _ in range(8):
            page.mouse.wheel(0, -120)
            page.wait_for_timeout(40)

    pan_ms = _frame_ms(page, pan)
    zoom_ms = _frame_ms(page, zoom)
    page.keyboard.press("r")
    page.wait_for_function("!window.alctl.scatterAnimating", timeout=60_000)
    for _ in range(2):
        for key in "pcgu":
            page.keyboard.press(key)
            page.wait_for_function("!window.alctl.scatterAnimating", timeout=60_000)
    for serial in serials:  # ones the real server has
        page.fill("#jump-input", str(serial))
        page.press("#jump-input", "Enter")
        page.wait_for_function(
            f"document.querySelector('#sample-panel .images').dataset.painted === '{serial}'",
            timeout=60_000,
        )
        page.keyboard.press(str(serial % 10))
        page.wait_for_function("window.alctl.pendingWrites === 0", timeout=60_000)
        page.wait_for_function("!window.alctl.scatterAnimating", timeout=60_000)
    timings = page.evaluate("window.alctl.state.timings")
    size = f"{n:,} points"
    return [
        _row(f"{size}: frame while panning (drag)", "usable: ≤ 200 ms", 200, pan_ms),
        _row(f"{size}: frame while zooming (wheel)", "usable: ≤ 200 ms", 200, zoom_ms),
        _row(f"{size}: colour-mode switch", "usable: ≤ 1000 ms", 1000, timings["modeSwitch"]),
        _row(f"{size}: Go to index → images painted", "≤ 50 ms", 50, timings["samplePaint"]),
        _row(
            f"{size}: label key → point recoloured",
            "usable: ≤ 500 ms",
            500,
            timings["labelRecolor"],
        ),
    ]


def _row(name: str, budget: str, limit: float, samples: list[float]) -> Result:
    note = f"p50 {percentile(samples, 50):.0f} ms over {len(samples)}" if samples else "none"
    return Result(name, budget, "ms", limit, list(samples), note=note)
