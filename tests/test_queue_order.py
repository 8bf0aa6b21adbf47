"""One queue order: a property of (checkpoint, labels, strategy) alone, whoever asks and for
how many. The page's head and thumbnails, `GET /api/queue?n=N` and `alctl suggest -n N`, with
a server or without one, list the same samples in the same order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ssvae.select.ranking import STRATEGIES
from tests.browser import CHROMIUM, wait_for
from tests.cli_support import invoke
from tests.datagen import seed_labels
from tests.live_server import LiveServer, running_server

HEAD = 50  # the page's QUEUE_FETCH


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> Iterator[LiveServer]:
    workspace = tmp_path_factory.mktemp("order-ws")
    seed_labels(workspace, 30)
    trained = invoke("train", "--no-server", "--workspace", str(workspace), "--data-dir",
                     str(tiny_data_dir), "-d", "mnist", "--epochs", "1")  # fmt: skip
    assert trained.code == 0, trained.stderr
    with running_server(workspace, tiny_data_dir) as live:
        yield live


def serials(head: dict[str, Any]) -> list[int]:
    return [item["serial"] for item in head["items"]]


def api_head(server: LiveServer, strategy: str, n: int) -> list[int]:
    answer = server.api("GET", f"/api/queue?strategy={strategy}&n={n}")
    assert answer.status == 200, answer.body
    return serials(answer.json())


def suggest(server: LiveServer, data_dir: Path, strategy: str, n: int, *extra: str) -> list[int]:
    done = invoke("suggest", "-n", n, "--strategy", strategy, "--json", "--workspace",
                  server.workspace, "--data-dir", data_dir, "-d", "mnist", *extra)  # fmt: skip
    assert done.code == 0, done.stderr
    return serials(json.loads(done.stdout))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_n_and_every_path_lists_one_order(
    server: LiveServer, tiny_data_dir: Path, strategy: str
) -> None:
    order = api_head(server, strategy, HEAD)
    assert len(order) == HEAD and len(set(order)) == HEAD
    for n in (1, 5, 10, 20, 30):
        assert api_head(server, strategy, n) == order[:n], n
    for n in (1, HEAD):
        assert suggest(server, tiny_data_dir, strategy, n) == order[:n], n  # through the server
        assert suggest(server, tiny_data_dir, strategy, n, "--no-server") == order[:n], n


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing")
def test_the_page_and_its_thumbnails_list_the_order_the_shell_prints(
    server: LiveServer, tiny_data_dir: Path, browser: Any
) -> None:
    page = browser.new_page()
    try:
        page.goto(server.url)
        page.wait_for_function("document.body.dataset.ready === '1'", timeout=60_000)
        head = wait_for(
            lambda: page.evaluate("(window.alctl.queue?.items ?? []).map((i) => i.serial)"),
            what="the page's queue",
        )
        thumbs = page.evaluate(
            "[...document.querySelectorAll('.queue-thumb')].map((b) => +b.dataset.serial)"
        )
    finally:
        page.close()
    shell = suggest(server, tiny_data_dir, "typical", HEAD)
    assert head == shell
    assert thumbs and thumbs == shell[: len(thumbs)]  # nothing selected: the head itself
