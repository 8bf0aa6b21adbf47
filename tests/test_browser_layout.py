"""The page at the window sizes people use, and across a training refresh, in real Chromium.

One `alctl serve` on a fresh (untrained) workspace of tiny generated data. The layout tests
measure the DOM at 1000×700, 1280×800 and 1920×1080; the refresh test trains for real and
checks the view, the hover card, the header and the curves afterwards. Every wait is for a
state of the page, never a fixed sleep.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import PLOT_VIEW, box, guard_page, overlap, wait_for
from tests.live_server import LiveServer, running_server

pytestmark = [
    pytest.mark.browser,
]

READY_TIMEOUT_MS = 60_000
ZOOM_LIMITS = (0.5, 40)  # static/js/viewport.js

CUT_TEXT = """() => [...document.querySelectorAll('.chart-title, .chart-latest, .mode, .tool')]
  .filter((e) => e.offsetWidth && e.scrollWidth > e.clientWidth + 1).map((e) => e.textContent)"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> Iterator[LiveServer]:
    with running_server(tmp_path_factory.mktemp("layout-ws"), tiny_data_dir) as live:
        yield live


@pytest.fixture()
def open_page(browser: Any, server: LiveServer) -> Iterator[Any]:
    pages: list[tuple[Any, Any]] = []

    def opener(width: int = 1280, height: int = 800) -> tuple[Any, Any]:
        page = browser.new_page(viewport={"width": width, "height": height})
        guard = guard_page(page)
        page.goto(server.url)
        page.wait_for_selector("body[data-ready='1']", timeout=READY_TIMEOUT_MS)
        wait_for(lambda: page.get_attribute("#conn", "data-state") == "live", what="events")
        pages.append((page, guard))
        return page, guard

    yield opener
    for page, guard in pages:
        page.close()
        guard.check()


def test_at_1000x700_the_plot_gets_the_room(open_page: Any) -> None:
    page, _ = open_page(1000, 700)
    plot = box(page, "#scatter")
    assert plot is not None
    # Before: 408×506 px with three columns; the side columns are tabs now. An untrained
    # model's first screen has its hint above the plot, never over it.
    hint = box(page, "#first-hint")
    if hint is not None:
        assert overlap(hint, plot) == 0
        assert plot["width"] >= 700 and plot["height"] >= 400, plot
        page.click("#first-hint-close")
        wait_for(lambda: box(page, "#first-hint") is None, what="the hint closed")
    wait_for(lambda: box(page, "#scatter")["height"] >= 450, what="the plot taking the room")
    plot = box(page, "#scatter")
    assert plot["width"] >= 700, plot
    toolbar = box(page, ".toolbar")
    assert toolbar["top"] + toolbar["height"] <= plot["top"] + 0.5, "the toolbar covers the plot"
    assert toolbar["height"] <= 48, f"the toolbar wraps: {toolbar}"
    # The legend starts folded: a small pill, not a third of the plot.
    legend = box(page, "#legend")
    assert overlap(legend, plot) <= 0.02 * plot["width"] * plot["height"], legend
    assert page.get_attribute("#legend-toggle", "aria-expanded") == "false"
    charts = box(page, "#charts")
    assert overlap(charts, plot) == 0
    assert page.evaluate(CUT_TEXT) == []
    # One side column at a time: the tabs switch between labeling and training.
    assert box(page, ".col-left") is not None and box(page, ".col-right") is None
    page.click(".side-tab[data-side='train']")
    assert box(page, ".col-left") is None and box(page, ".col-right") is not None
    assert page.is_visible("#train-start")
    page.click(".side-tab[data-side='label']")
    assert box(page, ".col-left") is not None


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
def test_larger_windows_show_three_columns_and_whole_titles(
    open_page: Any, size: tuple[int, int]
) -> None:
    page, _ = open_page(*size)
    assert not page.is_visible(".side-tabs")
    left, right, plot = box(page, ".col-left"), box(page, ".col-right"), box(page, "#scatter")
    assert left and right and plot
    assert left["left"] + left["width"] <= plot["left"] + 0.5
    assert plot["left"] + plot["width"] <= right["left"] + 0.5
    assert box(page, ".toolbar")["height"] <= 48
    assert page.evaluate(CUT_TEXT) == []
    titles = page.locator(".chart-title").all_text_contents()
    assert titles == ["total loss (log)", "reconstruction", "KL", "classification", "accuracy"]


