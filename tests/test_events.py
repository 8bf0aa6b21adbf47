"""EventBus (in-process) and the real `/api/events` stream (uvicorn + HTTP)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from alctl.server.events import EventBus, dumps
from tests.live_server import SSEReader
from tests.thread_server import ThreadServer, make_session, thread_server


def test_dumps_turns_nan_and_inf_into_null_and_numpy_into_numbers() -> None:
    data = {
        "a": float("nan"),
        "b": [float("inf"), -float("inf"), 1.5],
        "c": np.float32(2.5),
        "d": np.int64(3),
        "e": (np.array([1, 2]), {"f": np.float64("nan")}),
    }
    assert json.loads(dumps(data)) == {
        "a": None,
        "b": [None, None, 1.5],
        "c": 2.5,
        "d": 3,
        "e": [[1, 2], {"f": None}],
    }
    with pytest.raises(TypeError, match="object"):
        dumps({"x": object()})


def test_stream_gives_snapshot_first_then_events_from_threads_in_order() -> None:
    async def main() -> None:
        bus = EventBus()
        bus.attach(asyncio.get_running_loop())
        stream = bus.stream(lambda: {"state": "now"})
        first = await anext(stream)
        assert (first["event"], json.loads(first["data"])) == ("snapshot", {"state": "now"})
        publisher = threading.Thread(
            target=lambda: [bus.publish("tick", {"i": i}) for i in range(200)]
        )
        publisher.start()
        publisher.join()
        got = [await anext(stream) for _ in range(200)]
        assert [json.loads(m["data"])["i"] for m in got] == list(range(200))
        ids = [int(first["id"])] + [int(m["id"]) for m in got]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        await stream.aclose()
        assert bus.client_count == 0

    asyncio.run(main())


def test_a_publisher_holding_a_lock_the_snapshot_needs_never_deadlocks() -> None:
    # The server's runner publishes while holding its lock, and a new client's snapshot reads
    # the runner's status under that lock: the bus must not hold its own lock around the
    # snapshot (a page connecting as a session ended hung `alctl serve`).
    bus = EventBus()
    state_lock = threading.Lock()
    held, entered, published = threading.Event(), threading.Event(), threading.Event()
    got: list[str] = []

    def snapshot() -> dict[str, str]:
        entered.set()
        with state_lock:
            return {"state": "idle"}

    def publisher() -> None:
        with state_lock:
            held.set()
            entered.wait(10)  # the snapshot has begun and waits for state_lock
            bus.publish("session_saved", {"session": 1})
            published.set()

    async def client() -> None:
        bus.attach(asyncio.get_running_loop())
        stream = bus.stream(snapshot)
        got.append((await anext(stream))["event"])
        await stream.aclose()

    threading.Thread(target=publisher, daemon=True).start()
    assert held.wait(10)
    loop_thread = threading.Thread(target=lambda: asyncio.run(client()), daemon=True)
    loop_thread.start()
    loop_thread.join(20)
    assert published.is_set(), "publish() never returned: the bus and the state lock deadlocked"
    assert not loop_thread.is_alive() and got == ["snapshot"]


def test_a_client_may_ask_for_progress_less_often_the_latest_winning() -> None:
    """`progress_every_s`: progress at most that often, the held one replaced by newer ones and
    sent when the interval ends or just before any other event; other clients get them all."""

    async def main() -> None:
        bus = EventBus()
        bus.attach(asyncio.get_running_loop())
        slow = bus.stream(dict, progress_every_s=0.3)
        every = bus.stream(dict)
        await anext(slow), await anext(every)

        async def published(*events: tuple[str, int]) -> None:
            for name, i in events:
                bus.publish(name, {"i": i})
            await asyncio.sleep(0)

        await published(*[("train_progress", i) for i in range(5)])
        got = [await anext(slow)]  # the first goes out at once; 1-3 are replaced by 4
        held = await asyncio.wait_for(anext(slow), 1.0)  # at the interval's end
        got.append(held)
        await published(("train_progress", 5), ("train_epoch", 6), ("train_progress", 7))
        # The epoch does not wait: the progress held before it goes first.
        got += [await anext(slow), await anext(slow)]
        late = await asyncio.wait_for(anext(slow), 1.0)
        got.append(late)
        names = [(m["event"], json.loads(m["data"])["i"]) for m in got]
        assert names == [
            ("train_progress", 0),
            ("train_progress", 4),
            ("train_progress", 5),
            ("train_epoch", 6),
            ("train_progress", 7),
        ]
        ids = [int(m["id"]) for m in got]
        assert ids == sorted(ids)
        everything = [json.loads((await anext(every))["data"])["i"] for _ in range(8)]
        assert everything == list(range(8))
        await slow.aclose(), await every.aclose()
        assert bus.client_count == 0

    asyncio.run(main())


def test_a_client_whose_queue_is_full_is_dropped_and_others_keep_going() -> None:
    async def main() -> None:
        bus = EventBus(queue_size=3)
        bus.attach(asyncio.get_running_loop())
        stuck, live = bus.stream(dict), bus.stream(dict)
        await anext(stuck)
        await anext(live)
        for i in range(6):
            bus.publish("tick", {"i": i})
            assert json.loads((await anext(live))["data"]) == {"i": i}
        assert bus.dropped == 1 and bus.client_count == 1
        # The dropped stream ends at once (its page reconnects and gets a fresh snapshot).
        with pytest.raises(StopAsyncIteration):
            await anext(stuck)

    asyncio.run(main())


def test_close_ends_every_stream_and_new_streams_end_at_once() -> None:
    async def main() -> None:
        bus = EventBus()
        bus.attach(asyncio.get_running_loop())
        stream = bus.stream(dict)
        await anext(stream)
        threading.Thread(target=bus.close).start()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(stream), 5)
        with pytest.raises(StopAsyncIteration):
            await anext(bus.stream(dict))

    asyncio.run(main())


def test_publish_without_a_loop_is_a_no_op() -> None:
    EventBus().publish("labels", {"x": 1})  # e.g. a session used by a script, no server


@pytest.fixture()
def server(tiny_data_dir: Path, workspace: Path) -> Iterator[ThreadServer]:
    session = make_session(workspace, tiny_data_dir)
    with thread_server(session, ping_s=0.3) as running:
        yield running


def test_training_events_arrive_in_order_with_nan_as_null(server: ThreadServer) -> None:
    with SSEReader(server.url) as events:
        assert events.next().event == "snapshot"
        answer = server.api("POST", "/api/train", {"epochs": 1, "batch_size": 64})
        assert answer.status == 202, answer.body
        seen = events.until("latent_refreshed")
    names = [e.event for e in seen]
    assert names[0] == "train_started"
    assert names[-3:] == ["train_ended", "session_saved", "latent_refreshed"]
    assert "train_progress" in names
    # The start time tells this session from a lost one of the same number (the page's
    # account of a session across a server restart).
    started_at = server.api("GET", "/api/history").json()["sessions"][-1]["started_at"]
    assert seen[0].data["started_at"] == started_at
    assert names.index("train_progress") < names.index("train_epoch") < names.index("train_ended")
    epoch = next(e for e in seen if e.event == "train_epoch")
    # No labels: the accuracies are NaN on the server and must arrive as null.
    assert epoch.data["val"]["accuracy"] is None and "NaN" not in epoch.raw
    assert seen[-2].data["status"] == "completed"
    ws = server.session.workspace
    assert ws.checkpoint.is_file() and ws.history_csv.is_file()
    assert seen[-1].data["version"] == server.api("GET", "/api/status").json()["latent"]["version"]


def test_reconnecting_gets_a_fresh_snapshot(server: ThreadServer) -> None:
    with SSEReader(server.url) as events:
        before = events.next().data["labels"]["version"]
        assert server.api("PUT", "/api/labels/3", {"label": 4}).status == 200
        change = events.next()
        assert change.event == "labels" and change.data["source"] == "page"
        assert change.data["changes"] == [{"serial": 3, "label": 4, "previous": None}]
    with SSEReader(server.url) as again:
        snapshot = again.next()
    assert snapshot.event == "snapshot"
    assert snapshot.data["labels"]["version"] == before + 1
    assert snapshot.data["labels"]["labeled"] == 1


def test_heartbeat_comments_keep_the_stream_alive(server: ThreadServer) -> None:
    with SSEReader(server.url, timeout=5) as events:
        events.next()
        server.api("PUT", "/api/labels/1", {"label": 1})
        events.next()  # reading past at least one ping interval
        server.api("DELETE", "/api/labels/1")
        assert events.next().event == "labels"
        threading.Event().wait(0.7)
        server.api("PUT", "/api/labels/1", {"label": 2})
        events.next()
    assert any("ping" in c for c in events.comments)


def test_a_page_asks_the_real_stream_for_progress_at_its_own_pace(server: ThreadServer) -> None:
    slow_path = "/api/events?client=page&progress_ms=400"
    with SSEReader(server.url) as every, SSEReader(server.url, path=slow_path) as slow:
        every.next(), slow.next()
        answer = server.api("POST", "/api/train", {"epochs": 10, "batch_size": 8})
        assert answer.status == 202, answer.body
        all_of_them = every.until("latent_refreshed")
        paced = slow.until("latent_refreshed")
    names = [e.event for e in paced]
    assert [e.event for e in all_of_them if e.event != "train_progress"] == [
        n for n in names if n != "train_progress"
    ]  # nothing but progress is held back or lost
    sent, received = (
        names.count("train_progress"),
        [e for e in all_of_them if e.event == "train_progress"],
    )
    seconds = received[-1].data["elapsed_s"] - received[0].data["elapsed_s"]
    assert len(received) > 2 * seconds  # the trainer's own pace: up to 4 a second
    # At most one each 0.4 s, plus the ones released early just before an epoch's end.
    assert sent <= seconds / 0.4 + 1 + names.count("train_epoch")
    # An epoch's end never overtakes progress held back: each comes after a progress line.
    before_epoch = [paced[i - 1] for i, n in enumerate(names) if n == "train_epoch" and i]
    assert all(e.event == "train_progress" for e in before_epoch[1:])


@pytest.mark.parametrize("bad", ["-1", "1.5", "x", "60001", ""])
def test_a_bad_progress_interval_is_one_clear_error(server: ThreadServer, bad: str) -> None:
    answer = server.api("GET", f"/api/events?progress_ms={bad}")
    assert answer.status == 400
    assert "progress_ms must be a whole number of milliseconds" in answer.json()["error"]
