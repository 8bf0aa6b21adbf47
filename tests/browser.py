"""Helpers for driving the dashboard in real Chromium (Python playwright, no downloads)."""

from __future__ import annotations

import contextlib
import importlib.util
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.waiting import wait_for as wait_for  # the browser tests' waits, from one place

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
VENDOR = REPO / "static" / "vendor"  # the page's third-party scripts (npm ci copies them)
DESELECT = "or deselect the browser tests: pytest -m 'not browser'"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1"}
# Schemes that never touch the network.
LOCAL_SCHEMES = {"data", "blob", "about"}
# Any URL that is neither of those schemes nor http(s) to LOCAL_HOSTS (matched in the browser).
FOREIGN_URL = re.compile(
    "^(?!(?:" + "|".join(sorted(LOCAL_SCHEMES)) + "):)"
    "(?!https?://(?:" + "|".join(re.escape(h) for h in sorted(LOCAL_HOSTS)) + ")(?::[0-9]+)?/)"
)

# What the view shows against where the points are (static/js/viewport.js on the live plot).
PLOT_VIEW = """async () => { const v = await import('/static/js/viewport.js');
  const canvas = document.querySelector('#scatter');
  const visible = v.plotViewport(window.alctl.scatter, canvas).visible();
  const bounds = v.pointBounds(window.alctl.state.x, window.alctl.state.y);
  return {visible, bounds, inside: !v.refitNeeded(bounds, visible, 0),
    view: Array.from(window.alctl.scatter.get('cameraView'))}; }"""


# An element's box on screen ({left, top, width, height}), null while it is not shown.
BOX = """(selector) => { const e = document.querySelector(selector);
  if (!e || e.hidden || !e.getClientRects().length || !e.offsetWidth) return null;
  const b = e.getBoundingClientRect();
  return {left: b.left, top: b.top, width: b.width, height: b.height}; }"""


def box(page: Any, selector: str) -> dict[str, float] | None:
    """The box of the first element matching `selector`, None while it is not shown."""
    return page.evaluate(BOX, selector)


def overlap(a: dict[str, float], b: dict[str, float]) -> float:
    """The area two boxes share, in px²."""
    w = min(a["left"] + a["width"], b["left"] + b["width"]) - max(a["left"], b["left"])
    h = min(a["top"] + a["height"], b["top"] + b["height"]) - max(a["top"], b["top"])
    return max(0.0, w) * max(0.0, h)


def inside(inner: dict[str, float], outer: dict[str, float], slack: float = 0.5) -> bool:
    """Whether `inner` lies within `outer` (give or take `slack` px of rounding)."""
    return (
        inner["left"] >= outer["left"] - slack
        and inner["top"] >= outer["top"] - slack
        and inner["left"] + inner["width"] <= outer["left"] + outer["width"] + slack
        and inner["top"] + inner["height"] <= outer["top"] + outer["height"] + slack
    )


@dataclass
class PageGuard:
    """What a page did that a test must fail on: console errors, requests off this machine."""

    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    def allow(self, fragment: str) -> None:
        """Expect console errors containing `fragment` (Chromium logs failed fetches)."""
        self.allowed.append(fragment)

    def check(self) -> None:
        assert not self.foreign_requests, f"requests left 127.0.0.1: {self.foreign_requests}"
        errors = [e for e in self.console_errors if not any(a in e for a in self.allowed)]
        assert not errors, f"console errors: {errors}"


def guard_page(page: Any) -> PageGuard:
    """Record console errors and abort (and record) every request not to 127.0.0.1."""
    guard = PageGuard()

    def on_console(message: Any) -> None:
        if message.type == "error":
            guard.console_errors.append(f"{message.text} ({message.location})")

    def on_route(route: Any) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in LOCAL_SCHEMES or parts.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            guard.foreign_requests.append(url)
            route.abort()

    page.on("console", on_console)
    page.on("pageerror", lambda error: guard.console_errors.append(f"page error: {error}"))
    # Only requests that may leave the machine are routed. A routed request waits until the
    # sync API dispatches its handler, which happens only inside a Playwright call: a test
    # polling a file (a label's CSV row) with time.sleep would hold the page's own writes
    # back until its wait ran out.
    page.route(FOREIGN_URL, on_route)
    return guard


def browser_problem() -> str | None:
    """Why the browser tests cannot run on this machine (one line, with the fix), or None.

    They fail with it rather than skip: a suite that is green because Chromium was missing
    has not tested the page. `make test` and CI install all three.
    """
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: install Debian's chromium (`make browser`), {DESELECT}"
    if not (VENDOR / "versions.json").is_file():
        return f"{VENDOR} is missing: install the page's scripts (`make js-deps`), {DESELECT}"
    if importlib.util.find_spec("playwright") is None:
        return f"Python playwright is missing: pip install -e '.[test]', {DESELECT}"
    return None


@contextlib.contextmanager
def launched_chromium() -> Iterator[Any]:
    """Debian's Chromium through Playwright, with the settings every browser test shares."""
    problem = browser_problem()
    if problem is not None:
        raise AssertionError(problem)
    from playwright import sync_api

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def read_labels_csv(path: Path) -> dict[int, int]:
    """The label CSV as {serial: label} (empty when the file does not exist yet)."""
    if not path.exists():
        return {}
    rows = path.read_text().strip().splitlines()[1:]
    return {int(s): int(v) for s, v in (row.split(",") for row in rows if row)}
