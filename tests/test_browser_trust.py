"""What the page owes the person at it, in real Chromium against real `alctl serve` processes:
no label typed is lost (server stopped and started again inside the test, page reloaded), the
undo history outlives a reload and a restart, status messages go when their fact does, big
batch labels ask first, `n` says what it skipped, and a session's end (`session_saved`) shows
as it is, a refused save included.

Each restart test has a workspace of its own, copied from one trained once for the module (so
that a restarted server starts from its prediction cache and loads the model behind it).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import guard_page, read_labels_csv, wait_for
from tests.cli_support import invoke
from tests.datagen import seed_labels
from tests.disks import fill, tiny_disk
from tests.live_server import LiveServer, free_port, running_server

# Without Chromium, static/vendor or playwright these fail, naming the fix (tests/browser.py).
pytestmark = pytest.mark.browser

READY_TIMEOUT_MS = 60_000
SEEDED = 30  # serials 0..29 labeled serial % 10 before the one training epoch
# What Chromium logs while no server listens, or when one stops mid-request; and from a new
# server: a write with the old one's token (403: the page takes the new token and sends it
# again) and a sample asked for while its model loads (503).
RESTARTS = ("ERR_CONNECTION_REFUSED", "ERR_CONNECTION_RESET", "ERR_EMPTY_RESPONSE",
            "ERR_INCOMPLETE_CHUNKED_ENCODING", "status of 403 (Forbidden)",
            "status of 503 (Service Unavailable)")  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> Path:
    """A workspace with seeded labels, one trained epoch, its checkpoint and cache."""
    workspace = tmp_path_factory.mktemp("trust-template")
    seed_labels(workspace, SEEDED)
    done = invoke("train", "--no-server", "--workspace", str(workspace), "--data-dir",
                  str(tiny_data_dir), "-d", "mnist", "--epochs", "1")  # fmt: skip
    assert done.code == 0, done.stderr
    return workspace


@pytest.fixture()
def workspace(trained: Path, tmp_path: Path) -> Path:
    """A copy of the trained workspace (mtimes kept, so its cache still fits its checkpoint)."""
    copy = tmp_path / "ws"
    shutil.copytree(trained, copy, ignore=shutil.ignore_patterns(".alctl"))
    return copy


class Board:
    """One open page and the labels file of its workspace."""

    def __init__(self, page: Any, workspace: Path) -> None:
        self.page = page
        self.csv = workspace / "data" / "mnist" / "labels.csv"

    def js(self, expression: str) -> Any:
        return self.page.evaluate(expression)

    def open(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_selector("body[data-ready='1']", timeout=READY_TIMEOUT_MS)
        self.wait_live()

    def start(self, server: LiveServer) -> None:
        """Open the page on `server` once its model has loaded (a request waiting for the
        model when the server stops is cut, which is not what these tests are about)."""
        wait_for(
            lambda: server.api("GET", "/api/status").json()["model"]["state"] == "ready",
            what="the model to load",
        )
        self.open(server.url)

    def wait_live(self) -> None:
        wait_for(
            lambda: self.page.get_attribute("#conn", "data-state") == "live",
            timeout=60,
            what="the event stream",
        )

    def select(self, serial: int) -> None:
        self.page.fill("#jump-input", str(serial))
        self.page.press("#jump-input", "Enter")
        wait_for(lambda: self.js("window.alctl.state.selected") == serial, what="the selection")

    def label(self, serial: int, key: str) -> None:
        self.select(serial)
        self.page.keyboard.press(key)

    def labels(self) -> dict[int, int]:
        return read_labels_csv(self.csv)

    def type_while_away(self, keys: list[tuple[int, str]]) -> Any:
        """Label with the server gone; returns the header's pending count once it shows."""
        for serial, key in keys:
            self.label(serial, key)
        pending = self.page.locator("#pending-labels")
        pending.wait_for(state="visible", timeout=15_000)
        return pending

    def toasts(self, kind: str = "") -> list[str]:
        return self.js(
            f"[...document.querySelectorAll('.toast{kind}:not(.leaving) .toast-text')]"
            ".map((t) => t.textContent)"
        )

    def diagnosis(self) -> dict[str, Any]:
        """What the page knows of its writes, for a failure message."""
        return self.js(
            """({pending: window.alctl.pendingWrites, retries: window.alctl.writeRetries,
            history: window.alctl.history, conn: document.querySelector('#conn').dataset.state,
            toasts: [...document.querySelectorAll('.toast')].map((t) => t.textContent)})"""
        )

    def settled(self) -> None:
        wait_for(lambda: self.js("window.alctl.pendingWrites") == 0, what="writes answered")


