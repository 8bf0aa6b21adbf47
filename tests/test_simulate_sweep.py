"""`alctl simulate --grid`: every combination runs, results.csv has a column per swept key
and summary.csv groups by it; bad --grid, --address and option mixes are one line."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from ssvae.runs.sim_results import read_results
from ssvae.runs.simulate import Plan, RunSpec
from tests.cli_support import invoke, one_error_line
from tests.live_server import free_port

COMMON = ("--start", 20, "--step", 20, "--rounds", 2, "--epochs-per-round", 1)


def test_a_sweep_runs_every_combination_and_summary_groups_by_the_swept_key(
    workspace: Path, torch_one_thread: None
) -> None:
    out = invoke(
        "simulate", "--quick", "--workers", 1, "--strategy", "random", *COMMON,
        "--seeds", 2, "--grid", "label_weight=1,30", "--workspace", workspace, "--name", "sweep",
    )  # fmt: skip
    assert out.code == 0, out.stderr
    run = workspace / "artifacts" / "synthetic" / "simulations" / "sweep"
    header = (run / "results.csv").read_text().splitlines()[0]
    assert header.startswith("label_weight,strategy,seed,round,")
    rows = read_results(run / "results.csv")
    assert sorted((r["label_weight"], r["seed"], r["n_labels"]) for r in rows) == [
        (w, s, n) for w in ("1", "30") for s in (0, 1) for n in (20, 40)
    ]
    with (run / "summary.csv").open() as handle:
        summary = list(csv.DictReader(handle))
    assert [(s["label_weight"], s["n_labels"], s["seeds"]) for s in summary] == [
        ("1", "20", "2"), ("1", "40", "2"), ("30", "20", "2"), ("30", "40", "2"),
    ]  # fmt: skip
    for s in summary:  # each group's mean is over exactly its own seeds' rows
        group = (s["label_weight"], int(s["n_labels"]))
        own = [r["test_accuracy"] for r in rows if (r["label_weight"], r["n_labels"]) == group]
        assert float(s["accuracy_mean"]) == pytest.approx(np.mean(own), abs=1e-6)
    assert "label_weight=1:" in out.stdout and "label_weight=30:" in out.stdout
    assert "random seed 1 label_weight=30: round 2/2" in out.stderr  # the per-run line

    again = invoke(
        "simulate", "--quick", "--workers", 1, "--strategy", "random", *COMMON,
        "--seeds", 2, "--grid", "label_weight=1,30", "--workspace", workspace, "--name", "sweep",
    )  # fmt: skip
    assert again.code == 0 and read_results(run / "results.csv") == rows  # nothing rerun


def test_a_run_whose_training_fails_is_named_and_the_others_finish(
    workspace: Path, torch_one_thread: None
) -> None:
    out = invoke(
        "simulate", "--quick", "--workers", 1, "--strategy", "random", *COMMON,
        "--grid", "learning_rate=10,0.001", "--workspace", workspace, "--name", "diverges",
    )  # fmt: skip
    assert out.code == 1
    assert "error: 1 run(s) did not finish" in one_error_line(out)
    assert "run random seed 0 learning_rate=10 did not finish: training failed:" in out.stderr
    rows = read_results(workspace / "artifacts/synthetic/simulations/diverges/results.csv")
    assert [(r["learning_rate"], r["round"]) for r in rows] == [("0.001", 0), ("0.001", 1)]
    assert "learning_rate=0.001:" in out.stdout  # its table is printed


def test_runs_are_the_product_of_settings_strategies_and_seeds_in_a_fixed_order() -> None:
    plan = Plan(["margin", "random"], seeds=2, grid={"label_weight": [1, 30], "kl_weight": [0.5]})
    runs = plan.runs()
    assert len(runs) == 2 * 2 * 2 and len(set(runs)) == 8
    assert runs[0] == RunSpec((("label_weight", 1), ("kl_weight", 0.5)), "margin", 0)
    assert runs[-1].label == "random seed 1 label_weight=30 kl_weight=0.5"
    # A seed's warm start is shared by its strategies, not across settings.
    assert len({r.warm_key() for r in runs}) == 2 * 2


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--grid", "label_weight"), "--grid wants KEY=V1,V2"),
        (("--grid", "=1,2"), "--grid wants KEY=V1,V2"),
        (("--grid", "label_weight="), "--grid wants KEY=V1,V2"),
        (("--grid", "label_weight=1,,2"), "--grid wants KEY=V1,V2"),
        (("--grid", "label_weight=1", "--grid", "label_weight=2"), "names label_weight twice"),
        (("--grid", "no_such_setting=1,2"), "no_such_setting"),
        (("--grid", "label_weight=-1,2"), "label_weight=-1"),
        (("--grid", "label_weight=1,1.0"), "names a value twice"),
        (("--grid", "seed=1,2"), "--seeds"),
        (("--set", "label_weight=3", "--grid", "label_weight=1,2"), "both set and swept"),
        (("--strategy", "best"), "unknown strategy"),
        (("--address", "nonsense"), "bad Ray address"),
        (("--address", "ray://10.0.0.5:10001"), "not a URL"),
        (("--address", "127.0.0.1:70000"), "bad Ray address"),
        (("--address", "127.0.0.1:{closed}"), "no Ray cluster answers at 127.0.0.1:"),
        (("--workers", 1, "--gpus-per-run", 0.5), "--gpus-per-run is for runs on Ray"),
        (("--workers", 2, "--device", "cuda"), "--device is for --workers 1"),
    ],
)
def test_bad_sweeps_and_addresses_are_one_line_and_exit_1(
    workspace: Path, args: tuple[object, ...], words: str
) -> None:
    args = tuple(str(a).format(closed=free_port()) for a in args)
    out = invoke("simulate", "--quick", *args, "--workspace", workspace)
    assert out.code == 1, out
    assert words in one_error_line(out)
    assert not list(workspace.rglob("results.csv"))


def test_ray_address_from_the_environment_is_checked_the_same_way(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{free_port()}")
    out = invoke("simulate", "--quick", "--workers", 2, "--workspace", workspace)
    assert out.code == 1
    assert "no Ray cluster answers at 127.0.0.1:" in one_error_line(out)


@pytest.mark.parametrize("args", [("--workers", 0), ("--gpus-per-run", -1)])
def test_out_of_range_counts_are_refused_by_the_parser(
    workspace: Path, args: tuple[object, ...]
) -> None:
    out = invoke("simulate", "--quick", *args, "--workspace", workspace)
    assert out.code == 2 and "Traceback" not in out.stderr
