"""Ctrl+C and SIGTERM end `alctl serve` within 3 s in every state, and lose nothing acknowledged.

Twenty stop cycles per state (tests/stop_states.py drives them; benchmarks/bench_stops.py
prints the same cycles as a table on real data). The dataset has 12,000 images, so the queue's
k-means and pixel PCA take as long as on the real 60,000 (both fit at most 10,000 and 5,000
of them), and the states where they run are the states where they ran.
"""

from __future__ import annotations

import random
import re
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.browser import CHROMIUM
from tests.cli_support import run
from tests.datagen import seed_labels, write_synthetic_idx
from tests.stop_states import STATES, STOP_BUDGET_S, StopCycle, stop_cycle
from tests.trainer_stops import TRAINERS, stop_a_trainer

pytestmark = pytest.mark.slow

CYCLES = 20


@pytest.fixture(scope="module")
def stop_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_idx(tmp_path_factory.mktemp("stop-idx"), n_train=12_000, n_test=1000)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, stop_data: Path) -> Path:
    """A workspace with 100 labels and a 1-epoch checkpoint (and its prediction cache)."""
    workspace = tmp_path_factory.mktemp("stop-template")
    seed_labels(workspace, 100)
    done = run("train", "--no-server", "--epochs", "1", "--workspace", workspace,
               "--data-dir", stop_data, "-d", "mnist", timeout=600)  # fmt: skip
    assert done.code == 0, done.stderr
    return workspace


def cycles(state: str, template: Path, data: Path, tmp_path: Path, browser: Any = None) -> None:
    workspace = tmp_path / "ws"
    shutil.copytree(template, workspace)
    rng = random.Random(f"stops-{state}")
    done: list[StopCycle] = []
    for i in range(CYCLES):
        done.append(stop_cycle(state, i, workspace, data, "mnist", rng=rng, browser=browser))
    slow = [(c.signal, round(c.seconds, 2)) for c in done if c.hung]
    assert not slow, f"{len(slow)} of {CYCLES} stops took over {STOP_BUDGET_S:g} s: {slow}"
    assert {c.code for c in done} == {0}, [c.code for c in done]
    lost = [c.lost for c in done if c.lost]
    assert not lost, f"acknowledged, then lost: {lost}"


@pytest.mark.parametrize("state", [s for s in STATES if s != "page"])
def test_every_stop_is_prompt_and_keeps_what_was_acknowledged(
    state: str, template: Path, stop_data: Path, tmp_path: Path
) -> None:
    cycles(state, template, stop_data, tmp_path)


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing")
def test_every_stop_with_the_page_open_is_prompt(
    template: Path, stop_data: Path, tmp_path: Path, browser: Any
) -> None:
    cycles("page", template, stop_data, tmp_path, browser)


TRAINER_CYCLES = 3


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("trainer", sorted(TRAINERS))
def test_training_without_a_server_stops_promptly_and_saves(
    trainer: str, sig: int, template: Path, stop_data: Path, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    shutil.copytree(template, workspace)
    checkpoint = workspace / "artifacts" / "mnist" / "ssvae.ckpt"
    where = ["--workspace", str(workspace), "--data-dir", str(stop_data)]
    where += ["-d", "mnist"] if trainer.startswith("alctl") else ["--dataset", "mnist"]
    for _ in range(TRAINER_CYCLES):
        before = checkpoint.stat().st_mtime_ns
        seconds = stop_a_trainer([*TRAINERS[trainer], *where], sig)
        assert seconds <= STOP_BUDGET_S, f"{trainer} took {seconds:.2f} s to stop"
        assert checkpoint.stat().st_mtime_ns != before  # the finished epoch was saved


def test_ctrl_c_of_a_simulation_is_prompt_and_keeps_its_rounds(tmp_path: Path) -> None:
    command = ["-m", "alctl", "simulate", "--quick", "--workspace", str(tmp_path)]
    # Off a terminal each finished round is a line "[1/4] margin seed 0: round 1/2, ...".
    seconds = stop_a_trainer(command, signal.SIGINT, re.compile(r"^\[1/\d+\] "))
    assert seconds <= STOP_BUDGET_S, f"simulate took {seconds:.2f} s to stop"
    (results,) = tmp_path.glob("artifacts/*/simulations/*/results.csv")
    assert len(results.read_text().splitlines()) >= 2  # the header and the finished round