@pytest.fixture()
def board(browser: Any, workspace: Path) -> Iterator[Board]:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    guard = guard_page(page)
    for fragment in RESTARTS:
        guard.allow(fragment)
    yield Board(page, workspace)
    page.close()
    guard.check()


def test_labels_typed_while_the_server_is_down_are_kept_and_written_when_it_is_back(
    board: Board, workspace: Path, tiny_data_dir: Path
) -> None:
    port = free_port()
    with running_server(workspace, tiny_data_dir, port=port) as first:
        board.start(first)
        board.label(40, "1")
        wait_for(lambda: board.labels().get(40) == 1, what="a label while the server runs")
    # Stopped (Ctrl+C). Keys typed now fail to connect: they stay on the page, in order.
    pending = board.type_while_away([(41, "2"), (42, "3"), (41, "4")])
    assert pending.text_content() == "2 labels not saved yet"
    assert board.js("[window.alctl.state.user[41], window.alctl.state.user[42]]") == [4, 3]
    assert not [t for t in board.toasts() if "Rolled back" in t]
    board.page.locator(".toast-error", has_text="Lost the connection").wait_for(timeout=30_000)

    with running_server(workspace, tiny_data_dir, port=port) as second:
        wait_for(
            lambda: (board.labels().get(41), board.labels().get(42)) == (4, 3),
            timeout=60,
            what="the kept labels in the CSV",
        )
        pending.wait_for(state="hidden", timeout=10_000)
        board.wait_live()
        # Status messages go with the fact they report: the connection is back.
        stale = ("Cannot reach", "Lost the connection")
        wait_for(
            lambda: not [t for t in board.toasts() if any(s in t for s in stale)],
            what="the stale messages to go",
        )
        # The header followed the model from "loading" (the new server's first answer,
        # served from its cache) to its device.
        wait_for(
            lambda: second.api("GET", "/api/status").json()["model"]["state"] == "ready",
            what="the model to load",
        )
        wait_for(
            lambda: "loading" not in board.page.text_content("#checkpoint"),
            timeout=10,
            what="the header to drop 'loading'",
        )
        assert board.labels()[40] == 1
        board.settled()


def test_labels_pending_at_a_reload_are_sent_after_it_unless_changed_elsewhere(
    board: Board, workspace: Path, tiny_data_dir: Path
) -> None:
    port = free_port()
    with running_server(workspace, tiny_data_dir, port=port) as first:
        board.start(first)
    board.type_while_away([(50, "5"), (51, "6")])
    # The page goes (a reload the browser cannot finish, a closed tab). A reload would do,
    # but Chromium reloads a network error page by itself, at a time of its own.
    board.page.goto("about:blank")
    with board.csv.open("a") as csv:
        csv.write("51,9\n")  # the shell labels #51 meanwhile
    with running_server(workspace, tiny_data_dir, port=port) as second:
        board.start(second)
        wait_for(lambda: board.labels().get(50) == 5, what="the label typed before the reload")
        note = board.page.locator(".toast-warn", has_text="typed before the page was reloaded")
        note.wait_for(timeout=10_000)
        assert "#51 (you: 6, now: 9)" in note.text_content()
        board.settled()
        assert board.labels()[51] == 9, "a label changed elsewhere is not overwritten"


def _lasso_everything(board: Board) -> None:
    """Shift+drag around the whole plot."""
    left, top, width, height = board.js(
        "(() => { const b = document.getElementById('scatter').getBoundingClientRect();"
        " return [b.left, b.top, b.width, b.height]; })()"
    )
    x0, y0, x1, y1 = left + 4, top + 4, left + width - 4, top + height - 4
    board.page.keyboard.down("Shift")
    board.page.mouse.move(x0, y0)
    board.page.mouse.down()
    for x, y in [(x1, y0), (x1, y1), (x0, y1), (x0, y0)]:
        board.page.mouse.move(x, y, steps=6)
    board.page.mouse.up()
    board.page.keyboard.up("Shift")