def test_the_legend_folds_and_the_choice_is_kept(open_page: Any) -> None:
    page, _ = open_page(1920, 1080)
    plot = box(page, "#scatter")
    assert page.get_attribute("#legend-toggle", "aria-expanded") == "true"  # a large plot
    opened = box(page, "#legend")
    page.click("#legend-toggle")
    folded = box(page, "#legend")
    assert folded["height"] < opened["height"] / 2
    assert overlap(folded, plot) <= 0.005 * plot["width"] * plot["height"]
    page.keyboard.press("c")  # another mode redraws the legend: it stays folded
    assert page.get_attribute("#legend-toggle", "aria-expanded") == "false"
    page.reload()
    page.wait_for_selector("body[data-ready='1']", timeout=READY_TIMEOUT_MS)
    assert page.get_attribute("#legend-toggle", "aria-expanded") == "false"


def test_zoom_stops_at_its_limits_both_ways(open_page: Any) -> None:
    """Before, about 12 wheel notches in left an empty view; now the zoom stops."""
    page, _ = open_page()
    plot = box(page, "#scatter")
    page.mouse.move(plot["left"] + plot["width"] / 2, plot["top"] + plot["height"] / 2)
    scaling = "Math.max(...window.alctl.scatter.get('camera').scaling)"
    for direction, limit in ((-1, ZOOM_LIMITS[1]), (1, ZOOM_LIMITS[0])):
        for _ in range(40):
            page.mouse.wheel(0, direction * 400)
        wait_for(
            lambda limit=limit: abs(page.evaluate(scaling) - limit) < 1e-6 * limit,
            what=f"the zoom to stop at {limit}",
        )


def test_error_toasts_are_capped_and_repeats_counted(open_page: Any) -> None:
    page, guard = open_page()
    guard.allow("status of 409")
    page.route(
        "**/api/labels/*",
        lambda route: route.fulfill(status=409, json={"error": "refused for the test"}),
    )
    for serial in (201, 202, 203, 204, 205):
        page.fill("#jump-input", str(serial))
        page.press("#jump-input", "Enter")
        wait_for(lambda s=serial: page.evaluate("window.alctl.state.selected") == s, what="pick")
        page.keyboard.press("4")
        wait_for(
            lambda s=serial: page.locator(".toast-error", has_text=f"#{s}").count() == 1,
            what=f"the error for #{serial}",
        )
        assert page.locator(".toast-error").count() <= 3
    texts = page.locator(".toast-error .toast-text").all_text_contents()
    assert [t.split("#")[1][:3] for t in texts] == ["203", "204", "205"], texts
    # The same failure again is counted on its toast, not stacked.
    page.keyboard.press("4")
    wait_for(
        lambda: page.locator(".toast-error .toast-count").last.text_content() == "×2",
        what="the count",
    )
    assert page.locator(".toast-error").count() == 3


def hover_point(page: Any, serial: int) -> None:
    """Moves the mouse onto point `serial` and waits for its hover card."""
    plot = box(page, "#scatter")
    x, y = page.evaluate(f"window.alctl.scatter.getScreenPosition({serial})")
    page.mouse.move(plot["left"] + x, plot["top"] + y)
    wait_for(
        lambda: (
            page.evaluate("document.querySelector('#tooltip').hidden") is False
            and page.get_attribute("#tooltip", "data-index") == str(serial)
        ),
        timeout=10,
        what=f"the hover card of #{serial}",
    )


def card_facts(page: Any) -> dict[str, str]:
    """The open hover card's rows ({} while it is closed: a closed card's text has no layout,
    so its rows do not split into key and value)."""
    if page.evaluate("document.querySelector('#tooltip').hidden"):
        return {}
    rows = page.locator("#tooltip .tip-row").all_inner_texts()
    return {row.split(maxsplit=1)[0]: row.split(maxsplit=1)[1].strip() for row in rows}


def lone_point(page: Any) -> int:
    """A point with no other within 6 px on screen (the mouse then hovers that one)."""
    return page.evaluate(
        """(() => { const p = window.alctl.scatter; const n = window.alctl.state.n;
        const pos = Array.from({length: n}, (_, i) => p.getScreenPosition(i));
        const w = document.querySelector('#scatter').clientWidth;
        const h = document.querySelector('#scatter').clientHeight;
        for (let i = 0; i < n; i++) { const [x, y] = pos[i];
          if (x < 40 || y < 40 || x > w - 40 || y > h - 200) continue;
          if (pos.every(([a, b], j) => j === i || Math.hypot(a - x, b - y) > 6)) return i; }
        return null; })()"""
    )


