"""The decoder view and the manifold overlay in real Chromium against a real `alctl serve`.

What a person does: press m, hover a place where no sample lies, see a decoded image with
the classifier's reading; press o, see decoded tiles over the plot; drag the plot; the
tiles are recomputed for the new view. While a session trains and nothing moves, the
overlay asks for nothing; the new model's points then get one grid.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import PLOT_VIEW, guard_page, wait_for
from tests.live_server import LiveServer, running_server

pytestmark = [
    pytest.mark.browser,
]

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


# Installed before the page's scripts, read-only: when the overlay asked for a grid (POST
# /api/decode) and painted (drawImage onto #manifold), and when a new latent was announced.
PROBE = """(() => {
  const P = { grids: [], draws: [], refreshed: [] };
  window.__probe = P;
  const fetchPage = window.fetch;
  window.fetch = (url, init) => {
    const grid = String(url).includes("/api/decode") && init?.method === "POST";
    if (grid) P.grids.push(performance.now());
    return fetchPage(url, init);
  };
  const drawImage = CanvasRenderingContext2D.prototype.drawImage;
  CanvasRenderingContext2D.prototype.drawImage = function (...args) {
    if (this.canvas.id === "manifold") P.draws.push(performance.now());
    return drawImage.apply(this, args);
  };
  const Native = window.EventSource;
  window.EventSource = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("latent_refreshed", () => P.refreshed.push(performance.now()));
    }
  };
})()"""

# How the overlay and the preview sit over the plot (their CSS, as the browser applies it).
PLACEMENT = """() => {
  const style = (id) => getComputedStyle(document.getElementById(id));
  const rect = (id) => { const r = document.getElementById(id).getBoundingClientRect();
    return [r.left, r.top, r.width, r.height].map(Math.round); };
  return { overlay: { position: style("manifold").position, events: style("manifold").pointerEvents,
      opacity: Number(style("manifold").opacity), rect: rect("manifold") },
    scatter: { rect: rect("scatter") },
    preview: { position: style("decoder-preview").position,
      width: style("decoder-image").width },
    pressed: style("manifold-toggle").backgroundColor !== style("reset-view").backgroundColor };
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> Iterator[LiveServer]:
    with running_server(tmp_path_factory.mktemp("decoder-ws"), tiny_data_dir) as live:
        yield live


@pytest.fixture()
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.add_init_script(PROBE)
    guard = guard_page(page)
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    yield page
    context.close()
    guard.check()


def drag_plot(page: Any, dx: float) -> None:
    """Drag the plot horizontally from its centre by `dx` CSS pixels, as a person pans."""
    plot = page.locator("#scatter").bounding_box()
    cx, cy = plot["x"] + plot["width"] / 2, plot["y"] + plot["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + dx, cy, steps=8)
    page.mouse.up()


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
    drag_plot(page, -150)
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


def probe(page: Any) -> dict[str, list[float]]:
    return page.evaluate("({...window.__probe})")


def grid_fits_view(page: Any) -> bool:
    """Whether the grid on screen was decoded for the view the plot shows now."""
    box = page.get_attribute("#manifold", "data-box")
    view = page.evaluate(PLOT_VIEW)["visible"]
    return box is not None and [float(v) for v in box.split(",")] == pytest.approx(view, abs=1e-3)


def test_overlay_lies_over_the_plot_and_lets_the_pointer_through(page: Any) -> None:
    page.keyboard.press("m")
    page.keyboard.press("o")
    wait_for(lambda: page.get_attribute("#manifold", "data-seq"), what="the manifold")
    placed = page.evaluate(PLACEMENT)
    # Positioned over the WebGL canvas (a canvas in the flow would be painted under it),
    # exactly its size, see-through, and clicks and drags reach the plot below.
    assert placed["overlay"]["position"] == "absolute"
    assert placed["overlay"]["rect"] == placed["scatter"]["rect"]
    assert placed["overlay"]["events"] == "none"
    assert 0 < placed["overlay"]["opacity"] < 1
    assert placed["pressed"]  # the toggle shows that it is on
    # The preview is a card beside the cursor, its 28×28 image drawn at 4×.
    assert placed["preview"]["position"] == "absolute"
    assert placed["preview"]["width"] == "112px"


def test_overlay_asks_for_nothing_while_a_session_trains_and_once_for_its_points(
    page: Any, server: LiveServer
) -> None:
    page.keyboard.press("o")
    wait_for(lambda: page.get_attribute("#manifold", "data-seq"), what="the manifold")
    assert len(probe(page)["grids"]) == 1
    # Zoom in far, so that the new model's points leave the view and the refresh refits it.
    plot = page.locator("#scatter").bounding_box()
    page.mouse.move(plot["x"] + plot["width"] / 2, plot["y"] + plot["height"] / 2)
    for _ in range(8):
        page.mouse.wheel(0, -400)
    wait_for(lambda: page.evaluate(PLOT_VIEW)["inside"] is False, what="a view inside the cloud")
    wait_for(lambda: grid_fits_view(page), what="the zoomed view's grid")
    page.mouse.move(5, 5)  # off the plot: nothing moves from here on
    before = probe(page)
    refits = page.evaluate("window.alctl.refits")
    version = page.evaluate("window.alctl.state.latentVersion")

    started = server.api("POST", "/api/train", {"epochs": 2, "batch_size": 64})
    assert started.status == 202, started.body
    wait_for(
        lambda: page.evaluate("window.alctl.state.latentVersion") != version,
        timeout=180,
        what="the refreshed latent",
    )
    wait_for(lambda: page.evaluate("window.alctl.refits") == refits + 1, what="the refit")
    wait_for(lambda: page.evaluate(PLOT_VIEW)["inside"], what="all points in view")
    wait_for(lambda: len(probe(page)["grids"]) > len(before["grids"]), what="the new grid")
    wait_for(lambda: grid_fits_view(page), what="the grid of the refit view")
    # A second request would follow within the settle time (150 ms) of the last camera move.
    page.wait_for_timeout(1000)
    after = probe(page)
    refreshed = after["refreshed"][-1]
    new_grids = after["grids"][len(before["grids"]) :]
    new_draws = after["draws"][len(before["draws"]) :]
    # Nothing moved while the session trained: no request, no repaint of the overlay. Then
    # the new points (and the refit they caused) got exactly one grid, for the settled view.
    assert all(t > refreshed for t in new_grids + new_draws), (new_grids, new_draws, refreshed)
    assert len(new_grids) == 1, new_grids

    # One drag: one grid for where it ends.
    drag_plot(page, -120)
    page.mouse.move(5, 5)
    wait_for(lambda: grid_fits_view(page), what="the panned view's grid")
    page.wait_for_timeout(1000)
    assert len(probe(page)["grids"]) == len(after["grids"]) + 1
