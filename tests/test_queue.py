"""The labeling queue: ssvae.select.queue, GET /api/queue and `alctl suggest` agree, honestly."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from alctl.queue_request import check_request
from ssvae.io.points_cache import load_cache, save_cache
from ssvae.select.checks import CHECK_EVERY, check_mask
from ssvae.select.points import Predictions2D
from ssvae.select.queue import UNTRAINED_NOTE, queue_head
from ssvae.select.ranking import DEFAULT_STRATEGY, rank
from tests.cli_support import invoke, run
from tests.datagen import seed_labels
from tests.live_server import running_server


def points(n: int = 50, seed: int = 1) -> Predictions2D:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, 10)) * 3
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return Predictions2D(rng.normal(size=(n, 2)), probs.max(1), probs.argmax(1), probs=probs)


def assert_ranking_with_checks(head: Any, ranking: list[int], given: int) -> None:
    """The queue is `ranking`, with every CHECK_EVERY-th label (counting the `given` ones) a
    check sample instead (ssvae.select.checks): a random image, not one the strategy chose.
    A ranked image that is a check candidate itself is flagged as one."""
    serials = [i["serial"] for i in head.items]
    flagged = [(k, i["serial"]) for k, i in enumerate(head.items) if i["check"]]
    cadence = {k for k in range(len(serials)) if (given + k + 1) % CHECK_EVERY == 0}
    checks = [s for _, s in flagged]
    assert checks and check_mask(len(points().pred))[checks].all()
    assert all(k in cadence or s in ranking for k, s in flagged)
    rest = [s for s in ranking if s not in checks]
    assert [s for s in serials if s not in checks] == rest[: len(serials) - len(checks)]


def test_a_trained_queue_is_the_ranking_without_the_labeled() -> None:
    p = points()
    labels = np.full(50, -1)
    labels[[3, 7, 11]] = 2
    head = queue_head(p, labels, "margin", 10, trained=True)
    expected = rank("margin", p.probs, p.xy, labels >= 0, 10)
    assert head.meaningful and head.note is None and head.strategy == "margin"
    assert_ranking_with_checks(head, expected.indices.tolist(), given=3)
    assert {3, 7, 11}.isdisjoint(i["serial"] for i in head.items)
    assert head.pool == 47
    first = head.items[0]
    assert first["pred"] == int(p.pred[first["serial"]])
    assert first["certainty"] == pytest.approx(float(p.certainty[first["serial"]]))


@pytest.mark.parametrize("trained", [False, True])
def test_an_untrained_or_flat_model_says_so_and_is_random(trained: bool) -> None:
    p = points()
    if trained:  # trained but every certainty equal: no order to rank by
        p = Predictions2D(p.xy, np.full(50, 0.1), p.pred, probs=np.full((50, 10), 0.1))
    head = queue_head(p, np.full(50, -1), "least_confidence", 5, trained=trained)
    assert not head.meaningful and head.note == UNTRAINED_NOTE
    assert head.strategy == "random" and head.requested == "least_confidence"
    ranking = rank("random", p.probs, p.xy, np.zeros(50, bool), 5).indices.tolist()
    assert_ranking_with_checks(head, ranking, given=0)


@pytest.mark.parametrize("trained", [False, True])
def test_typical_ranks_the_images_before_any_training(trained: bool) -> None:
    p = points()
    flat = Predictions2D(p.xy, np.full(50, 0.1), p.pred)  # no probs, every certainty equal
    features = np.random.default_rng(2).normal(size=(50, 20))
    head = queue_head(flat, np.full(50, -1), "typical", 5, trained=trained, features=features)
    assert head.meaningful and head.strategy == "typical" and head.note is None
    expected = rank("typical", np.full((50, 2), 0.5), None, np.zeros(50, bool), 5,
                    features=features)  # fmt: skip
    assert_ranking_with_checks(head, expected.indices.tolist(), given=0)
    by_latent = rank("typical", np.full((50, 2), 0.5), None, np.zeros(50, bool), 5,
                     features=p.xy)  # fmt: skip
    assert by_latent.indices.tolist() != expected.indices.tolist()  # the features decide


def test_bad_requests_are_refused_in_words() -> None:
    assert check_request(None, "20") == (DEFAULT_STRATEGY, 20)
    for strategy, n in [("best", 5), ("margin", "0"), ("margin", "2.5"), ("margin", "x")]:
        with pytest.raises(ValueError, match=r"strategy|n must"):
            check_request(strategy, n)


def test_the_cache_keeps_the_probabilities_and_reads_older_files(tmp_path: Path) -> None:
    ckpt = tmp_path / "ssvae.ckpt"
    ckpt.write_bytes(b"x")
    stamp = {"size": 1, "mtime_ns": ckpt.stat().st_mtime_ns}
    p = points(20)
    save_cache(tmp_path / "c.npz", p, {"dataset": "mnist", "checkpoint": stamp})
    back = load_cache(tmp_path / "c.npz", dataset="mnist", n_samples=20, checkpoint=ckpt)
    assert back is not None and np.array_equal(back.predictions.probs, p.probs)
    older = Predictions2D(p.xy, p.certainty, p.pred)
    save_cache(tmp_path / "c.npz", older, {"dataset": "mnist", "checkpoint": stamp})
    back = load_cache(tmp_path / "c.npz", dataset="mnist", n_samples=20, checkpoint=ckpt)
    assert back is not None and back.predictions.probs is None


def _suggest(workspace: Path, data_dir: Path, *extra: str) -> dict:
    done = run("suggest", "-n", "15", "--json", "--workspace", str(workspace),
               "--data-dir", str(data_dir), "-d", "mnist", *extra)  # fmt: skip
    assert done.code == 0, done.stderr
    return json.loads(done.stdout)


def serials(head: dict) -> list[int]:
    return [item["serial"] for item in head["items"]]


def test_page_and_shell_list_the_same_queue_and_follow_cli_labels(
    tiny_data_dir: Path, workspace: Path
) -> None:
    seed_labels(workspace, 30)
    untrained = _suggest(workspace, tiny_data_dir, "--strategy", "margin", "--no-server")
    assert untrained["note"] == UNTRAINED_NOTE and not untrained["meaningful"]
    # The default ("typical") ranks the images themselves: meaningful before any training,
    # and the same order after it.
    typical = _suggest(workspace, tiny_data_dir, "--no-server")
    assert typical["meaningful"] and typical["note"] is None and typical["strategy"] == "typical"
    assert set(serials(typical)).isdisjoint(range(30)) and len(serials(typical)) == 15
    trained = invoke("train", "--no-server", "--workspace", str(workspace), "--data-dir",
                     str(tiny_data_dir), "-d", "mnist", "--epochs", "1")  # fmt: skip
    assert trained.code == 0, trained.stderr

    offline = _suggest(workspace, tiny_data_dir, "--strategy", "margin", "--no-server")
    assert offline["meaningful"] and offline["strategy"] == "margin"
    assert set(serials(offline)).isdisjoint(range(30)) and offline["pool"] == 570
    os.remove(workspace / "artifacts" / "mnist" / "points_cache.npz")  # from the checkpoint
    assert serials(_suggest(workspace, tiny_data_dir, "--strategy", "margin", "--no-server")) == (
        serials(offline)
    )

    with running_server(workspace, tiny_data_dir) as server:
        page = server.api("GET", "/api/queue?strategy=margin&n=15").json()
        assert serials(page) == serials(offline) and page["meaningful"]
        shell = _suggest(workspace, tiny_data_dir, "--strategy", "margin")
        assert serials(shell) == serials(page)
        page_typical = server.api("GET", "/api/queue?n=15").json()
        assert page_typical["strategy"] == "typical"
        assert serials(page_typical) == serials(typical)

        head = serials(page)[0]
        assert run("label", head, 3, "--workspace", str(workspace)).code == 0
        after = server.api("GET", "/api/queue?strategy=margin&n=15").json()
        assert head not in serials(after) and after["pool"] == 569
        assert serials(after)[:14] == serials(page)[1:]

        bad = server.api("GET", "/api/queue?strategy=nope")
        assert bad.status == 400 and "choose from" in bad.json()["error"]


def test_each_session_reports_whether_it_got_better(tiny_data_dir: Path, workspace: Path) -> None:
    from tests.test_session import Recorder
    from tests.thread_server import make_session

    seed_labels(workspace, 25)
    session = make_session(workspace, tiny_data_dir)
    try:
        assert session.status()["evaluations"] == []
        recorder = Recorder(session.bus)
        session.start_training(1, {})
        recorder.wait_for("latent_refreshed", timeout=120)
        first = session.status()["evaluations"][-1]
        before = session.queue("least_confidence", 5)
        session.set_label(before["items"][0]["serial"], 1, "cli")
        recorder.events.clear()
        session.start_training(1, {})
        recorder.wait_for("latent_refreshed", timeout=120)
        evaluations = session.status()["evaluations"]
    finally:
        session.shutdown()
    assert first["session"] == 1 and first["n_labeled"] == 25
    assert first["previous_test_accuracy"] is None and 0 <= first["test_accuracy"] <= 1
    assert 0 <= first["labeled_accuracy"] <= 1
    second = evaluations[-1]
    assert [e["session"] for e in evaluations] == [1, 2] and second["n_labeled"] == 26
    assert second["previous_test_accuracy"] == first["test_accuracy"]
    assert before["meaningful"]
