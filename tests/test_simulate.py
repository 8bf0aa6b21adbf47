"""`alctl simulate` and ssvae.runs.simulate: end to end on generated data, oracle, resume."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from ssvae.data.synthetic import synthetic_dataset
from ssvae.runs.campaign import run_simulation
from ssvae.runs.sim_results import read_results, summarize
from ssvae.runs.simulate import Oracle, Plan, pool_subset
from tests.cli_support import invoke, one_error_line

PLAN_ARGS = ("--start", 50, "--step", 50, "--rounds", 2, "--epochs-per-round", 5)


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and "simulations" not in p.parts
    }


def test_simulate_end_to_end_leaves_user_files_alone(
    tiny_data_dir: Path, workspace: Path, torch_one_thread: None
) -> None:
    user = workspace / "artifacts" / "mnist"
    user.mkdir(parents=True)
    (workspace / "labels.csv").write_text("serial,label\n1,3\n")
    (user / "ssvae.ckpt").write_bytes(b"not touched")
    before = _snapshot(workspace)

    out = invoke(
        "simulate", "--strategy", "margin,random", *PLAN_ARGS, "--set", "batch_size=32",
        "--dataset", "mnist", "--data-dir", tiny_data_dir, "--workspace", workspace,
        "--name", "ci", "--workers", 1,  # in this process (tests/test_simulate_ray.py: Ray)
    )  # fmt: skip

    assert out.code == 0, out.stderr
    run = workspace / "artifacts" / "mnist" / "simulations" / "ci"
    rows = read_results(run / "results.csv")
    assert sorted((r["strategy"], r["n_labels"]) for r in rows) == [
        ("margin", 50), ("margin", 100), ("random", 50), ("random", 100),
    ]  # fmt: skip
    assert all(0.0 <= r["test_accuracy"] <= 1.0 and r["temperature"] > 0 for r in rows)
    # The generated squares are easy: training must have learned something.
    assert max(r["test_accuracy"] for r in rows) > 0.3
    assert (run / "accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with (run / "summary.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == 4
    assert "margin" in out.stdout and "random" in out.stdout and " ± " in out.stdout
    # Each round's line tells what a session's does: the 50 picks were predicted blind.
    assert "round 2/2, 100 labels: test accuracy " in out.stderr
    assert "blind accuracy " in out.stderr and "on 50 new labels" in out.stderr
    assert _snapshot(workspace) == before


def test_rounds_start_from_the_datasets_new_model_and_older_runs_resume_on_theirs(
    tiny_data_dir: Path, workspace: Path, torch_one_thread: None
) -> None:
    # A new model in a simulation is the one the page makes (ssvae.config.default_config);
    # a run an older alctl began on SSVAEConfig()'s settings resumes on those.
    runs = workspace / "artifacts" / "mnist" / "simulations"
    args = ("simulate", "--strategy", "random", "--start", 50, "--step", 50, "--rounds", 1,
            "--epochs-per-round", 1, "--set", "batch_size=64", "--dataset", "mnist",
            "--data-dir", tiny_data_dir, "--workspace", workspace, "--workers", 1)  # fmt: skip
    for name in ("new", "old"):
        assert invoke(*args, "--name", name).code == 0
    assert json.loads((runs / "new" / "plan.json").read_text())["defaults"] == "mnist"
    stored = json.loads((runs / "old" / "plan.json").read_text())
    del stored["defaults"]  # as a plan from before the field
    (runs / "old" / "plan.json").write_text(json.dumps(stored))
    results = (runs / "old" / "results.csv").read_bytes()
    again = invoke(*args, "--name", "old")
    assert again.code == 0, again.stderr
    assert json.loads((runs / "old" / "plan.json").read_text())["defaults"] == ""
    assert (runs / "old" / "results.csv").read_bytes() == results  # resumed: nothing to run


def test_rerun_resumes_without_retraining_finished_rounds(tmp_path: Path) -> None:
    data = synthetic_dataset(300, 100)
    plan = Plan(["random"], start=10, step=10, rounds=2, epochs_per_round=1,
                overrides={"batch_size": 64})  # fmt: skip
    first = run_simulation(data, plan, tmp_path)
    seen: list[int] = []
    again = run_simulation(data, plan, tmp_path, on_progress=lambda p: seen.append(p.done))
    assert again == first and seen == [2]  # nothing new ran
    more = Plan(["random"], start=10, step=10, rounds=2, epochs_per_round=1, seeds=2,
                overrides={"batch_size": 64})  # fmt: skip
    rows = run_simulation(data, more, tmp_path)
    assert len(rows) == 4 and {r["seed"] for r in rows} == {0, 1}
    assert [s["seeds"] for s in summarize(rows)] == [2, 2]


def test_oracle_reveals_only_the_chosen_samples() -> None:
    truth = np.arange(50) % 10
    oracle = Oracle(truth)
    assert (oracle.labels() == -1).all()
    assert oracle.reveal([3, 17]).tolist() == [3, 7]
    labels = oracle.labels()
    assert np.flatnonzero(labels >= 0).tolist() == [3, 17]
    labels[:] = 0  # a copy: the caller cannot reach the truth through it
    assert np.flatnonzero(oracle.labels() >= 0).tolist() == [3, 17]


def test_each_round_trains_on_exactly_start_plus_picks(tmp_path: Path) -> None:
    data = synthetic_dataset(300, 100)
    plan = Plan(["least_confidence", "diverse"], start=10, step=5, rounds=3,
                epochs_per_round=1, overrides={"batch_size": 64})  # fmt: skip
    rows = run_simulation(data, plan, tmp_path)
    assert sorted({r["n_labels"] for r in rows}) == [10, 15, 20]


def test_start_zero_trains_unlabeled_then_the_strategy_picks_every_label(tmp_path: Path) -> None:
    data = synthetic_dataset(300, 100)
    plan = Plan(["typical", "random"], start=0, step=20, rounds=2, epochs_per_round=1,
                overrides={"batch_size": 64})  # fmt: skip
    rows = run_simulation(data, plan, tmp_path)
    assert sorted((r["strategy"], r["n_labels"]) for r in rows) == [
        ("random", 0), ("random", 20), ("typical", 0), ("typical", 20),
    ]  # fmt: skip
    # Before any label both runs are the same model; the picks differ, so round 1 may too.
    first = {r["strategy"]: r["test_accuracy"] for r in rows if r["n_labels"] == 0}
    assert first["typical"] == first["random"]


def test_bad_plans_fail_before_training(tiny_data_dir: Path, workspace: Path) -> None:
    common = ("--dataset", "mnist", "--data-dir", tiny_data_dir, "--workspace", workspace)
    assert "unknown strategy" in one_error_line(invoke("simulate", "--strategy", "best", *common))
    line = one_error_line(invoke("simulate", "--start", 500, "--step", 100, *common))
    assert "needs 1000 labels" in line
    line = one_error_line(invoke("simulate", "--set", "label_weight=-1", *common))
    assert "label_weight" in line
    assert "KEY=VALUE" in one_error_line(invoke("simulate", "--set", "oops", *common))
    assert not (workspace / "artifacts").exists() or not any(
        (workspace / "artifacts").rglob("results.csv")
    )


@pytest.mark.parametrize("name", ["../escape", "a/b"])
def test_run_names_stay_inside_the_workspace(
    tiny_data_dir: Path, workspace: Path, name: str
) -> None:
    common = ("--dataset", "mnist", "--data-dir", tiny_data_dir, "--workspace", workspace)
    assert "name" in one_error_line(invoke("simulate", "--name", name, *common))


def test_pool_is_a_fixed_subset_and_keeps_the_test_split() -> None:
    data = synthetic_dataset(300, 100)
    a, b = pool_subset(data, 120), pool_subset(data, 120)
    assert a.n_train == 120 and np.array_equal(a.train_images, b.train_images)
    assert a.test_images is data.test_images and pool_subset(data, 0) is data
    rows = {bytes(img) for img in data.train_images}
    assert all(bytes(img) in rows for img in a.train_images)
    with pytest.raises(ValueError, match="pool"):
        Plan(["random"], pool=-1).validate(300)


def test_runs_train_on_one_torch_thread_and_leave_the_callers_setting(tmp_path: Path) -> None:
    # Two threads per run collapse under any load (`alctl simulate --quick` took ~58 s
    # instead of seconds); one thread per run is the policy on every path.
    import torch

    data = synthetic_dataset(300, 100)
    plan = Plan(["random"], start=10, step=10, rounds=2, epochs_per_round=1,
                overrides={"batch_size": 64})  # fmt: skip
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seen: list[int] = []
        run_simulation(data, plan, tmp_path, on_progress=lambda p: seen.append(
            torch.get_num_threads()) if p.row else None)  # fmt: skip
        assert seen == [1, 1]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


@pytest.mark.parametrize(
    ("n", "start"),
    # The second: 14 of the 700 start labels are check samples, held out of the first
    # round's training and calibrated on; the next rounds must still know them untrained
    # (a round that counted them trained calibrated on the blind picks instead). A third of
    # its labels are wrong, so the temperature depends on which labels it is fitted on.
    [(300, 10), (1500, 700)],
    ids=["few-labels", "with-checks"],
)
def test_a_round_is_a_session_of_the_pipeline_without_its_files(
    tmp_path: Path, n: int, start: int
) -> None:
    # Issue 15: each round runs the steps of the one end-of-session pipeline that apply, so
    # its row holds what the page's and the shell's session record holds, to the last bit.
    from ssvae.runs.pipeline import SessionFiles, run_session
    from ssvae.runs.simulate import torch_threads
    from ssvae.select.checks import check_mask
    from ssvae.select.ranking import rank
    from ssvae.train.trainer import InteractiveTrainer

    data = synthetic_dataset(n, 100)
    if start == 700:
        rng = np.random.default_rng(1)
        targets, wrong = data.train_targets.copy(), rng.random(n) < 0.3
        targets[wrong] = rng.integers(0, 10, int(wrong.sum()))
        data = dataclasses.replace(data, train_targets=targets)
    plan = Plan(["margin"], start=start, step=10, rounds=3, epochs_per_round=2,
                overrides={"batch_size": 64})  # fmt: skip
    rows = run_simulation(data, plan, tmp_path / "sim")
    files = SessionFiles(data.name, tmp_path / "ssvae.ckpt", tmp_path / "history.csv")
    labels = np.full(data.n_train, -1, np.int64)
    first = np.random.default_rng(0).permutation(data.n_train)[: plan.start]
    labels[first] = data.train_targets[first]
    with torch_threads(1):
        trainer = InteractiveTrainer(plan.config(0))
        for row in rows:
            outcome = run_session(trainer, data, labels, files, epochs=plan.epochs_per_round)
            assert outcome.saved and outcome.evaluation is not None and outcome.points
            for key, value in outcome.evaluation.items():  # results.csv keeps 6 digits
                assert row[key] == (value if value is None else pytest.approx(value, rel=1e-5))
            assert row["temperature"] == pytest.approx(trainer.model.temperature, rel=1e-5)
            assert row["n_labels"] == outcome.n_labeled
            picks = rank("margin", outcome.points.probs, outcome.points.latent, labels >= 0,
                         plan.step, seed=row["round"]).indices  # fmt: skip
            labels[picks] = data.train_targets[picks]
            if start == 700:  # every round calibrates on the checks held out so far
                held = np.flatnonzero(check_mask(n) & (labels >= 0))
                assert outcome.result.calibration_labels == len(held) >= 10, row["round"]
    assert rows[0]["blind_accuracy"] is None and rows[0]["blind_n"] == 0  # nothing learnt yet
    assert [r["blind_n"] for r in rows[1:]] == [10, 10]  # the picks, before training on them
    assert any(r["temperature"] != 1.0 for r in rows[1:])  # fitted on them, carried over


def test_results_of_an_older_alctl_are_not_resumed(tiny_data_dir: Path, workspace: Path) -> None:
    run = workspace / "artifacts" / "mnist" / "simulations" / "old"
    run.mkdir(parents=True)
    old = "strategy,seed,round,n_labels,test_accuracy,ece_raw,ece_calibrated,ece_carried,"
    (run / "results.csv").write_text(old + "temperature,wall_s\nrandom,0,0,50,0.5,0,0,0,1,1\n")
    out = invoke("simulate", "--strategy", "random", *PLAN_ARGS, "--dataset", "mnist",
                 "--data-dir", tiny_data_dir, "--workspace", workspace, "--name", "old",
                 "--workers", 1)  # fmt: skip
    assert out.code == 1 and "other columns" in one_error_line(out)
    assert (run / "results.csv").read_text().startswith(old)
