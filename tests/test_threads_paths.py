"""The thread policy on the shell and script paths: `alctl train --no-server`, scripts/train.py
and `alctl simulate` train with the count the policy or the user picks, not torch's default."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

import ssvae.train.threads as threads_module
from ssvae.train.threads import CpuSeconds
from tests.cli_support import REPO, invoke
from tests.test_thread_policy import other_load


@pytest.fixture()
def machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, CpuSeconds]]:
    """2 cores, no OMP_NUM_THREADS; `quiet` and `busy` machines for the machine's load.
    Selects quiet; a test switches with `machine["use"] = machine["busy"]`."""
    import torch

    procs = {
        "quiet": other_load(0.0),
        "busy": other_load(40.0),  # far more than 2 cores
    }
    procs["use"] = procs["quiet"]
    machine_load = threads_module.MachineLoad
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads_module, "available_cores", lambda: 2)
    monkeypatch.setattr(threads_module, "MachineLoad", lambda: machine_load(read=procs["use"]))
    previous = torch.get_num_threads()
    yield procs
    torch.set_num_threads(previous)  # these paths train in the calling thread


def train_script() -> object:
    spec = importlib.util.spec_from_file_location("train_script", REPO / "scripts" / "train.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_alctl_train_here_follows_the_policy_or_the_option(
    machine: dict[str, CpuSeconds], workspace: Path, tiny_data_dir: Path
) -> None:
    import torch

    files = ["--workspace", workspace, "--data-dir", tiny_data_dir, "--no-server"]
    torch.set_num_threads(1)  # torch's default here: the policy must change it
    done = invoke("train", "--epochs", 1, *files)
    assert done.code == 0, done.stderr
    assert "training session 1: 1 epoch from epoch #0, 2 torch threads" in done.stdout
    machine["use"] = machine["busy"]
    done = invoke("train", "--epochs", 1, *files)
    assert "training session 2: 1 epoch from epoch #1, 1 torch thread" in done.stdout
    machine["use"] = machine["quiet"]
    done = invoke("train", "--epochs", 1, "--threads", 1, *files)
    assert "training session 3: 1 epoch from epoch #2, 1 torch thread" in done.stdout
    status = invoke("status", *files[:4])
    assert "threads     2 torch threads for training here (all 2 cores" in status.stdout


def test_scripts_train_follows_the_policy_or_the_option(
    machine: dict[str, CpuSeconds],
    workspace: Path,
    tiny_data_dir: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    import torch

    script = train_script()
    args = ["--workspace", str(workspace), "--data-dir", str(tiny_data_dir), "--max-epochs", "1"]
    torch.set_num_threads(1)
    assert script.main(args) == 0  # type: ignore[attr-defined]
    assert "labeled images, 2 torch threads" in capsys.readouterr().out
    machine["use"] = machine["busy"]
    assert script.main(args) == 0  # type: ignore[attr-defined]
    assert "labeled images, 1 torch thread" in capsys.readouterr().out
    machine["use"] = machine["quiet"]
    assert script.main([*args, "--threads", "1"]) == 0  # type: ignore[attr-defined]
    assert "labeled images, 1 torch thread" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        script.main([*args, "--threads", "0"])  # type: ignore[attr-defined]
    assert refused.value.code == 2
    assert "give a whole number, 1 or more" in capsys.readouterr().err


def test_simulate_runs_hold_the_threads_per_run_count(
    machine: dict[str, CpuSeconds], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A quiet 2-core machine, where the policy would take both cores: a simulation's runs
    train with `--threads-per-run` (1 by default) from start to end, so a serial run's numbers
    are the same run's on Ray."""
    applied: list[int] = []
    apply = threads_module.ThreadGovernor.apply

    def spy(self: threads_module.ThreadGovernor) -> int:
        applied.append(apply(self))
        assert self.tuner is None  # no count changes mid-run
        return applied[-1]

    monkeypatch.setattr(threads_module.ThreadGovernor, "apply", spy)
    assert threads_module.ThreadGovernor.for_process(environ={}).choose() == 2
    for option, expected in (([], 1), (["--threads-per-run", "2"], 2)):
        applied.clear()
        done = invoke(
            "simulate",
            "--quick",
            "--strategy",
            "random",
            "--workspace",
            tmp_path / str(expected),
            *option,
        )
        assert done.code == 0, done.stderr
        assert applied and set(applied) == {expected}
