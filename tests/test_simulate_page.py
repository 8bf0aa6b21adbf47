"""`alctl simulate --protocol page`: the page's default path as a simulation, checked against
a real server driven with the page's own calls, and end to end through the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ssvae.data.datasets import load_dataset
from ssvae.io.checkpoint import load_checkpoint
from ssvae.io.workspace import Workspace
from ssvae.runs.page_protocol import PageUser
from ssvae.runs.sim_results import read_results
from ssvae.runs.simulate import Plan, RunSpec
from ssvae.select.checks import check_mask
from tests.cli_support import invoke, one_error_line
from tests.live_server import LiveServer, SSEReader, running_server

# The queue's 5th, 10th, ... items are checks; 50 labels bring 10, enough to calibrate on.
FIRST, MORE, EPOCHS = 50, 10, 2
STRATEGY = "margin"  # random before the first training, the trained model's points after


def _label_heads(server: LiveServer, targets: np.ndarray, n: int) -> list[int]:
    """As the page: label the first item of the queue's head, ask again, `n` times."""
    picked = []
    for _ in range(n):
        head = server.api("GET", f"/api/queue?strategy={STRATEGY}&n=50").json()
        serial = head["items"][0]["serial"]
        body = {"labels": {str(serial): int(targets[serial])}}
        assert server.api("POST", "/api/labels", body).status == 200
        picked.append(serial)
    return picked


def _press(server: LiveServer, events: SSEReader) -> dict[str, Any]:
    assert server.api("POST", "/api/train", {"epochs": EPOCHS}).status == 202
    saved = events.until("session_saved")[-1].data
    events.until("latent_refreshed")  # the queue ranks the new points from here on
    return saved["evaluation"]


def test_the_page_protocol_labels_and_trains_exactly_as_the_page(
    tmp_path: Path, tiny_data_dir: Path, torch_one_thread: None
) -> None:
    # The server trains on one thread (tests/live_server.py), as this run does: the same
    # sums in the same order, so the same weights, points and picks, to the last bit.
    data = load_dataset("mnist", tiny_data_dir, download=False)
    targets = data.train_targets
    with running_server(tmp_path, tiny_data_dir) as server, SSEReader(server.url) as events:
        events.next()
        page_picks = [_label_heads(server, targets, FIRST)]
        page = [_press(server, events)]
        page_picks.append(_label_heads(server, targets, MORE))
        page += [_press(server, events), _press(server, events)]
    ckpt = load_checkpoint(Workspace(tmp_path, "mnist").checkpoint)
    assert ckpt is not None

    plan = Plan([STRATEGY], protocol="page", defaults="mnist", epochs_per_round=EPOCHS)
    user = PageUser(data, plan, RunSpec((), STRATEGY, 0), None)
    assert user.label(FIRST).tolist() == page_picks[0]
    rows = [user.press(0, 1)]
    # After a session the queue ranks by the model's certainty: the session's own points.
    assert user.label(MORE).tolist() == page_picks[1]
    rows += [user.press(1, 1), user.press(1, 2)]

    for row, evaluation in zip(rows, page, strict=True):
        assert row is not None
        for key, value in evaluation.items():
            assert row[key] == value, key
    assert rows[-1]["temperature"] == ckpt.temperature
    # It calibrates on the check labels the queue interleaved, on every press.
    checks = check_mask(data.n_train)
    given = page_picks[0] + page_picks[1]
    assert [r["calibration_labels"] for r in rows] == [
        sum(checks[page_picks[0]]),
        sum(checks[given]),
        sum(checks[given]),
    ]
    assert [s["calibration_labels"] for s in ckpt.sessions] == [
        r["calibration_labels"] for r in rows
    ]
    # Blind: exactly the labels given since the last press; none on a press without labels.
    assert [r["blind_n"] for r in rows] == [0, MORE, 0]
    assert rows[1]["blind_accuracy"] is not None and rows[2]["blind_accuracy"] is None


def test_simulate_page_end_to_end(
    tiny_data_dir: Path, workspace: Path, torch_one_thread: None
) -> None:
    args = (
        "simulate", "--protocol", "page", "--strategy", "typical,random", "--start", FIRST,
        "--step", MORE, "--rounds", 2, "--presses", 2, "--epochs-per-round", EPOCHS,
        "--set", "batch_size=32", "--dataset", "mnist", "--data-dir", tiny_data_dir,
        "--workspace", workspace, "--name", "page", "--workers", 1,
    )  # fmt: skip
    out = invoke(*args)
    assert out.code == 0, out.stderr
    run = workspace / "artifacts" / "mnist" / "simulations" / "page"
    rows = read_results(run / "results.csv")
    assert [(r["strategy"], r["round"], r["press"], r["n_labels"]) for r in rows] == [
        (s, r, p, FIRST + MORE * r) for s in ("typical", "random") for r in (0, 1) for p in "12"
    ]
    for strategy in ("typical", "random"):
        mine = [r for r in rows if r["strategy"] == strategy]
        # Random too is the page's queue: its checks interleaved, so it calibrates on them.
        assert all(r["calibration_labels"] >= 10 and r["temperature"] != 1.0 for r in mine)
        assert all(r["epochs_run"] == EPOCHS and r["ece_calibrated"] is None for r in mine)
        # The second round's first press: its new labels (checks included), predicted blind.
        assert [r["blind_n"] for r in mine] == [0, 0, MORE, 0]
        assert mine[2]["blind_accuracy"] is not None and mine[3]["blind_accuracy"] is None
    assert "press=1:" in out.stdout and "press=2:" in out.stdout
    assert "round 2/2, press 1/2, 60 labels: test accuracy " in out.stderr
    again = invoke(*args)  # resumes: nothing left to run
    assert again.code == 0 and "press 1/2" not in again.stderr
    assert read_results(run / "results.csv") == rows


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--presses", 2), "--presses is for --protocol page"),
        (("--protocol", "pages"), "unknown protocol"),
        (("--protocol", "page", "--start", 700), "needs 700 labels"),
        (("--protocol", "page", "--presses", 0), "presses must be"),
        (("--epochs-per-round", 0), "epochs_per_round must be"),
    ],
)
def test_options_that_do_not_apply_are_one_line_errors(
    tiny_data_dir: Path, workspace: Path, args: tuple[Any, ...], words: str
) -> None:
    common = ("--dataset", "mnist", "--data-dir", tiny_data_dir, "--workspace", workspace)
    assert words in one_error_line(invoke("simulate", *args, *common))
    assert not any(workspace.rglob("results.csv"))
