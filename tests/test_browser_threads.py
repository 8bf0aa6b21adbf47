"""The page and the trainer's threads, in real Chromium: the page counts as a page while it is
open, its header shows the count in use as it changes, and its plot canvas paints opaque."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import guard_page, wait_for
from tests.live_server import SSEReader
from tests.test_server_threads import policy_server, threads_status  # noqa: F401 (fixture)
from tests.thread_server import ThreadServer

sync_api = pytest.importorskip("playwright.sync_api")


def header(page: Any) -> str:
    return page.text_content("#checkpoint") or ""


def test_the_header_follows_the_threads_in_use(browser: Any, policy_server: ThreadServer) -> None:  # noqa: F811
    server = policy_server
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    guard = guard_page(page)
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']", timeout=120_000)
    wait_for(lambda: page.get_attribute("#conn", "data-state") == "live", what="the stream")
    assert threads_status(server)["pages"] == 1
    assert "cpu (2 threads)" in header(page)

    # The plot's canvas is opaque (nothing under it is composited) and shows the plot's
    # background in its corner, not black.
    canvas = page.evaluate(
        """() => { const ctx = document.getElementById('scatter').getContext('2d');
        return {alpha: ctx.getContextAttributes().alpha,
                corner: Array.from(ctx.getImageData(1, 1, 1, 1).data)}; }"""
    )
    assert canvas == {"alpha": False, "corner": [0x11, 0x13, 0x18, 255]}

    with SSEReader(server.url) as events:
        events.next()
        assert server.api("POST", "/api/train", {"epochs": 300, "batch_size": 8}).status == 202
        events.until("train_progress")
        with server.session.jobs.running():
            wait_for(lambda: "cpu (1 thread)" in header(page), what="the header to say 1 thread")
        wait_for(lambda: "cpu (2 threads)" in header(page), what="the header to say 2 threads")
        with server.session.jobs.running():  # the session's end at one thread (a busy machine)
            wait_for(lambda: "cpu (1 thread)" in header(page), what="1 thread again")
            assert server.api("POST", "/api/train/stop").status == 202
            events.until("session_saved")
    page.close()
    wait_for(lambda: threads_status(server)["pages"] == 0, what="the page to be gone")
    guard.check()
