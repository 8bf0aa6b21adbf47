"""The decoder view and the manifold overlay in real Chromium against a real `alctl serve`.

What a person does: press m, hover a place where no sample lies, see a decoded image with
the classifier's reading; press o, see decoded tiles over the plot; drag the plot; the
tiles are recomputed for the new view.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, guard_page, wait_for
from tests.live_server import LiveServer, running_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing"),
]
sync_api = pytest.importorskip("playwright.sync_api")

# The emptiest place on the canvas (farthest from every point), in CSS pixels of the page.
EMPTIEST_SPOT = """async () => {
  const { plotViewport } = await import("/static/js/viewport.js");
  const canvas = document.getElementById("scatter");
  const rect = canvas.getBoundingClientRect();
  const vp = plotViewport(window.alctl.scatter, canvas);
  const { x, y, n } = window.alctl.state;
  let best = null;
  for (let sx = 60; sx < rect.width - 160; sx += 20) {
    for (let sy = 60; sy < rect.height - 160; sy += 20) {
      const [px, py] = vp.toPage(sx, sy);
      let near = Infinity;
      for (let i = 0; i < n; i++) near = Math.min(near, Math.hypot(x[i] - px, y[i] - py));
      if (!best || near > best.near) best = { sx, sy, near, px, py };
    }
  }
  return { x: rect.left + best.sx, y: rect.top + best.sy, near: best.near };
}"""

PREVIEW_PIXELS = """() => {
  const ctx = document.getElementById("decoder-image").getContext("2d");
  return Array.from(ctx.getImageData(0, 0, 28, 28).data);
}"""

MANIFOLD_ALPHA = """() => {
  const c = document.getElementById("manifold");
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let painted = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) painted++;
  return painted / (d.length / 4);
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> Iterator[LiveServer]:
    with running_server(tmp_path_factory.mktemp("decoder-ws"), tiny_data_dir) as live:
        yield live


@pytest.fixture()
def page(server: LiveServer) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        guard = guard_page(page)
        page.goto(server.url)
        page.wait_for_selector("body[data-ready='1']", timeout=60_000)
        yield page
        guard.check()
        browser.close()


def test_decoder_view_and_manifold_overlay(page: Any) -> None:
    page.keyboard.press("m")
    assert page.get_attribute("#decoder-toggle", "aria-pressed") == "true"
    spot = page.evaluate(EMPTIEST_SPOT)
    assert spot["near"] > 0.05  # no sample under the cursor: the decoder still answers
    page.mouse.move(spot["x"], spot["y"])
    wait_for(lambda: page.get_attribute("#decoder-preview", "data-seq"), what="a decoded preview")
    assert page.is_visible("#decoder-preview")
    pixels = page.evaluate(PREVIEW_PIXELS)
    grey, alpha = pixels[0::4], pixels[3::4]
    assert set(alpha) == {255} and len(set(grey)) > 5  # an image, not a blank square
    caption = page.text_content("#decoder-caption") or ""
    # The default classifier also reads encoder features, so the page says it cannot predict.
    assert caption.strip() == "no prediction off the data"
    first = page.get_attribute("#decoder-preview", "data-seq")
    page.mouse.move(spot["x"] + 40, spot["y"] + 30)
    wait_for(lambda: page.get_attribute("#decoder-preview", "data-seq") != first, what="a move")
    assert page.evaluate("window.alctl.state.timings.decodePreview.length") >= 2

    page.click("#manifold-toggle")
    assert page.get_attribute("#manifold-toggle", "aria-pressed") == "true"
    wait_for(lambda: page.get_attribute("#manifold", "data-seq"), what="the manifold")
    seq, box = (
        page.get_attribute("#manifold", "data-seq"),
        page.get_attribute("#manifold", "data-box"),
    )
    assert page.evaluate(MANIFOLD_ALPHA) > 0.5  # tiles over most of the plot
    # Pan: drag the plot to the left; after it settles the grid is asked for the new view.
    canvas = page.locator("#scatter").bounding_box()
    cx, cy = canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx - 150, cy, steps=8)
    page.mouse.up()
    wait_for(lambda: page.get_attribute("#manifold", "data-seq") != seq, what="a recomputed grid")
    new_box = [float(v) for v in page.get_attribute("#manifold", "data-box").split(",")]
    old_box = [float(v) for v in box.split(",")]
    assert new_box[0] > old_box[0] and new_box[1] > old_box[1]  # the view moved right in x
    assert page.evaluate("window.alctl.state.timings.manifoldPaint.length") >= 2

    page.keyboard.press("o")
    assert page.is_hidden("#manifold")
    page.keyboard.press("m")
    assert page.get_attribute("#decoder-toggle", "aria-pressed") == "false"
    assert page.is_hidden("#decoder-preview")
