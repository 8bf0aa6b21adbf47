"""Did it get better, in real Chromium against a real `alctl serve`: after training from the page
the evaluation line and the accuracy-vs-labels chart show and survive a reload, the per-class
dialog's matrix covers the test split, and the Report link opens the report at /report."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import guard_page, read_labels_csv, wait_for
from tests.datagen import seed_labels
from tests.live_server import LiveServer, SSEReader, running_server

pytestmark = [
    pytest.mark.browser,
]

READY_TIMEOUT_MS = 60_000
SEEDED = 30
N_TEST = 200  # the tiny dataset's test split


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> Iterator[LiveServer]:
    workspace = tmp_path_factory.mktemp("evaluation-ws")
    seed_labels(workspace, SEEDED)
    with running_server(workspace, tiny_data_dir) as live:
        yield live


def open_page(context: Any, server: LiveServer) -> tuple[Any, Any]:
    page = context.new_page()
    guard = guard_page(page)
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']", timeout=READY_TIMEOUT_MS)
    wait_for(lambda: page.get_attribute("#conn", "data-state") == "live", what="events")
    return page, guard


def text(page: Any, selector: str) -> str:
    return page.text_content(selector) or ""


def test_train_evaluate_reload_matrix_and_report(browser: Any, server: LiveServer) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page, guard = open_page(context, server)
    assert page.is_hidden("#eval-chart") and page.is_visible("#eval-empty")

    # A short session from the page's own form.
    page.fill("input[name=epochs]", "1")
    page.fill("input[name=batch_size]", "64")
    page.click("#train-start")
    wait_for(lambda: "completed" in text(page, "#train-result"), timeout=120, what="session 1")
    wait_for(lambda: text(page, "#train-state") == "idle", timeout=60, what="session 1's save")
    # The page's badge says idle at train_ended already; the server's state is idle only once
    # the save is done, and a start before that is a 409.
    wait_for(lambda: server.training_state() == "idle", timeout=60, what="session 1 saved")
    wait_for(lambda: page.is_visible("#eval-line"), timeout=60, what="the evaluation line")
    line = text(page, "#eval-line")
    assert re.fullmatch(
        rf"session 1: test \d+\.\d % · calibration error \d+\.\d % · blind [^·]+ · "
        rf"trained on {SEEDED} labels",
        line,
    ), line
    assert page.get_attribute("#eval-chart", "data-points") == "1"
    assert page.is_visible("#eval-chart") and page.is_hidden("#eval-empty")

    # A second session on more labels (from the shell's side): the curve gets its second point.
    more = {str(i): i % 10 for i in range(SEEDED, SEEDED + 10)}
    assert server.api("POST", "/api/labels", {"labels": more}).status == 200
    with SSEReader(server.url) as events:
        assert server.api("POST", "/api/train", {"epochs": 1, "batch_size": 64}).status == 202
        events.until("latent_refreshed")
    wait_for(lambda: page.get_attribute("#eval-chart", "data-points") == "2", what="point 2")
    wait_for(lambda: text(page, "#eval-line").startswith("session 2: test"), what="line 2")
    line, curve = text(page, "#eval-line"), text(page, "#eval-curve")
    assert re.search(r"test \d+\.\d % \([+−±]\d+\.\d\)", line)  # with the change from session 1
    assert f"trained on {SEEDED + 10} labels" in line
    assert re.fullmatch(rf"test accuracy by labels: {SEEDED} → .+ %, {SEEDED + 10} → .+ %", curve)
    result = text(page, "#train-result")
    losses = text(page, "#latest-losses")
    assert "reconstruction" in losses

    # A reload restores all of it from the server.
    page.reload()
    page.wait_for_selector("body[data-ready='1']", timeout=READY_TIMEOUT_MS)
    wait_for(lambda: page.is_visible("#eval-line"), what="the line after a reload")
    assert text(page, "#eval-line") == line and text(page, "#eval-curve") == curve
    assert page.get_attribute("#eval-chart", "data-points") == "2"
    titles = page.eval_on_selector_all(
        ".eval-chart .dot.test title", "ts => ts.map(t => t.textContent)"
    )
    assert titles[1].startswith(f"session 2: {SEEDED + 10} labels → test ")
    assert result.startswith("session 2 completed: 1 epoch") and "2 in total" in result
    assert text(page, "#train-result") == result and text(page, "#latest-losses") == losses

    # The per-class dialog: `e` opens it, the matrix covers the test split, `e` closes it.
    labels_before = read_labels_csv(server.workspace / "data" / "mnist" / "labels.csv")
    page.keyboard.press("e")
    page.wait_for_selector("#eval-dialog table.confusion")
    table = page.locator("#eval-dialog table.confusion")
    assert table.get_attribute("data-total") == str(N_TEST)
    cells = page.eval_on_selector_all(
        "#eval-dialog table.confusion tr",
        "rows => rows.slice(1).map(r => "
        "[...r.querySelectorAll('td')].slice(0, 10).map(td => +td.textContent))",
    )
    assert len(cells) == 10 and all(len(row) == 10 for row in cells)
    assert sum(map(sum, cells)) == N_TEST
    summary = text(page, "#eval-dialog-summary")
    accuracy = sum(cells[c][c] for c in range(10)) / N_TEST
    assert f"test split: {N_TEST} images · accuracy {accuracy * 100:.1f} %" in summary
    page.keyboard.press("3")  # the dialog has the keyboard: nothing is labeled behind it
    page.keyboard.press("e")
    wait_for(lambda: not page.evaluate("document.getElementById('eval-dialog').open"), what="close")
    assert read_labels_csv(server.workspace / "data" / "mnist" / "labels.csv") == labels_before

    # The Report link opens /report in a new tab, which writes the file first.
    with context.expect_page() as opened:
        page.click("#report-open")
    tab = opened.value
    tab.wait_for_url(re.compile(r"/report$"), timeout=120_000)
    tab.wait_for_load_state("load", timeout=120_000)
    assert tab.title().startswith("alctl report · mnist")
    written = server.workspace / "artifacts" / "mnist" / "report.html"
    assert written.is_file() and tab.content().count("alctl report: mnist") == 1
    context.close()
    guard.check()
