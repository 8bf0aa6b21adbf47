"""The dashboard in real Chromium against a real `alctl serve` (tests/live_server.py).

Each test opens the page fresh, fails on any console error and on any request that would
leave 127.0.0.1, and checks what a person would see: the DOM, the label CSV on disk and
(through the read-only `window.alctl` hook) the colours the scatter draws.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import (
    PLOT_VIEW,
    guard_page,
    read_labels_csv,
    wait_for,
)
from tests.live_server import LiveServer, free_port, running_server

pytestmark = [pytest.mark.browser]

READY_TIMEOUT_MS = 60_000


class Dashboard:
    """One open dashboard page plus the server's files."""

    def __init__(self, page: Any, server: Any, guard: Any) -> None:
        self.page = page
        self.server = server
        self.guard = guard
        dataset = self.js("window.alctl.state.dataset")
        self.labels_csv = Path(server.workspace) / "data" / dataset / "labels.csv"

    def js(self, expression: str) -> Any:
        return self.page.evaluate(expression)

    def select(self, serial: int) -> None:
        self.page.fill("#jump-input", str(serial))
        self.page.press("#jump-input", "Enter")
        wait_for(lambda: self.js("window.alctl.state.selected") == serial, what="the selection")

    def user(self, serial: int) -> int:
        return self.js(f"window.alctl.state.user[{serial}]")

    def color(self, serial: int) -> str:
        return self.js(f"window.alctl.pointColor({serial})")

    def drawn_user_label(self, serial: int) -> int:
        """The user label inside the category code the scatter last uploaded to the GPU."""
        code = self.js(f"window.alctl.scatter.get('points')[{serial}][2]")
        return code // 100 - 1

    def labeled_count(self) -> int:
        return int(self.page.text_content("#stat-labeled").split("/")[0].replace(",", ""))

    def class_count(self, cls: int) -> int:
        return int(self.page.locator("#class-bars .count").nth(cls).text_content())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> Iterator[LiveServer]:
    """One `alctl serve` (what live_server runs) for the module: torch loads once, not per
    test. Tests stay independent: each uses its own serials and compares counts relatively."""
    with running_server(tmp_path_factory.mktemp("browser-ws"), tiny_data_dir) as live:
        yield live


def open_dashboard(browser: Any, server: Any) -> tuple[Dashboard, Any]:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    guard = guard_page(page)
    page.goto(server.url.rstrip("/") + "/")
    page.wait_for_selector("body[data-ready='1']", timeout=READY_TIMEOUT_MS)
    board = Dashboard(page, server, guard)
    wait_for(lambda: page.get_attribute("#conn", "data-state") == "live", what="the event stream")
    return board, page


@pytest.fixture()
def dashboard(browser: Any, server: LiveServer) -> Iterator[Dashboard]:
    board, page = open_dashboard(browser, server)
    yield board
    page.close()
    board.guard.check()


def _colors(board: Dashboard) -> tuple[list[str], str]:
    colors = board.js("window.alctl.colors")
    return colors["classes"], colors["unlabeled"]


def test_page_shows_dataset_and_points(dashboard: Dashboard) -> None:
    status = httpx.get(dashboard.server.url.rstrip("/") + "/api/status").json()
    assert dashboard.page.text_content("#dataset-source") == status["dataset_source"]
    assert dashboard.js("window.alctl.scatter.get('points').length") == status["n_samples"]
    names = dashboard.page.locator(".label-btn .name").all_text_contents()
    assert names == status["class_names"]