def train_epochs(page: Any, epochs: int, server: LiveServer | None = None) -> None:
    """Trains from the form, or with `server` from outside the page (the mouse stays put)."""
    version = page.evaluate("window.alctl.state.latentVersion")
    if server is not None:
        started = server.api("POST", "/api/train", {"epochs": epochs, "batch_size": 64})
        assert started.status == 202, started.body
    else:
        if page.is_visible(".side-tabs"):  # a narrow window: the form is on the Train tab
            page.click(".side-tab[data-side='train']")
        page.fill("input[name=epochs]", str(epochs))
        page.fill("input[name=batch_size]", "64")
        page.click("#train-start")
    wait_for(
        lambda: page.evaluate("window.alctl.state.latentVersion") != version,
        timeout=180,
        what="the refreshed latent",
    )
    wait_for(lambda: page.text_content("#train-state") == "idle", what="the session's end")


def test_a_training_refresh_refits_the_view_and_the_hover_card_follows(
    open_page: Any, server: LiveServer
) -> None:
    page, _ = open_page()
    # An untrained first screen says what to do first; closing it hides it.
    assert page.is_visible("#first-hint")
    assert "Start training" in page.text_content("#first-hint")
    assert overlap(box(page, "#first-hint"), box(page, "#scatter")) == 0
    assert page.text_content(".charts-empty") and page.is_visible(".charts-empty")

    # Zoom in far: the points leave the view. A card stays open over a point meanwhile.
    plot = box(page, "#scatter")
    page.mouse.move(plot["left"] + plot["width"] / 2, plot["top"] + plot["height"] / 2)
    for _ in range(8):
        page.mouse.wheel(0, -400)
    wait_for(lambda: page.evaluate(PLOT_VIEW)["inside"] is False, what="a view inside the cloud")
    refits = page.evaluate("window.alctl.refits")
    serial = lone_point(page)
    assert serial is not None, "no point stands alone on screen"
    hover_point(page, serial)

    # Trained from the shell: the mouse rests on the point all along.
    train_epochs(page, 1, server)
    # Every point in view again, animated there; no card with the old model's facts.
    wait_for(lambda: page.evaluate("window.alctl.refits") == refits + 1, what="the refit")
    wait_for(lambda: page.evaluate(PLOT_VIEW)["inside"], what="all points in view")
    assert page.evaluate("document.querySelector('#tooltip').hidden") is True
    serial = lone_point(page)
    assert serial is not None
    hover_point(page, serial)
    pred = page.evaluate(f"window.alctl.state.pred[{serial}]")
    assert card_facts(page)["pred"].startswith(f"{pred} "), card_facts(page)

    # Singular where it is one; the hint is gone once the model trained.
    wait_for(lambda: "1 epoch trained" in page.text_content("#checkpoint"), what="the header")
    assert "1 epochs" not in page.text_content("body")
    assert not page.is_visible("#first-hint")

    # Zoomed out, the new points fit: the second refresh keeps the view as it is.
    for _ in range(3):
        page.mouse.wheel(0, 400)
    wait_for(lambda: page.evaluate(PLOT_VIEW)["inside"], what="a view around the cloud")
    view = page.evaluate(PLOT_VIEW)["view"]
    refits = page.evaluate("window.alctl.refits")
    train_epochs(page, 1)
    wait_for(lambda: "2 epochs trained" in page.text_content("#checkpoint"), what="the header")
    assert page.evaluate("window.alctl.refits") == refits
    assert page.evaluate(PLOT_VIEW)["view"] == view