def test_a_big_batch_asks_first_and_stays_undoable_across_a_reload_and_a_restart(
    board: Board, workspace: Path, tiny_data_dir: Path
) -> None:
    port = free_port()
    before = board.csv.read_bytes()
    with running_server(workspace, tiny_data_dir, port=port) as first:
        board.start(first)
        _lasso_everything(board)
        batch = wait_for(
            lambda: (caught := board.js("window.alctl.batch")) and len(caught) > 50 and caught,
            what="a batch of more than 50",
        )
        # Its make-up by predicted class shows before any digit.
        assert board.page.text_content("#batch-makeup").startswith("predicted: ")
        board.page.keyboard.press("7")
        board.page.locator("#batch-ask").wait_for(state="visible")
        assert f"Label all {len(batch)} samples as 7?" in board.page.text_content("#batch-ask")
        assert board.csv.read_bytes() == before, "nothing written before Enter"
        board.page.keyboard.press("Escape")  # cancels the question, keeps the batch
        board.page.locator("#batch-ask").wait_for(state="hidden")
        assert board.js("window.alctl.batch") == batch
        board.page.keyboard.press("7")
        board.page.keyboard.press("Enter")
        wait_for(lambda: all(board.labels().get(s) == 7 for s in batch), what="the batch written")
        board.settled()
        board.page.reload()
        board.page.wait_for_selector("body[data-ready='1']", timeout=READY_TIMEOUT_MS)
        assert board.page.text_content("#history-list li") == f"{len(batch)} samples → 7 7"
        assert board.page.is_enabled("#undo")
        instance = board.js("window.alctl.serverInstance")
    with running_server(workspace, tiny_data_dir, port=port) as second:
        board.wait_live()
        wait_for(lambda: board.js("window.alctl.serverInstance") != instance, what="new server")
        board.page.keyboard.press("Control+z")
        try:
            wait_for(lambda: board.csv.read_bytes() == before, timeout=60, what="the undo")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the page: {board.diagnosis()}") from None
        board.settled()
        # Requests that wait for the model (the queue's next images) end before the stop.
        wait_for(
            lambda: second.api("GET", "/api/status").json()["model"]["state"] == "ready",
            what="the model to load",
        )