def test_select_label_and_delete(dashboard: Dashboard) -> None:
    classes, unlabeled = _colors(dashboard)
    serial = 5
    before = read_labels_csv(dashboard.labels_csv)
    assert serial not in before
    dashboard.select(serial)
    wait_for(
        lambda: (
            dashboard.page.get_attribute("#sample-panel .images", "data-painted") == str(serial)
        ),
        what="the sample images",
    )
    # Both images are painted (the synthetic digits are not all black).
    for canvas in ("#img-original", "#img-recon"):
        ink = dashboard.js(
            f"""(() => {{ const c = document.querySelector('{canvas}');
            const d = c.getContext('2d').getImageData(0, 0, 28, 28).data;
            let a = 0; for (let i = 3; i < d.length; i += 4) a += d[i]; return a; }})()"""
        )
        assert ink > 0, f"{canvas} was not painted"
    assert dashboard.page.text_content("#sample-index") == f"#{serial}"
    count_before = dashboard.labeled_count()

    dashboard.page.keyboard.press("3")
    assert dashboard.user(serial) == 3  # optimistic: at once
    wait_for(lambda: read_labels_csv(dashboard.labels_csv).get(serial) == 3, what="the CSV row")
    wait_for(lambda: dashboard.labeled_count() == count_before + 1, what="the labeled count")
    assert dashboard.color(serial) == classes[3]
    wait_for(lambda: dashboard.drawn_user_label(serial) == 3, what="the recoloured point")
    assert "3" in dashboard.page.text_content("#fact-label")

    dashboard.page.keyboard.press("Delete")
    wait_for(lambda: serial not in read_labels_csv(dashboard.labels_csv), what="the row removed")
    wait_for(lambda: dashboard.labeled_count() == count_before, what="the count back")
    assert dashboard.color(serial) == unlabeled
    wait_for(lambda: dashboard.drawn_user_label(serial) == -1, what="the point turning grey")

    dashboard.page.keyboard.press("Escape")
    assert dashboard.js("window.alctl.state.selected") is None
    assert dashboard.page.text_content("#sample-index") == "none selected"


def test_the_scatter_draws_only_when_something_changes(dashboard: Dashboard) -> None:
    """No frame loop while nothing moves (it costs the trainer CPU); input wakes it."""
    page = dashboard.page
    animating = "window.alctl.scatterAnimating"
    wait_for(lambda: dashboard.js(animating) is False, timeout=10, what="the loop to rest")
    dashboard.js(
        "window.__draws = 0; window.alctl.scatter.subscribe('draw', () => window.__draws++)"
    )
    page.wait_for_timeout(300)
    assert dashboard.js("window.__draws") == 0
    box = page.locator("#scatter").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -400)
    wait_for(lambda: dashboard.js("window.__draws") > 0, timeout=10, what="the zoom drawn")
    wait_for(lambda: dashboard.js(animating) is False, timeout=10, what="the loop to rest again")
    dashboard.page.keyboard.press("p")  # a colour switch is drawn, then the loop rests
    wait_for(lambda: dashboard.js(animating) is False, timeout=10, what="rest after a switch")
    assert dashboard.js("window.alctl.scatter.get('colorBy')") == "valueZ"


def test_keys_are_ignored_while_typing(dashboard: Dashboard) -> None:
    dashboard.select(6)
    dashboard.page.focus("#jump-input")
    dashboard.page.keyboard.press("7")
    assert dashboard.user(6) == -1
    assert dashboard.page.input_value("#jump-input").endswith("7")


def test_every_colour_mode(dashboard: Dashboard) -> None:
    classes, _ = _colors(dashboard)
    serial = 11
    pred = dashboard.js(f"window.alctl.state.pred[{serial}]")
    truth = dashboard.js(f"window.alctl.state.truth[{serial}]")
    expected = {"p": ("pred", "valueZ"), "c": ("certainty", "valueW"), "g": ("truth", "valueZ")}
    for key, (mode, column) in {**expected, "u": ("user", "valueZ")}.items():
        dashboard.page.keyboard.press(key)
        assert dashboard.page.get_attribute(f".mode[data-mode='{mode}']", "aria-checked") == "true"
        assert dashboard.js("window.alctl.scatter.get('colorBy')") == column
        assert dashboard.js("window.alctl.state.mode") == mode
    # Buttons work as well as keys, and each mode picks its own colour for the point.
    dashboard.page.click(".mode[data-mode='pred']")
    assert dashboard.color(serial) == classes[pred]
    dashboard.page.click(".mode[data-mode='truth']")
    assert dashboard.color(serial) == classes[truth]
    assert "Ground truth" in dashboard.page.text_content("#legend")
    dashboard.page.click(".mode[data-mode='certainty']")
    assert re.fullmatch(r"#[0-9a-f]{6}", dashboard.color(serial))
    assert "uncertain" in dashboard.page.text_content("#legend")


def test_label_from_another_client_appears_live(dashboard: Dashboard) -> None:
    classes, _ = _colors(dashboard)
    serial = 21
    count = dashboard.class_count(7)
    response = httpx.put(
        f"{dashboard.server.url.rstrip('/')}/api/labels/{serial}",
        json={"label": 7},
        headers={"X-Alctl-Token": dashboard.server.token, "X-Alctl-Source": "cli"},
    )
    assert response.status_code == 200, response.text
    wait_for(lambda: dashboard.user(serial) == 7, what="the label event")
    wait_for(lambda: dashboard.class_count(7) == count + 1, what="the per-class count")
    assert dashboard.color(serial) == classes[7]
    wait_for(lambda: dashboard.drawn_user_label(serial) == 7, what="the recoloured point")


