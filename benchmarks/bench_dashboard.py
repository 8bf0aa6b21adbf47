"""Dashboard budgets, measured with a real `alctl serve` and real Chromium.

    python benchmarks/bench_dashboard.py            # Fashion-MNIST 60k (a few minutes)
    python benchmarks/bench_dashboard.py --quick    # tiny generated data (about a minute)
    python benchmarks/bench_dashboard.py --only page-cost   # page open vs no page, A B A B
    python benchmarks/bench_dashboard.py --only scale        # the page at 1M synthetic points

Page-side latencies run on the page's own clock, from the input event's timeStamp to the
first animation frame after the change was drawn (the probe in dashboard_page.py);
benchmarks/README.md says what each row measures.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_decoder import measure_decoder, measure_throughput_overlay
from common import (
    Result,
    bench_server,
    launch_chromium,
    machine_load,
    percentile,
    print_results,
    speed_ratio_row,
)
from dashboard_page import (
    ARM_PAINT_JS,
    HOVER_S,
    VIEWPORT,
    Dashboard,
    Settings,
    add_data_options,
    closing_notes,
    make_checkpoint,
    make_settings,
    ms_stats,
    open_dashboard,
    open_page,
    train_script,
    wait_ready,
    wait_samples,
)
from page_cost import POLICY, launch_browser, measure_page_cost
from page_scale import measure_scale

MODE_KEYS = (("p", "pred"), ("c", "certainty"), ("g", "truth"), ("u", "user"))

COLOUR_CHECK_JS = """async (labeled) => {
  const src = document.querySelector("script[type=module]").src;
  const { CLASS_COLORS } = await import(src.replace(/app\\.js.*$/, "palette.js"));
  return labeled.filter(([s, d]) =>
    window.alctl.pointColor(s).toLowerCase() !== CLASS_COLORS[d].toLowerCase()).length;
}"""
IMAGE_CHECK_JS = """(b64) => {
  const canvas = document.getElementById("img-original");
  const data = canvas.getContext("2d").getImageData(0, 0, 28, 28).data;
  const raw = atob(b64);
  for (let i = 0; i < 784; i++) if (data[4 * i] !== raw.charCodeAt(i)) return false;
  return true;
}"""
PAGE_PUTS_JS = """() => performance.getEntriesByType("resource")
  .filter((e) => /\\/api\\/labels\\/\\d+$/.test(e.name))
  .map((e) => e.duration)"""


def measure_startup(browser: Any, workspace: Path, s: Settings, console: list[str]) -> list[Result]:
    """Spawn → scatter drawn, alternating cold (no prediction cache) and warm starts."""
    artifacts = workspace / "artifacts" / s.dataset
    times: dict[str, list[float]] = {"cold": [], "warm": []}
    listening: dict[str, list[float]] = {"cold": [], "warm": []}
    samples_at: dict[str, list[float]] = {"cold": [], "warm": []}
    cache_seen = False
    for _ in range(s.starts):
        for kind in ("cold", "warm"):
            caches = [p for p in artifacts.glob("*cache*") if p.is_file()]
            if kind == "cold":
                for path in caches:
                    path.unlink()
            else:
                cache_seen = cache_seen or bool(caches)
            with bench_server(workspace, s.dataset, s.data_dir) as server:
                listening[kind].append(server.wait_port())
                page = open_page(browser, server.url, console)
                wait_ready(page)
                ready_wall = page.evaluate("() => __bench.readyWall")
                times[kind].append(ready_wall / 1000 - server.spawned_wall)
                samples_at[kind].append(wait_samples(server))
                _wait_for_cache(artifacts)
                page.context.close()
    results = []
    for kind, what in (("cold", "no prediction cache"), ("warm", "prediction cache")):
        note = (
            f"port open at p50 {percentile(listening[kind], 50):.2f} s; /api/samples answers "
            f"at p50 {percentile(samples_at[kind], 50):.2f} s after spawn"
        )
        if kind == "warm" and not cache_seen:
            note += "; NO cache file appeared in artifacts/, so warm = cold"
        results.append(
            Result(
                f"`alctl serve` → scatter drawn ({what})", "≤ 5 s", "s", 5.0, times[kind], note=note
            )
        )
    return results


def _wait_for_cache(artifacts: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not any(artifacts.glob("*cache*")):
        time.sleep(0.1)


def measure_selection(d: Dashboard) -> list[Result]:
    """Click points (each then labeled with a digit key), then jump to indices."""
    clicks: list[float | None] = []
    labels: list[float | None] = []
    jumps: list[float | None] = []
    hits, labeled = 0, {}
    d.page.keyboard.press("u")
    for _ in range(d.s.clicks):
        ms, hit = d.click_random_point()
        clicks.append(ms)
        hits += hit
        ms, serial, digit = d.label_selected()
        labels.append(ms)
        labeled[serial] = digit
    for _ in range(d.s.jumps):
        jumps.append(d.jump(int(d.rng.integers(d.n))))
    shown = d.page.evaluate("() => window.alctl.state.selected")
    original = d.http.get(f"/api/samples/{shown}").json()["original"]
    image_ok = d.page.evaluate(IMAGE_CHECK_JS, original)
    d.page.wait_for_function("() => window.alctl.pendingWrites === 0")
    wrong_colour = d.page.evaluate(COLOUR_CHECK_JS, [[s, v] for s, v in labeled.items()])
    page_puts = d.page.evaluate(PAGE_PUTS_JS)
    durable = _labels_on_disk(d.server.workspace, d.s.dataset)
    server_ms, put_ms = _server_label_times(d)
    kept = sum(1 for serial, digit in labeled.items() if durable.get(serial) == digit)
    timings = d.page.evaluate("() => window.alctl.state.timings")
    how = (
        "Server-Timing of PUT /api/labels/N"
        if server_ms
        else "no Server-Timing header, so a PUT's round trip from Python over keep-alive "
        "(an upper bound)"
    )
    return [
        _latency(
            "click a point → original + reconstruction painted", 50, clicks,
            f"real mouse, {HOVER_S * 1000:.0f} ms hover first (the page prefetches on hover); "
            f"hit the aimed point {hits}/{len(clicks)}; pointerup → scatter's select event "
            f"{ms_stats(d.select_ms)}; the page's own samplePaint timing "
            f"{ms_stats(timings.get('samplePaint', []))}; canvas equals /api/samples: {image_ok}",
        ),
        _latency(
            "jump to index → original + reconstruction painted", 50, jumps,
            "Enter in the jump box; no hover, so no prefetch (an uncached fetch)",
        ),
        Result(
            "label key → label durable in CSV (server-side)", "≤ 20 ms p95", "ms", 20,
            server_ms or put_ms,
            note=f"{how}; the page's own PUTs took {ms_stats(page_puts)}; "
            f"{kept}/{len(labeled)} page labels in the CSV afterwards",
        ),
        _latency(
            "label key → point recoloured", 50, labels,
            "digit key → first frame after the scatter redrew with the new label; page's own "
            f"labelRecolor timing {ms_stats(timings.get('labelRecolor', []))}; "
            f"{len(labeled) - wrong_colour}/{len(labeled)} labeled points show their class colour",
        ),
    ]  # fmt: skip


def measure_queue(d: Dashboard) -> list[Result]:
    """Label `clicks` samples from the queue: `n` once, then one digit key per sample."""
    d.page.keyboard.press("Escape")
    d.page.wait_for_function("() => (window.alctl.queue?.items ?? []).length > 0")
    d.page.evaluate(ARM_PAINT_JS, "keydown")
    d.page.keyboard.press("n")
    d.pending()
    keys, per_label = 1, []
    labeled: dict[int, int] = {}
    started = time.perf_counter()
    for step in range(d.s.clicks):
        serial = int(d.page.evaluate("() => window.alctl.state.selected"))
        digit = step % 10
        d.page.evaluate(ARM_PAINT_JS, "keydown")
        d.page.keyboard.press(str(digit))
        keys += 1
        per_label.append(d.pending())
        labeled[serial] = digit
    d.page.wait_for_function("() => window.alctl.pendingWrites === 0")
    wall_s = time.perf_counter() - started
    durable = _labels_on_disk(d.server.workspace, d.s.dataset)
    kept = sum(1 for serial, digit in labeled.items() if durable.get(serial) == digit)
    own = d.page.evaluate("() => window.alctl.state.timings.queueNext")
    return [
        _latency(
            "digit → next queued sample painted", 50, per_label,
            "queue flow with auto-advance: digit keydown → both images of the next queued "
            f"sample painted (+1 frame); the page's own queueNext timing {ms_stats(own)}",
        ),
        Result(
            f"label {len(labeled)} from the queue (keys, wall time)", "1 key per label", "keys",
            1.0, [(keys - 1) / len(labeled)],
            note=f"digit keys per label, plus one `n` to start ({keys} keys in all); "
            f"{wall_s:.1f} s from the first digit to the last write answered; "
            f"{kept}/{len(labeled)} in the CSV",
        ),
    ]  # fmt: skip


def _latency(name: str, limit_ms: float, samples: list[float | None], note: str) -> Result:
    """A page latency row; measurements that timed out are left out and counted."""
    kept = [s for s in samples if s is not None]
    lost = len(samples) - len(kept)
    if lost:
        note += f"; {lost} of {len(samples)} timed out (5 s) and are left out"
    return Result(name, f"≤ {limit_ms:g} ms p95", "ms", limit_ms, kept, note=note)


def _server_label_times(d: Dashboard) -> tuple[list[float], list[float]]:
    server_ms, put_ms = [], []
    for _ in range(d.s.clicks):
        serial, digit = int(d.rng.integers(d.n)), int(d.rng.integers(10))
        started = time.perf_counter()
        response = d.http.put(f"/api/labels/{serial}", json={"label": digit})
        put_ms.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        timing = _server_timing_ms(response.headers.get("server-timing"))
        if timing is not None:
            server_ms.append(timing)
        time.sleep(0.02)
    return server_ms, put_ms


def _server_timing_ms(header: str | None) -> float | None:
    """Sum of the `dur=` values of a Server-Timing header."""
    if not header:
        return None
    total, found = 0.0, False
    for part in header.replace(",", ";").split(";"):
        key, _, value = part.strip().partition("=")
        if key == "dur":
            total, found = total + float(value), True
    return total if found else None


def _labels_on_disk(workspace: Path, dataset: str) -> dict[int, int]:
    path = workspace / "data" / dataset / "labels.csv"
    with path.open(newline="") as handle:
        return {int(row["Serial"]): int(row["label"]) for row in csv.DictReader(handle)}


def measure_modes(d: Dashboard) -> Result:
    d.page.evaluate("() => document.activeElement && document.activeElement.blur()")
    times = []
    for _ in range(d.s.mode_rounds):
        for key, mode in MODE_KEYS:
            times.append(d.switch_mode(key, mode))
            time.sleep(0.05)
    timings = d.page.evaluate("() => window.alctl.state.timings.modeSwitch")
    return _latency(
        f"colour-mode switch, {d.n:,} points",
        50,
        times,
        f"key u/p/c/g → first frame after the scatter redrew; 4 modes × {d.s.mode_rounds}; "
        f"the page's own modeSwitch timing {ms_stats(timings)}",
    )


def measure_api_under_training(d: Dashboard, start_ms: list[float | None]) -> Result:
    """Start a long session from the page, hammer the API, stop it from the page."""
    ms, session = d.start_training(500)
    start_ms.append(ms)
    per_kind: dict[str, list[float]] = {"status": [], "sample": [], "label": []}
    for i in range(d.s.hammer):
        kind = ("status", "sample", "label")[i % 3]
        serial = int(d.rng.integers(d.n))
        started = time.perf_counter()
        if kind == "status":
            response = d.http.get("/api/status")
        elif kind == "sample":
            response = d.http.get(f"/api/samples/{serial}")
        else:
            response = d.http.put(f"/api/labels/{serial}", json={"label": int(serial % 10)})
        per_kind[kind].append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        time.sleep(0.01)
    state = d.http.get("/api/status").json()["training"]["state"]
    d.page.click("#train-stop")
    d.wait_idle(session, timeout=600)
    all_ms = [v for values in per_kind.values() for v in values]
    detail = "; ".join(f"{k} {ms_stats(v)}" for k, v in per_kind.items())
    warn = "" if state == "running" else f" (WARNING: training was {state} at the end)"
    return Result(
        "any API call while training",
        "≤ 100 ms p95",
        "ms",
        100,
        all_ms,
        note=f"GET status / GET sample / PUT label round-robin from Python, 10 ms "
        f"apart, page open{warn}: {detail}",
    )


def measure_throughput(d: Dashboard, root: Path, start_ms: list[float | None]) -> list[Result]:
    """scripts/train.py and the server, same checkpoint, labels and settings, back to back.

    Rounds alternate which one goes first, so a machine getting busier or calmer during
    the run does not favour either side.
    """
    script_s: list[float] = []
    server_s: list[float] = []
    sessions: list[int] = []
    hparams = d.http.get("/api/status").json()["hparams"]
    for round_no in range(d.s.rounds):
        if round_no % 2 == 0:
            script_s += _script_epochs(d, root / "script-ws", hparams)
        ms, session = d.start_training(d.s.epochs)
        start_ms.append(ms)
        d.wait_idle(session, timeout=1800)
        sessions.append(session)
        server_s += [
            float(r["seconds"])
            for _, r in d.events.named("train_epoch")
            if r.get("session") == session
        ]
        if round_no % 2 == 1:
            script_s += _script_epochs(d, root / "script-ws", hparams)
    # One epoch slowed by a neighbour's burst must not decide the row: compare medians over
    # every epoch of each side, and show the fastest epochs (the least disturbed) as well.
    ratio = percentile(script_s, 50) / percentile(server_s, 50) * 100
    best = min(script_s, default=math.nan) / min(server_s, default=math.nan) * 100
    epochs = f"script {_seconds(script_s)}; server {_seconds(server_s)}"
    shown, source, gaps, rate = _epoch_display(d, sessions)
    return [
        Result(
            "epoch end → page shows it",
            "≤ 250 ms p95",
            "ms",
            250,
            shown,
            note="first frame after the page's latest-losses panel changed, measured from "
            + source,
        ),
        Result(
            "batch progress on the page (gap between updates)",
            "≤ 500 ms p95",
            "ms",
            500,
            gaps,
            note=f"train_progress events seen by the page within an epoch; "
            f"{rate:.1f} updates/s overall; max gap {max(gaps, default=math.nan):.0f} ms",
        ),
        speed_ratio_row(
            "training throughput inside the server vs scripts/train.py",
            ratio,
            f"script s/epoch ÷ server s/epoch, medians: {percentile(script_s, 50):.2f} s ÷ "
            f"{percentile(server_s, 50):.2f} s (page open, SSE connected); fastest epochs: "
            f"{best:.0f} %; {d.s.rounds} round(s) of {d.s.epochs} epoch(s), alternating which "
            f"goes first; per epoch: {epochs}",
        ),
    ]


def _seconds(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values) + " s"


def _script_epochs(d: Dashboard, workspace: Path, hparams: dict[str, Any]) -> list[float]:
    """Copy the server's checkpoint and labels, train the same epochs with scripts/train.py."""
    shutil.rmtree(workspace, ignore_errors=True)
    for part in (f"artifacts/{d.s.dataset}/ssvae.ckpt", f"data/{d.s.dataset}/labels.csv"):
        (workspace / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(d.server.workspace / part, workspace / part)
    flags = {"batch_size", "learning_rate", "recon_weight", "kl_weight", "label_weight"}
    options = [f"--{k.replace('_', '-')}={v}" for k, v in hparams.items() if k in flags]
    train_script(workspace, d.s, d.s.epochs, *options, timeout=3600)
    with (workspace / f"artifacts/{d.s.dataset}/history.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [float(r["seconds"]) for r in rows[-d.s.epochs :]]


def _epoch_display(
    d: Dashboard, sessions: list[int]
) -> tuple[list[float], str, list[float], float]:
    """(epoch end → shown ms, what it was measured from, progress gaps ms, updates/s)."""
    entries = d.page.evaluate(
        "() => __bench.sse.map((e) => ({name: e.name, t: e.t, wall: e.wall, "
        "shownWall: e.shownWall ?? null, session: e.data.session, epoch: e.data.epoch, "
        "time: e.data.time ?? e.data.ended_at ?? e.data.timestamp ?? null}))"
    )
    ours = [e for e in entries if e["session"] in sessions]
    epochs = [e for e in ours if e["name"] == "train_epoch" and e["shownWall"] is not None]
    if epochs and all(isinstance(e["time"], (int, float)) for e in epochs):
        shown = [e["shownWall"] - e["time"] * 1000 for e in epochs]
        source = "the server's epoch-end timestamp in the event"
    else:
        # No server timestamp: from the page's receipt of the event, so the server's own
        # delay between the epoch end and the send is not included.
        shown = [e["shownWall"] - e["wall"] for e in epochs]
        source = "the page's receipt of train_epoch (the event has no epoch-end timestamp)"
    python_lag = [
        e["wall"] - t * 1000
        for t, r in d.events.named("train_epoch")
        for e in epochs
        if (r.get("session"), r.get("epoch")) == (e["session"], e["epoch"])
    ]
    source += f"; page receipt minus a Python SSE client's receipt: {ms_stats(python_lag)}"
    progress = [e for e in ours if e["name"] == "train_progress"]
    gaps = [
        b["t"] - a["t"]
        for a, b in itertools.pairwise(progress)
        if (a["session"], a["epoch"]) == (b["session"], b["epoch"])
    ]
    span = sum(gaps) / 1000
    return shown, source, gaps, (len(gaps) / span if span else math.nan)


def measure_live(browser: Any, root: Path, s: Settings, console: list[str]) -> list[Result]:
    """Rows 2-8: one warm server with one page open, in the order of the budget table."""
    with open_dashboard(browser, root / "ws", s, console) as dash:
        results = measure_selection(dash)
        results += measure_queue(dash)
        results.append(measure_modes(dash))
        results += measure_decoder(dash)
        print("page interactions measured", flush=True)
        start_ms: list[float | None] = []
        api_row = measure_api_under_training(dash, start_ms)
        shown, progress, throughput = measure_throughput(dash, root, start_ms)
    start_row = _latency(
        "“Start training” → page shows it running",
        250,
        start_ms,
        "click Start → first frame after the training badge says running",
    )
    start_row.budget = "≤ 250 ms p95"
    return [*results, start_row, shown, progress, api_row, throughput]


def measure_queue_alone(
    browser: Any, workspace: Path, s: Settings, console: list[str]
) -> list[Result]:
    """The queue rows by themselves (`--only queue`): a fresh server and page."""
    with open_dashboard(browser, workspace, s, console) as dash:
        return measure_queue(dash)


def page_cost_row(browser: Any, workspace: Path, s: Settings, rounds: int, epochs: int) -> Result:
    """Training speed with the page open vs no page, alctl choosing its threads."""
    measured, order = measure_page_cost(
        browser,
        workspace,
        s.dataset,
        s.data_dir,
        settings=[POLICY],
        rounds=rounds,
        epochs=epochs,
        viewport=VIEWPORT,
        settle_s=5.0 if s.quick else 25.0,
    )
    side = measured[0]
    return speed_ratio_row(
        "training speed with the page open vs no page",
        side.alone.median / side.page.median * 100,
        f"no-page s/epoch ÷ page-open s/epoch, medians over all epochs: "
        f"{side.alone.median:.2f} s ÷ {side.page.median:.2f} s; {' '.join(order)}, {epochs} "
        f"epochs each, batch 128, server settled first; Chromium composites through "
        f"SwiftShader at 1440×900 and used "
        f"{' '.join(f'{100 * v:.1f}' for v in side.page.chromium)} % of a core while the "
        f"page-open sessions trained; threads in use: "
        f"{'/'.join(sorted(side.page.threads | side.alone.threads))}; "
        f"benchmarks/bench_page_cost.py compares thread settings",
    )


def run(args: argparse.Namespace) -> int:
    from playwright.sync_api import sync_playwright

    load_start = machine_load()
    root = Path(tempfile.mkdtemp(prefix="alctl-bench-"))
    console: list[str] = []
    try:
        s = make_settings(args, root)
        print(f"bench_dashboard: {s.dataset} in {root}; {load_start}", flush=True)
        make_checkpoint(root / "ws", s)
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            results: list[Result] = []
            if args.only == "all":
                results += measure_startup(browser, root / "ws", s, console)
                print("start-up measured", flush=True)
                results += measure_live(browser, root, s, console)
                results += measure_throughput_overlay(browser, root / "ws", s, console)
            if args.only == "queue":
                results += measure_queue_alone(browser, root / "ws", s, console)
            if args.only in ("all", "page-cost"):
                # Its own Chromium: GPU compositing through SwiftShader, the harder case.
                harder = launch_browser(playwright, "swiftshader")
                results.append(
                    page_cost_row(
                        harder,
                        root / "ws",
                        s,
                        rounds=args.cost_rounds or s.cost_rounds,
                        epochs=args.cost_epochs or s.cost_epochs,
                    )
                )
                harder.close()
            if args.only in ("all", "scale"):
                results += measure_scale(
                    browser,
                    root / "ws",
                    s.dataset,
                    s.data_dir,
                    viewport=VIEWPORT,
                    loads=1 if s.quick else 2,
                    n=args.points,
                )
            browser.close()
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    notes = closing_notes(load_start, console)
    if s.quick:
        notes.append("--quick: tiny generated data, few repetitions: not the budgets' verdicts")
    title = f"Dashboard budgets, {s.dataset}, real server + headless Chromium"
    print_results(title, results, notes)
    return 0 if all(r.verdict != "NOT MEASURED" for r in results) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_options(parser)
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    parser.add_argument(
        "--only",
        choices=("all", "queue", "page-cost", "scale"),
        default="all",
        help="run one group of rows",
    )
    parser.add_argument(
        "--points", type=int, default=1_000_000, help="synthetic points of the scale rows"
    )
    parser.add_argument("--cost-rounds", type=int, help="page-cost rounds (page open, no page)")
    parser.add_argument("--cost-epochs", type=int, help="epochs per page-cost session")
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
