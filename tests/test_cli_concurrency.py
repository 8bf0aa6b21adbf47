"""Shell and page labeling at once: the CSV ends with exactly the last write per serial."""

from __future__ import annotations

import threading
from pathlib import Path

from ssvae.io.labels import LabelStore
from tests.cli_support import Outcome, api_client, run
from tests.live_server import LiveServer
from tests.waiting import wait_for


def test_concurrent_cli_processes_and_api_leave_a_correct_csv(
    live_server: LiveServer, workspace: Path, tiny_data_dir: Path
) -> None:
    client = api_client(live_server)
    expected: dict[int, int | None] = {}
    failures: list[Outcome] = []

    def shell_writer(serials: list[int], extra: list[str]) -> None:
        # Each serial is written three times, in order, by one writer: the last one wins.
        for round_ in range(3):
            for serial in serials:
                done = run("label", serial, (serial + round_) % 10, *extra)
                if done.code != 0:
                    failures.append(done)

    def page_writer(serials: list[int]) -> None:
        for round_ in range(10):
            for serial in serials:
                client.set_label(serial, (serial * 7 + round_) % 10)
        client.delete_label(serials[0])

    via_server = ["--workspace", str(workspace)]
    on_files = [*via_server, "--no-server", "--data-dir", str(tiny_data_dir)]
    jobs = [
        (shell_writer, ([10, 11], via_server)),
        (shell_writer, ([20, 21], via_server)),
        (shell_writer, ([30, 31], on_files)),
        (shell_writer, ([40, 41], on_files)),
        (page_writer, ([50, 51, 52],)),
    ]
    for serials, _ in (job[1] for job in jobs if job[0] is shell_writer):
        expected.update({s: (s + 2) % 10 for s in serials})
    expected.update({s: (s * 7 + 9) % 10 for s in (50, 51, 52)})
    expected[50] = None
    threads = [threading.Thread(target=fn, args=args) for fn, args in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not failures, failures[0]

    want = {s: v for s, v in expected.items() if v is not None}
    csv_path = workspace / "data" / "mnist" / "labels.csv"
    assert LabelStore(csv_path, 600).read() == want
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "Serial,label" and len(lines) == len(want) + 1

    # The server converges on the same labels (outside edits arrive via its watcher).
    def server_labels() -> dict[int, int]:
        answer = client.request("GET", "/api/labels")
        return {int(s): v for s, v in answer["labels"].items()}

    wait_for(lambda: server_labels() == want, 15, "the server's labels to match the CSV")