def test_failed_write_is_rolled_back_and_shown(dashboard: Dashboard) -> None:
    _, unlabeled = _colors(dashboard)
    serial = 31
    csv = dashboard.labels_csv
    original = csv.read_bytes() if csv.exists() else None
    csv.parent.mkdir(parents=True, exist_ok=True)
    # A CSV the server refuses to rewrite: it answers 409 and writes nothing.
    csv.write_text("id,value\n1,2\n")
    dashboard.guard.allow("status of 409")
    try:
        dashboard.select(serial)
        dashboard.page.keyboard.press("4")
        toast = dashboard.page.locator(".toast-error", has_text="Could not save label 4")
        toast.wait_for(timeout=10_000)
        wait_for(lambda: dashboard.user(serial) == -1, what="the rollback")
        assert dashboard.color(serial) == unlabeled
        wait_for(lambda: dashboard.drawn_user_label(serial) == -1, what="the point grey again")
        assert csv.read_text() == "id,value\n1,2\n"
    finally:
        if original is None:
            csv.unlink()
        else:
            csv.write_bytes(original)


def test_a_label_request_that_never_settles_is_retried_in_order(dashboard: Dashboard) -> None:
    """A write can get no answer at all (a connection that stalls). Hold the first DELETE
    that way: the page aborts it at its deadline, sends it again, and only then the label
    after it."""
    page = dashboard.page
    held: list[Any] = []

    def hang_first_delete(route: Any) -> None:
        if route.request.method == "DELETE" and not held:
            held.append(route)  # never answered, never passed on
            return
        route.fallback()

    page.route("**/api/labels/*", hang_first_delete)
    serial = 41
    dashboard.select(serial)
    for key in ("2", "Delete", "6"):
        page.keyboard.press(key)
    assert dashboard.user(serial) == 6  # optimistic
    # (Playwright runs route handlers only while this thread is inside a Playwright call.)
    wait_for(lambda: page.wait_for_timeout(50) or held, what="the DELETE to be held")
    page.wait_for_timeout(1000)  # the queue waits: the PUT of 6 must not overtake the DELETE
    assert read_labels_csv(dashboard.labels_csv).get(serial) == 2
    wait_for(lambda: dashboard.js("window.alctl.pendingWrites") == 0, timeout=30, what="writes")
    assert dashboard.js("window.alctl.writeRetries") >= 1
    assert read_labels_csv(dashboard.labels_csv).get(serial) == 6
    assert dashboard.user(serial) == 6
    assert dashboard.page.locator(".toast-error").count() == 0
    assert read_labels_csv(dashboard.labels_csv) == page_labels(dashboard)


@pytest.mark.slow  # a storm: 500 keys at key-repeat speed (make test-all, CI)
def test_500_labels_at_key_repeat_speed_leave_csv_equal_to_page(dashboard: Dashboard) -> None:
    page = dashboard.page
    rng = random.Random(7)
    keys = [str(d) for d in range(10)] + ["Delete"]
    last: dict[int, int | None] = {}
    for serial in range(100, 105):
        dashboard.select(serial)
        next_at = time.monotonic()
        for _ in range(100):
            key = rng.choice(keys)
            page.keyboard.press(key)
            last[serial] = None if key == "Delete" else int(key)
            next_at += 0.033  # ~30 keys a second, like a held key
            time.sleep(max(0.0, next_at - time.monotonic()))
    wait_for(lambda: dashboard.js("window.alctl.pendingWrites") == 0, timeout=60, what="writes")
    csv = read_labels_csv(dashboard.labels_csv)
    for serial, label in last.items():
        assert csv.get(serial) == label, f"serial {serial}"
    assert csv == page_labels(dashboard)
    assert dashboard.page.locator(".toast-error").count() == 0