@pytest.fixture(scope="module")
def server(
    trained: Path, tiny_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    workspace = tmp_path_factory.mktemp("trust-shared") / "ws"
    shutil.copytree(trained, workspace, ignore=shutil.ignore_patterns(".alctl"))
    with running_server(workspace, tiny_data_dir) as live:
        wait_for(
            lambda: live.api("GET", "/api/status").json()["model"]["state"] == "ready",
            what="the model to load",
        )
        yield live


@pytest.fixture()
def shared(browser: Any, server: LiveServer) -> Iterator[Board]:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    guard = guard_page(page)
    board = Board(page, server.workspace)
    board.open(server.url)
    yield board
    page.close()
    guard.check()


# Unlabeled points on screen that a click hits alone: [serial, x, y, predicted class].
ISOLATED_UNLABELED = """(count) => { const s = window.alctl.state, plot = window.alctl.scatter;
  const canvas = document.getElementById('scatter'), box = canvas.getBoundingClientRect();
  const xy = []; for (let i = 0; i < s.n; i++) xy.push(plot.getScreenPosition(i));
  const out = [];
  for (let i = 0; i < s.n && out.length < count; i++) {
    const [x, y] = xy[i];
    if (s.user[i] >= 0 || x < 40 || y < 60 || x > box.width - 40 || y > box.height - 60) continue;
    if (document.elementFromPoint(box.left + x, box.top + y) !== canvas) continue;
    if (xy.some((p, j) => j !== i && Math.hypot(p[0] - x, p[1] - y) < 16)) continue;
    out.push([i, box.left + x, box.top + y, s.pred[i]]);
  }
  return out; }"""


def test_a_batch_mostly_predicted_otherwise_asks_first_and_a_lopsided_set_is_said_once(
    shared: Board, server: LiveServer
) -> None:
    board = shared
    found = board.page.evaluate(ISOLATED_UNLABELED, 3)
    assert len(found) == 3, found
    picks = [serial for serial, *_ in found]
    digit = min(set(range(10)) - {pred for *_, pred in found})  # a class none is predicted as
    board.page.mouse.click(*found[0][1:3])
    wait_for(lambda: board.js("window.alctl.state.selected") == picks[0], what="the first pick")
    board.page.keyboard.down("Shift")
    for _, x, y, _ in found[1:]:
        board.page.mouse.click(x, y)
    board.page.keyboard.up("Shift")
    wait_for(lambda: board.js("window.alctl.batch") == picks, what="a batch of 3")
    before = board.labels()
    board.page.keyboard.press(str(digit))
    ask = board.page.locator("#batch-ask")
    ask.wait_for(state="visible")
    assert "Only 0 of them are predicted" in ask.text_content()
    assert board.labels() == before, "nothing written before the confirmation"
    board.page.click("#batch-confirm")
    wait_for(lambda: all(board.labels().get(s) == digit for s in picks), what="the batch")
    board.settled()

    # Lopsided: more than half of 40 or more labels in one class; pointed out once.
    labeled = len(board.labels())
    heavy = range(200, 200 + 2 * labeled)
    assert server.api("POST", "/api/labels", {"labels": {str(s): 3 for s in heavy}}).status == 200
    warn = board.page.locator(".toast-warn", has_text="a model trained on them mostly learns")
    warn.wait_for(timeout=10_000)
    shown = f"{3 * labeled:,} / "
    wait_for(lambda: board.page.text_content("#stat-labeled").startswith(shown), what="stats")
    assert server.api("PUT", "/api/labels/199", {"label": 3}).status == 200
    after = f"{3 * labeled + 1:,} / "
    wait_for(lambda: board.page.text_content("#stat-labeled").startswith(after), what="stats")
    assert warn.get_attribute("data-count") == "1", "not said again on the next label"
    board.page.reload()
    board.page.wait_for_selector("body[data-ready='1']", timeout=READY_TIMEOUT_MS)
    wait_for(lambda: board.page.text_content("#stat-labeled").startswith(after), what="stats")
    assert board.page.locator(".toast-warn").count() == 0, "said once, not at every reload"
    undo = {str(s): None for s in [*heavy, 199, *picks]}
    assert server.api("POST", "/api/labels", {"labels": undo}).status == 200


def test_n_says_which_unlabeled_sample_it_skipped(shared: Board) -> None:
    board = shared
    wait_for(lambda: board.js("window.alctl.queue?.items?.length"), what="the queue")
    board.page.keyboard.press("n")
    first = wait_for(lambda: board.js("window.alctl.state.selected"), what="the head")
    board.page.keyboard.press("n")
    wait_for(
        lambda: board.js("window.alctl.state.selected") not in (None, first), what="the next one"
    )
    note = board.page.locator(".toast-note", has_text=f"Skipped #{first}")
    note.wait_for(timeout=5000)
    assert note.text_content().startswith(f"Skipped #{first}: still unlabeled")


class HeldStatus:
    """Holds the page's /api/status answers (fetched when asked, so they say what was true
    then) until `release`, which hands them over one at a time in the order given."""

    def __init__(self, board: Board) -> None:
        self.board = board
        self.held: list[tuple[Any, Any]] = []
        board.page.route("**/api/status", self._hold)

    def _hold(self, route: Any) -> None:
        self.held.append((route, route.fetch()))

    def states(self) -> list[str]:
        return [response.json()["training"]["state"] for _, response in self.held]

    def release(self, order: list[int]) -> None:
        self.board.page.unroute("**/api/status", self._hold)
        for index in order:
            route, response = self.held[index]
            answered = self.board.js("window.alctl.statusAnswers")
            route.fulfill(response=response)
            wait_for(
                lambda n=answered: self.board.js("window.alctl.statusAnswers") > n,
                what=f"the page to weigh status answer {index}",
            )


def test_a_session_the_disk_refuses_to_save_says_so_and_the_page_is_idle_after_it(
    board: Board, trained: Path, workspace: Path, tiny_data_dir: Path
) -> None:
    """The session is over when `session_saved` arrives: the page is idle then (not once a
    status says so; one asked for during the save and answered late says "saving"), and says
    the save failed and why; the header counts the epoch only the server's memory holds."""
    artifacts = workspace / "artifacts" / "mnist"
    shutil.rmtree(artifacts)
    with tiny_disk(artifacts, "16m") as disk:
        for file in (trained / "artifacts" / "mnist").iterdir():
            shutil.copy2(file, disk / file.name)  # mtimes kept: the cache fits the checkpoint
        with running_server(workspace, tiny_data_dir) as server:
            board.start(server)
            fill(disk)  # the session trains in memory; its save finds no space
            held = HeldStatus(board)
            board.page.fill("input[name=epochs]", "1")
            board.page.click("#train-start")
            refused = board.page.locator(".toast-error", has_text="could not be saved")
            refused.wait_for(timeout=120_000)
            assert board.page.text_content("#train-state") == "idle"
            result = board.page.locator("#train-result")
            assert "not saved: could not save" in result.text_content()
            assert "No space left on device" in result.text_content()
            assert "failed" in result.get_attribute("class")
            # The answer asked for at train_ended (during the save), then session_saved's.
            wait_for(lambda: len(held.held) >= 2, what="the status asked for at session_saved")
            states = held.states()
            assert states[0] != "idle" and states[-1] == "idle", states
            # The page gets the answers that say "idle" first, then the older ones.
            held.release(sorted(range(len(states)), key=lambda i: states[i] != "idle"))
            assert board.page.text_content("#train-state") == "idle"
            assert board.page.is_enabled("#train-start")
            assert "1 epoch not saved" in board.page.text_content("#checkpoint")
            status = server.api("GET", "/api/status").json()["training"]
            assert status["state"] == "idle" and status["last_result"]["saved"] is False
            (disk / "filler").unlink()
