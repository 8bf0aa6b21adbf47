"""What the page looks like at 1000×700, 1280×800, 1600×1000 and 1920×1080, by geometry, in
real Chromium against a real `alctl serve`.

One server for the module: 10,000 generated images served as Fashion-MNIST (its class names,
and a header as wide as the real 60,000 images'), 60 labels, two one-epoch sessions (loss
curves with a session boundary, a "Did it get better?" curve, a report to write). Checked at
each size: nothing in the header overlaps or is cut, every control is on screen or (in a
side column that scrolls) reachable by its column's scroll and not covered, the label
buttons stay on screen with a batch chosen, the curves are tall enough for several ticks and
key no line that has no values. Then the manifold overlay, the decoder's caption, the
keyboard help and the report's URL. Every wait is for a state of the page.
"""

from __future__ import annotations

import io
import re
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import box, guard_page, inside, overlap, wait_for
from tests.datagen import seed_labels, write_synthetic_idx
from tests.live_server import LiveServer, SSEReader, running_server

pytestmark = [pytest.mark.browser]

SIZES = [(1000, 700), (1280, 800), (1600, 1000), (1920, 1080)]
THREE_COLUMNS = SIZES[1:]  # from 1200 px on, both side columns show
AT_EACH_SIZE = pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
N_TRAIN = 10_000  # "10,000 training images": as wide as Fashion-MNIST's "60,000"
SEEDED = 60
READY_TIMEOUT_MS = 60_000

# The header's items, in their order; a container (.dataset) is not one.
HEADER = """() => ['.brand', '#dataset-name', '#dataset-source', '.dataset-size', '#checkpoint',
  '.side-tabs', '#keys-open', '#conn'].map((s) => document.querySelector(s))
  .filter((e) => e && e.getClientRects().length && e.offsetWidth)
  .map((e) => { const b = e.getBoundingClientRect();
    return {name: e.id || e.className, left: b.left, top: b.top, width: b.width,
      height: b.height, cut: e.scrollWidth > e.clientWidth + 1}; })"""

# Every control shown: brought to the top of its column by that column's scroll (none where
# `scroll` is false), then inside the window and the element hit at its centre. Columns
# are scrolled back afterwards.
CONTROLS = """(scroll) => {
  const shown = (e) => e.getClientRects().length && !e.closest('dialog:not([open])')
    && getComputedStyle(e).visibility !== 'hidden';
  const bad = [];
  for (const e of document.querySelectorAll('button, input, select, a[href], [role=tab]')) {
    if (!shown(e)) continue;
    if (scroll) e.scrollIntoView({block: 'start', inline: 'nearest'});
    const b = e.getBoundingClientRect();
    const inside = b.left >= -0.5 && b.top >= -0.5 && b.right <= innerWidth + 0.5
      && b.bottom <= innerHeight + 0.5;
    const hit = document.elementFromPoint(b.left + b.width / 2, b.top + b.height / 2);
    if (!inside || !hit || !(hit === e || e.contains(hit))) {
      const under = hit ? hit.id || hit.className : 'nothing';
      bad.push(`${e.id || e.className || e.tagName} ${e.textContent.trim().slice(0, 24)}`
        + ` at ${Math.round(b.left)},${Math.round(b.top)}: under ${under}`);
    }
  }
  for (const c of document.querySelectorAll('.col, .batch-grid')) c.scrollTop = 0;
  return bad;
}"""

# The bottom of the last panel of a column, against the window's height.
COLUMN_END = """(selector) => {
  const panels = [...document.querySelectorAll(selector + ' > .panel')]
    .filter((p) => p.getClientRects().length);
  return Math.max(...panels.map((p) => p.getBoundingClientRect().bottom)); }"""