def train_one_epoch(page: Any, server: LiveServer) -> None:
    """Start a 1-epoch session from the form and wait until the page says it completed and
    was saved (the result line's phase is `done` once `session_saved` arrived)."""
    page.fill("input[name=epochs]", "1")
    page.fill("input[name=batch_size]", "64")
    page.click("#train-start")
    wait_for(
        lambda: (
            "completed" in (page.text_content("#train-result") or "")
            and page.get_attribute("#train-result", "data-phase") == "done"
        ),
        timeout=120,
        what="the session to complete and be saved",
    )
    # The server agrees: idle means the save is done, so the next start is not a 409.
    wait_for(lambda: server.training_state() == "idle", timeout=60, what="the server idle")


def test_training_refreshes_the_latent_in_place(dashboard: Dashboard) -> None:
    page = dashboard.page
    serial = 3
    dashboard.select(serial)
    version = dashboard.js("window.alctl.state.latentVersion")
    before = dashboard.js(PLOT_VIEW)
    train_one_epoch(page, dashboard.server)
    assert re.search(r"epoch 1 / 1", page.text_content("#progress-epoch"))
    assert page.text_content("#train-state") == "idle"
    wait_for(
        lambda: dashboard.js("window.alctl.state.latentVersion") != version,
        timeout=60,
        what="the refreshed latent",
    )
    wait_for(lambda: page.text_content(".chart-latest").strip(), what="the loss curves")
    # In place: the selection stays; so does the view where the new points fit in it,
    # else it is refit to show them all.
    assert dashboard.js("window.alctl.state.selected") == serial
    assert dashboard.js("window.alctl.scatter.get('selectedPoints')") == [serial]
    after = wait_for(
        lambda: (view := dashboard.js(PLOT_VIEW))["inside"] and view, what="every point in view"
    )
    fits = dashboard.page.evaluate(
        "([b, v]) => import('/static/js/viewport.js').then((m) => !m.refitNeeded(b, v))",
        [after["bounds"], before["visible"]],
    )
    if fits:
        assert after["view"] == before["view"]
    wait_for(lambda: "1 epoch trained" in page.text_content("#checkpoint"), what="the header")