def test_curves_have_a_key_values_on_hover_accuracy_and_room(
    open_page: Any, server: LiveServer
) -> None:
    # Labels first, so that the accuracy curves have values.
    labels = {str(i): i % 10 for i in range(60)}
    answer = server.api("POST", "/api/labels", {"labels": labels})
    assert answer.status == 200, answer.body
    page, _ = open_page(1000, 700)
    # Trained from the shell while the Label tab shows: the Train tab carries a dot meanwhile.
    busy = "document.querySelector(\".side-tab[data-side='train']\").dataset.busy"
    version = page.evaluate("window.alctl.state.latentVersion")
    started = server.api("POST", "/api/train", {"epochs": 3, "batch_size": 64})
    assert started.status == 202, started.body
    wait_for(lambda: page.evaluate(busy) == "1", what="the dot on the Train tab")
    wait_for(
        lambda: page.evaluate("window.alctl.state.latentVersion") != version,
        timeout=180,
        what="the refreshed latent",
    )
    wait_for(lambda: page.evaluate(busy) == "", what="the dot gone")
    wait_for(lambda: not page.is_visible(".charts-empty"), what="the curves")
    key = page.text_content(".charts-bar")
    assert "train" in key and "validation" in key
    # Told apart by line style too: the validation sample in the key is dashed.
    assert page.get_attribute(".charts-key[data-series='validation'] line", "stroke-dasharray")
    assert page.locator(".chart[data-metric='accuracy']").count() == 1

    compact = box(page, ".chart[data-metric='loss'] canvas")
    page.click("#charts-expand")
    assert page.get_attribute("#charts-expand", "aria-expanded") == "true"
    wait_for(
        lambda: box(page, ".chart[data-metric='loss'] canvas")["height"] > 1.3 * compact["height"],
        what="taller curves",
    )
    assert box(page, "#scatter")["height"] >= 180  # the plot stays usable
    # Hovering one chart shows that epoch's values in every chart, accuracy in percent.
    last = server.api("GET", "/api/history").json()["records"][-1]["global_epoch"]
    chart = box(page, ".chart[data-metric='loss'] .u-over")
    page.mouse.move(chart["left"] + chart["width"] - 2, chart["top"] + chart["height"] / 2)
    head = ".chart[data-metric='{}'] .chart-latest"
    wait_for(
        lambda: page.text_content(head.format("kl_loss")).startswith(f"#{last} "),
        what="the hovered epoch's values",
    )
    accuracy = page.text_content(head.format("accuracy"))
    assert accuracy.startswith(f"#{last} ") and "%" in accuracy, accuracy
    page.click("#charts-expand")
    assert page.get_attribute("#charts-expand", "aria-expanded") == "false"


def test_the_hover_card_never_covers_the_open_legend(open_page: Any) -> None:
    page, _ = open_page(1920, 1080)
    assert page.get_attribute("#legend-toggle", "aria-expanded") == "true"
    # Pan the cloud onto the legend, then hover points just above and right of it, where
    # the card's usual place (right, below the pointer) would cover the legend.
    plot, legend = box(page, "#scatter"), box(page, "#legend")
    page.mouse.move(plot["left"] + plot["width"] / 2, plot["top"] + plot["height"] / 2)
    page.mouse.down()
    page.mouse.move(legend["left"] + legend["width"], legend["top"], steps=8)
    page.mouse.up()
    serials = page.evaluate(
        """(legend) => { const p = window.alctl.scatter; const out = [];
        const wrap = document.querySelector('#scatter').getBoundingClientRect();
        const top = legend.top - wrap.top; const right = legend.left - wrap.left + legend.width;
        for (let i = 0; i < window.alctl.state.n; i++) { const [x, y] = p.getScreenPosition(i);
          const near = (y < top && y > top - 60 && x < right + 40) || (x > right && x < right + 60
            && y > top);
          if (near) out.push(i); }
        return out.slice(0, 40); }""",
        legend,
    )
    assert serials, "no point next to the legend"
    checked = 0
    for serial in serials:
        x, y = page.evaluate(f"window.alctl.scatter.getScreenPosition({serial})")
        page.mouse.move(plot["left"] + x, plot["top"] + y)
        try:
            wait_for(lambda: box(page, "#tooltip") is not None, timeout=2, what="a card")
        except AssertionError:
            continue  # another point under the pointer won the hover, or none did
        assert overlap(box(page, "#tooltip"), box(page, "#legend")) == 0
        checked += 1
    assert checked >= 3, f"only {checked} cards shown"


def test_an_open_hover_card_follows_a_label_from_the_shell(
    open_page: Any, server: LiveServer
) -> None:
    page, _ = open_page()
    serial = lone_point(page)
    assert serial is not None
    hover_point(page, serial)
    label = (page.evaluate(f"window.alctl.state.user[{serial}]") + 3) % 10
    answer = server.api("PUT", f"/api/labels/{serial}", {"label": label})
    assert answer.status == 200, answer.body
    # The label redraws the scatter; the card may close and reopen as the hover is found again.
    wait_for(
        lambda: card_facts(page).get("label", "").startswith(f"{label} "), what="the card's label"
    )
    assert page.get_attribute("#tooltip", "data-index") == str(serial)