CUT_TEXT = """() => [...document.querySelectorAll(
  '.chart-title, .chart-latest, .mode, .tool, .label-btn .name, .panel h2, .charts-key')]
  .filter((e) => e.offsetWidth && e.scrollWidth > e.clientWidth + 1).map((e) => e.textContent)"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = write_synthetic_idx(tmp_path_factory.mktemp("geometry-idx"), N_TRAIN, 500)
    workspace = tmp_path_factory.mktemp("geometry-ws")
    seed_labels(workspace, SEEDED, "fashion-mnist")
    with running_server(workspace, data, dataset="fashion-mnist") as live:
        for _ in range(2):  # two sessions: a boundary in the curves, two evaluations
            with SSEReader(live.url) as events:
                started = live.api("POST", "/api/train", {"epochs": 1, "batch_size": 256})
                assert started.status == 202, started.body
                events.until("latent_refreshed")
        yield live


@pytest.fixture()
def open_page(browser: Any, server: LiveServer) -> Iterator[Any]:
    pages: list[tuple[Any, Any]] = []

    def opener(width: int, height: int) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        guard = guard_page(page)
        page.goto(server.url)
        page.wait_for_selector("body[data-ready='1']", timeout=READY_TIMEOUT_MS)
        wait_for(lambda: page.get_attribute("#conn", "data-state") == "live", what="events")
        wait_for(lambda: page.get_attribute("#eval-chart", "data-points") == "2", what="curve")
        wait_for(lambda: not page.is_visible(".charts-empty"), what="the loss curves")
        pages.append((context, guard))
        return page

    yield opener
    for context, guard in pages:
        context.close()
        guard.check()


def window(width: int, height: int) -> dict[str, float]:
    return {"left": 0, "top": 0, "width": width, "height": height}


def lasso_a_batch(page: Any) -> int:
    """Shift+drag a rectangle over the middle of the plot; the size of the batch it made."""
    plot = box(page, "#scatter")
    cx, cy = plot["left"] + plot["width"] / 2, plot["top"] + plot["height"] / 2
    dx, dy = plot["width"] * 0.3, plot["height"] * 0.3
    page.keyboard.down("Shift")
    page.mouse.move(cx - dx, cy - dy)
    page.mouse.down()
    for x, y in ((cx + dx, cy - dy), (cx + dx, cy + dy), (cx - dx, cy + dy), (cx - dx, cy - dy)):
        page.mouse.move(x, y, steps=8)
    page.mouse.up()
    page.keyboard.up("Shift")
    count = wait_for(
        lambda: max(0, page.evaluate("window.alctl.batch.length") - 1), what="a lasso's batch"
    )
    # The thumbnails have their size once their images are in: measure after that.
    wait_for(
        lambda: page.evaluate(
            "[...document.querySelectorAll('.batch-thumb img')]"
            ".every((img) => img.complete && img.naturalWidth > 0)"
        ),
        what="the batch's thumbnails",
    )
    return count + 1


def check_header(page: Any, width: int) -> None:
    items = page.evaluate(HEADER)
    names = [item["name"] for item in items]
    assert "dataset-name" in names and "checkpoint" in names, names
    for i, a in enumerate(items):
        assert a["left"] >= -0.5 and a["left"] + a["width"] <= width + 0.5, a
        for b in items[i + 1 :]:
            assert overlap(a, b) == 0, f"{a['name']} runs into {b['name']}: {a} {b}"
    cut = [i["name"] for i in items if i["cut"] and i["name"] != "dataset-source"]
    assert cut == [], f"cut off in the header: {cut}"
    assert "10,000" in page.text_content(".dataset-size")


@AT_EACH_SIZE
def test_nothing_overlaps_and_every_control_is_on_screen(
    open_page: Any, size: tuple[int, int]
) -> None:
    width, height = size
    page = open_page(width, height)
    check_header(page, width)
    toolbar, plot, charts = box(page, ".toolbar"), box(page, "#scatter"), box(page, "#charts")
    assert overlap(toolbar, plot) == 0 and overlap(plot, charts) == 0
    assert toolbar["height"] <= 48, f"the toolbar wraps: {toolbar}"
    assert charts["top"] + charts["height"] <= height + 0.5
    legend, footer = box(page, "#legend"), box(page, "#scatter-info")
    assert overlap(legend, footer) == 0
    assert page.evaluate(CUT_TEXT) == []
    if size in THREE_COLUMNS:
        # Both side columns hold everything without scrolling: nothing cut off at the foot.
        assert page.evaluate(COLUMN_END, ".col-right") <= height + 0.5
        assert page.evaluate(CONTROLS, False) == []
    else:
        # One side column at a time (tabs); a side column scrolls, and its scroll reaches
        # every control, none covered (by the label buttons pinned to the column's foot).
        assert page.evaluate(CONTROLS, True) == []
        for name in ("queue-next", "label-delete"):
            assert inside(box(page, f"#{name}"), window(width, height)), name
        page.click(".side-tab[data-side='train']")
        assert page.evaluate(CONTROLS, True) == []
        assert inside(box(page, "#train-start"), window(width, height))


@AT_EACH_SIZE
def test_the_label_buttons_stay_on_screen_with_a_batch(
    open_page: Any, size: tuple[int, int]
) -> None:
    """Before, at 1280×800 and 1600×1000 the batch panel pushed them below the window."""
    width, height = size
    page = open_page(width, height)
    assert lasso_a_batch(page) > 48  # a full grid of thumbnails
    assert inside(box(page, "#batch-panel"), window(width, 10_000))
    for selector in ("#label-panel", "#batch-clear", "#batch-count"):
        assert inside(box(page, selector), window(width, height)), selector
    stuck = page.evaluate(CONTROLS, False)
    assert not [s for s in stuck if s.startswith(("label-btn", "label-delete"))], stuck
    assert page.evaluate(CONTROLS, True) == []  # the rest: by the column's own scroll
    page.keyboard.press("Escape")
    wait_for(lambda: page.is_hidden("#batch-panel"), what="the batch gone")


@AT_EACH_SIZE
def test_the_curves_have_room_ticks_and_no_key_for_a_missing_line(
    open_page: Any, server: LiveServer, size: tuple[int, int]
) -> None:
    """Before: plots about 60 px tall at every size, one tick on the log loss, and a
    validation value of "–" in classification and accuracy (no such line exists)."""
    width, height = size
    page = open_page(width, height)
    metrics = ["loss", "reconstruction_loss", "kl_loss", "classification_loss", "accuracy"]
    chart = ".chart[data-metric='{}']"
    for metric in metrics:  # the plot area (uPlot's overlay over it)
        area = box(page, chart.format(metric) + " .u-over")
        assert area["height"] >= 0.1 * height, (metric, area)
    # What the server sends: validation classification has no values (its images train
    # unlabeled); the other validation lines do. No value, no "–", no key entry for them.
    last = server.api("GET", "/api/history").json()["records"][-1]
    assert last["val"]["accuracy"] is None and last["val"]["classification_loss"] is None
    assert last["val"]["loss"] is not None
    head = chart + " .chart-latest"
    for metric in ("classification_loss", "accuracy"):
        values = page.text_content(head.format(metric))
        assert "/" not in values and "–" not in values, (metric, values)
    assert page.text_content(head.format("loss")).count("/") == 1
    key = page.locator(".charts-key:visible").all_text_contents()
    assert key == ["train", "validation", "new session"]
    curves = page.evaluate("window.alctl.curves")
    assert [c["metric"] for c in curves] == metrics
    assert [c["validation"] for c in curves] == [True, True, True, False, False]
    for curve in curves:  # several y ticks on every chart, the log one too
        assert len(curve["ticks"]) >= 3, curve
    # Hovering shows the epoch's values, again without a validation value that is not there.
    over = box(page, chart.format("accuracy") + " .u-over")
    page.mouse.move(over["left"] + over["width"] - 2, over["top"] + over["height"] / 2)
    wait_for(lambda: page.text_content(head.format("accuracy")).startswith("#"), what="hover")
    hovered = page.text_content(head.format("accuracy"))
    assert re.fullmatch(r"#2 \d+\.\d%", hovered), hovered


def pixels(page: Any, area: dict[str, float]) -> list[tuple[int, ...]]:
    """The RGB pixels of a screen area, row by row."""
    from PIL import Image  # matplotlib's dependency: here with every install of the report

    clip = {"x": area["left"], "y": area["top"], "width": area["width"], "height": area["height"]}
    image = Image.open(io.BytesIO(page.screenshot(clip=clip))).convert("RGB")
    data = image.tobytes()
    return [tuple(data[i : i + 3]) for i in range(0, len(data), 3)]


def difference(a: list[tuple[int, ...]], b: list[tuple[int, ...]]) -> int:
    """The largest difference of one colour channel between two equal areas."""
    pairs = zip(a, b, strict=True)
    return max((max(abs(x - y) for x, y in zip(p, q, strict=True)) for p, q in pairs), default=0)


def test_the_manifold_stays_under_the_legend_and_lets_the_points_show(open_page: Any) -> None:
    """Before, the tiles showed through the legend and around the footer, and darkened or
    covered every point."""
    page = open_page(1920, 1080)
    if page.get_attribute("#legend-toggle", "aria-expanded") != "true":
        page.click("#legend-toggle")
    page.mouse.move(2, 2)  # no hover card, no highlight
    plot, legend = box(page, "#scatter"), box(page, "#legend")
    # Inside its rounded corners, where the plot shows, tiles and all.
    legend = {
        "left": legend["left"] + 2,
        "top": legend["top"] + 2,
        "width": legend["width"] - 4,
        "height": legend["height"] - 4,
    }
    spots = page.evaluate(
        """() => { const p = window.alctl.scatter; const out = [];
        const w = document.querySelector('#scatter').clientWidth;
        const h = document.querySelector('#scatter').clientHeight;
        for (let i = 0; i < window.alctl.state.n && out.length < 300; i += 7) {
          const [x, y] = p.getScreenPosition(i);
          if (x > 4 && y > 4 && x < w - 4 && y < h - 4) out.push([Math.round(x), Math.round(y)]); }
        return out; }"""
    )
    assert len(spots) >= 100

    def at_points() -> list[tuple[int, ...]]:
        shot = pixels(page, plot)
        width = round(plot["width"])
        return [shot[y * width + x] for x, y in spots]

    before = (pixels(page, legend), at_points())
    page.keyboard.press("o")
    wait_for(lambda: page.get_attribute("#manifold", "data-seq"), what="the tiles")
    page.wait_for_function(
        "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"
    )
    assert box(page, "#manifold") == plot  # exactly over the plot, nowhere else
    after = (pixels(page, legend), at_points())
    assert difference(before[0], after[0]) <= 2, "tiles show in the legend"
    # The footer gets a ground of its own over the tiles (its pixels depend on the points
    # beneath, so its style is what is checked).
    style = page.evaluate(
        """() => { const s = (id) => getComputedStyle(document.getElementById(id));
        return [s('scatter-info').backgroundColor, +s('scatter-info').zIndex,
          +s('manifold').zIndex, +s('legend').zIndex]; }"""
    )
    assert style[0] == "rgb(17, 19, 24)" and style[1] > style[2] and style[3] > style[2], style
    # The points: where a tile is dark they are unchanged, under a stroke only lightened.
    pairs = list(zip(before[1], after[1], strict=True))
    changes = [max(abs(x - y) for x, y in zip(p, q, strict=True)) for p, q in pairs]
    assert statistics.median(changes) <= 3, statistics.median(changes)
    darker = [sum(q) < sum(p) - 6 for p, q in pairs]
    assert sum(darker) <= 0.02 * len(darker), f"{sum(darker)} of {len(darker)} points darkened"
    page.keyboard.press("o")


def test_the_decoder_caption_tells_the_truth_and_no_old_card_stays(open_page: Any) -> None:
    page = open_page(1280, 800)
    plot = box(page, "#scatter")
    # A point away from the edges (the preview and the card need room around it).
    serial = page.evaluate(
        """() => { const p = window.alctl.scatter; const s = window.alctl.state;
        const w = document.querySelector('#scatter').clientWidth;
        const h = document.querySelector('#scatter').clientHeight;
        for (let i = 0; i < s.n; i++) { const [x, y] = p.getScreenPosition(i);
          if (x > 150 && y > 150 && x < w - 150 && y < h - 150) return i; }
        return null; }"""
    )
    assert serial is not None
    x, y = page.evaluate(f"window.alctl.scatter.getScreenPosition({serial})")
    page.mouse.move(plot["left"] + x, plot["top"] + y)
    wait_for(lambda: page.is_visible("#tooltip"), what="the hover card")
    page.keyboard.press("m")
    # The preview takes the card's place: the old card closes at once.
    assert page.is_hidden("#tooltip")
    page.mouse.move(plot["left"] + x + 1, plot["top"] + y)
    wait_for(lambda: page.is_visible("#decoder-preview"), what="the preview")
    # The caption names the image under the cursor (the one nearest, within 6 px) and the
    # prediction the page holds for it.
    wait_for(lambda: (page.text_content("#decoder-caption") or "").startswith("#"), what="caption")
    caption = page.text_content("#decoder-caption")
    near = int(re.match(r"#(\d+) here: ", caption).group(1))
    nx, ny = page.evaluate(f"window.alctl.scatter.getScreenPosition({near})")
    assert abs(nx - x - 1) <= 6 and abs(ny - y) <= 6, (nx, ny, x, y)
    pred = page.evaluate(f"window.alctl.state.pred[{near}]")
    name = page.evaluate(f"window.alctl.state.classNames[{pred}]")
    assert f"{pred} · {name}" in caption and "no prediction" not in caption, caption
    assert page.is_hidden("#tooltip")
    # Far from every point the classifier has nothing to read, and the caption says so.
    page.mouse.move(plot["left"] + 3, plot["top"] + 3)
    wait_for(
        lambda: page.text_content("#decoder-caption") == "no prediction off the data",
        what="the caption off the data",
    )
    page.keyboard.press("m")


def test_question_mark_lists_every_key(open_page: Any) -> None:
    page = open_page(1280, 800)
    # Before any selection, a digit says how to select, `n` included.
    page.keyboard.press("3")
    note = page.locator(".toast", has_text="Select a sample first")
    wait_for(lambda: note.count() == 1, what="the note")
    assert "press n" in note.text_content()
    page.keyboard.press("?")
    assert page.evaluate("document.getElementById('keys-dialog').open")
    rows = page.locator("#keys-list tr").all_inner_texts()
    table = page.evaluate(
        """async () => (await import('/static/js/keys.js')).KEYS.map((e) => e.label)"""
    )
    assert len(rows) == len(table) >= 15
    assert [r.split("\t")[0].replace("\n", "").strip() for r in rows] == table
    assert any(r.startswith("n") and "queue" in r for r in rows)
    page.keyboard.press("5")  # the dialog has the keyboard: nothing is labeled behind it
    page.keyboard.press("?")
    assert not page.evaluate("document.getElementById('keys-dialog').open")
    page.click("#keys-open")
    assert page.evaluate("document.getElementById('keys-dialog').open")
    page.keyboard.press("Escape")
    assert not page.evaluate("document.getElementById('keys-dialog').open")
    assert page.evaluate("window.alctl.history") == []


def test_the_report_opens_at_its_own_url_and_reloads(open_page: Any, server: LiveServer) -> None:
    """Before, the button opened about:blank and sent it on once written: a tab that could not
    be reloaded or bookmarked while the report was written, nor if that failed."""
    page = open_page(1280, 800)
    link = page.locator("#report-open")
    assert link.get_attribute("href") == "/report" and link.get_attribute("target") == "_blank"
    with page.context.expect_page() as opened:
        link.click()
    tab = opened.value
    tab.wait_for_load_state("load", timeout=120_000)
    assert tab.url == server.url + "report"  # from the first request on: never about:blank
    assert tab.title().startswith("alctl report · fashion-mnist")
    written = server.workspace / "artifacts" / "fashion-mnist" / "report.html"
    assert written.is_file()
    stamp = written.stat().st_mtime_ns
    tab.reload()
    assert tab.url == server.url + "report" and tab.title().startswith("alctl report")
    assert written.stat().st_mtime_ns == stamp  # nothing changed: served, not rebuilt
    tab.close()


def test_get_report_rebuilds_only_when_its_files_changed(server: LiveServer) -> None:
    """`GET /report` brings the file up to date when its inputs changed, else serves it."""
    first = server.api("GET", "/report")
    assert first.status == 200
    path = server.workspace / "artifacts" / "fashion-mnist" / "report.html"
    assert first.body == path.read_bytes()
    labels = {str(i): i % 10 for i in range(SEEDED, SEEDED + 5)}
    assert server.api("POST", "/api/labels", {"labels": labels}).status == 200
    again = server.api("GET", "/report")
    assert again.status == 200 and again.body != first.body
    assert f"{SEEDED + 5}</b>".encode() in again.body  # the labeled count now
    assert server.api("GET", "/report").body == again.body
    assert Path(path).read_bytes() == again.body