def test_training_input_is_checked_before_sending(dashboard: Dashboard) -> None:
    page = dashboard.page
    page.fill("input[name=learning_rate]", "-1")
    page.fill("input[name=epochs]", "2.5")
    page.click("#train-start")
    error = page.text_content("#train-error")
    assert "learning rate must be" in error
    assert "epochs must be a whole number" in error
    assert page.text_content("#train-state") == "idle"


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["sigint", "sigint-while-training", "sigkill-while-training"])
def test_page_carries_on_after_a_server_restart(
    browser: Any, tmp_path: Path, tiny_data_dir: Path, stop: str
) -> None:
    """Lose the server for real (Ctrl+C, or kill -9 mid-session), change the CSV meanwhile,
    restart: the page takes the new server's token and state, then labels and trains. Of a
    session it saw running, it says what the new server has: saved (Ctrl+C stops a session
    between batches and saves it) or lost (kill -9)."""
    workspace, port = tmp_path / "ws", free_port()
    workspace.mkdir()
    # A Ctrl+C mid-session waits for the session to be saved (slow on a busy machine).
    with running_server(workspace, tiny_data_dir, stop_timeout=30, port=port) as first:
        board, page = open_dashboard(browser, first)
        instance = board.js("window.alctl.serverInstance")
        label_with_key(board, 50, 8)
        # The label moves the queue: a head still computing at the Ctrl+C is abandoned and
        # answered 503 "the server is stopping" (alctl.server.pacing), which Chromium logs.
        board.guard.allow("status of 503 (Service Unavailable)")
        if stop.endswith("-while-training"):
            response = httpx.post(
                first.url + "api/train",
                json={"epochs": 1000, "batch_size": 8},
                headers={"X-Alctl-Token": first.token},
            )
            assert response.status_code == 202, response.text
            wait_for(lambda: "running" in page.text_content("#train-result"), what="'running'")
            # A stop keeps whole epochs: let one end first.
            wait_for(
                lambda: "epoch 2 /" in page.text_content("#progress-epoch"),
                timeout=120,
                what="a whole epoch",
            )
            board.guard.allow("ERR_INCOMPLETE_CHUNKED_ENCODING")  # the stream ends mid-way
            # (The next server loads the model after it serves: the page's samples wait for
            # it, a 503 "model loading" too.)
        if stop == "sigkill-while-training":
            first.process.kill()
            first.process.wait()
            # Requests in flight at the kill (queue thumbnails, the next sample's prefetch):
            # refused, reset, or cut after the headers promised a length (an image mid-body).
            board.guard.allow("ERR_CONNECTION_RESET")
            board.guard.allow("ERR_CONTENT_LENGTH_MISMATCH")
    # Chromium logs the reconnect attempts that find nobody listening.
    board.guard.allow("ERR_CONNECTION_REFUSED")
    wait_for(lambda: page.get_attribute("#conn", "data-state") == "down", what="'down'")
    if stop == "sigint":  # (while a session runs, Start is disabled)
        # A Start while no server runs leaves an error under the form.
        page.fill("input[name=epochs]", "1")
        page.fill("input[name=batch_size]", "64")
        page.click("#train-start")
        wait_for(lambda: "Cannot reach" in page.text_content("#train-error"), what="the error")
    with board.labels_csv.open("a") as csv:
        csv.write("51,1\n")  # an edit while no server runs
    # This server has just trained and saved; on a machine with a load of 10 and more its
    # Ctrl+C exit took over 10 s twice in 3 runs (Ctrl+C promptness has its own tests).
    with running_server(workspace, tiny_data_dir, stop_timeout=30, port=port) as second:
        wait_for(
            lambda: page.get_attribute("#conn", "data-state") == "live",
            timeout=30,
            what="the reconnect",
        )
        wait_for(lambda: board.js("window.alctl.serverInstance") != instance, what="new server")
        wait_for(lambda: board.user(51) == 1, what="the label made while the server was down")
        wait_for(lambda: board.drawn_user_label(51) == 1, what="its point recoloured")
        assert board.user(50) == 8
        assert page.locator(".toast", has_text="Reconnected").count() == 1
        wait_for(lambda: page.text_content("#train-error") == "", what="the stale error cleared")
        assert page.text_content("#train-state") == "idle"
        if stop == "sigkill-while-training":
            assert page.text_content("#train-result") == (
                "session 1 ended with the server and nothing of it was kept: the model is as it"
                " was before it"
            )
        if stop == "sigint-while-training":
            result = page.text_content("#train-result")
            assert re.fullmatch(
                r"session 1 stopped and was saved before the server restarted: "
                r"(\d+) epochs?, \1 in total",
                result,
            ), result
            # Its own evaluation beside it (the saved weights were evaluated), nothing older.
            wait_for(lambda: page.is_visible("#eval-line"), what="session 1's evaluation")
            assert page.text_content("#eval-line").startswith("session 1: test ")

        # The page works against the new server: a label and a training session.
        label_with_key(board, 52, 5)
        train_one_epoch(page, second)
        assert page.text_content("#train-error") == ""
        history = httpx.get(second.url + "api/history").json()
        wait_for(
            lambda: (
                str(board.js("window.alctl.state.latentVersion"))
                == str(httpx.get(second.url + "api/status").json()["latent"]["version"])
            ),
            what="the page on the new latent version",
        )
        assert history["records"], "the new session's epochs are in the history"
        assert page.locator(".toast-error", has_text="X-Alctl-Token").count() == 0
        assert board.js("window.alctl.pendingWrites") == 0
        assert read_labels_csv(board.labels_csv) == page_labels(board)
        page.close()
    board.guard.check()


def label_with_key(board: Dashboard, serial: int, digit: int) -> None:
    """Select `serial`, press `digit`, wait for the CSV row; a timeout says what the page knows."""
    board.select(serial)
    board.page.keyboard.press(str(digit))
    try:
        wait_for(lambda: read_labels_csv(board.labels_csv).get(serial) == digit, what="the row")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the page: {page_diagnosis(board)}") from None


def page_diagnosis(board: Dashboard) -> dict[str, Any]:
    """What the page knows about its writes and its server, for a failure message."""
    return board.js(
        """({pending: window.alctl.pendingWrites, retries: window.alctl.writeRetries,
        instance: window.alctl.serverInstance, user52: window.alctl.state.user[52],
        selected: window.alctl.state.selected, conn: document.querySelector('#conn').dataset.state,
        toasts: [...document.querySelectorAll('.toast')].map((t) => t.textContent)})"""
    )


def page_labels(board: Dashboard) -> dict[int, int]:
    """Every label the page shows, as {serial: label}."""
    pairs = board.js(
        "Array.from(window.alctl.state.user).flatMap((v, i) => v >= 0 ? [[i, v]] : [])"
    )
    return {int(s): int(v) for s, v in pairs}
