"""scripts/train.py, infer.py, view_latent.py end to end on a small generated dataset."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from ssvae.io.labels import LabelStore
from ssvae.io.npz import KEYS, read_predictions_npz, write_predictions_npz
from ssvae.io.points_cache import load_cache

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "scripts"
OLD_LABELS = ",Serial,label\n" + "".join(
    f"{i},{s}.0,{s % 10}.0\n" for i, s in enumerate(range(0, 60, 2))
)


def run_script(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    env.pop("PYTHONPATH", None)  # the script must find the repo by itself
    return subprocess.run(
        [sys.executable, str(SCRIPTS / name), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("script", "flags"),
    [
        ("train.py", ["--labels", "--weights", "--kl-weight", "--encoder-type", "--patience"]),
        ("infer.py", ["--weights", "--output", "--split", "--data-dir", "--workspace"]),
        ("view_latent.py", ["--input", "--labels", "--workspace", "--dataset"]),
    ],
)
def test_help(script: str, flags: list[str], tmp_path: Path) -> None:
    out = run_script(script, "--help", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    for flag in flags:
        assert flag in out.stdout


@pytest.mark.slow
def test_train_continue_infer(tiny_data_dir: Path, workspace: Path, tmp_path: Path) -> None:
    labels_csv = workspace / "data" / "mnist" / "labels.csv"
    labels_csv.parent.mkdir(parents=True)
    labels_csv.write_text(OLD_LABELS)  # the older tool's format: floats, index column
    common = ["--workspace", str(workspace), "--data-dir", str(tiny_data_dir), "--dataset", "mnist"]

    first = run_script("train.py", *common, "--max-epochs", "2", "--batch-size", "64", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "epoch 1 (global 1)" in first.stdout and "epoch 2 (global 2)" in first.stdout
    assert "saved " in first.stdout and "test accuracy" in first.stdout
    artifacts = workspace / "artifacts" / "mnist"
    assert (artifacts / "ssvae.ckpt").exists() and (artifacts / "loss_curves.png").exists()
    assert len((artifacts / "history.csv").read_text().splitlines()) == 3

    second = run_script(
        "train.py", *common, "--max-epochs", "1", "--learning-rate", "5e-4", cwd=tmp_path
    )
    assert second.returncode == 0, second.stderr
    assert "epoch 1 (global 3)" in second.stdout
    import torch

    payload = torch.load(artifacts / "ssvae.ckpt", weights_only=True)
    assert payload["epochs_trained"] == 3 and payload["config"]["learning_rate"] == 5e-4
    assert payload["config"]["batch_size"] == 64, "options left out keep the checkpoint's values"
    assert payload["optimizer_state"]["param_groups"][0]["lr"] == 5e-4
    assert 0.0 <= payload["test_accuracy"] <= 1.0
    assert [r["session"] for r in payload["history"]] == [1, 1, 2]
    assert len((artifacts / "history.csv").read_text().splitlines()) == 4
    assert LabelStore(labels_csv, 600).read() == {s: s % 10 for s in range(0, 60, 2)}
    # The server's start-up cache is refreshed too, tied to this very checkpoint file.
    cached = load_cache(
        artifacts / "points_cache.npz",
        dataset="mnist",
        n_samples=600,
        checkpoint=artifacts / "ssvae.ckpt",
    )
    assert cached is not None and cached.meta["epochs_trained"] == 3
    assert len(cached.meta["history"]) == 3 and cached.predictions.xy.shape == (600, 2)

    infer = run_script("infer.py", *common, cwd=tmp_path)
    assert infer.returncode == 0, infer.stderr
    arrays = read_predictions_npz(artifacts / "predictions_train.npz")
    assert set(KEYS) <= set(arrays)
    assert arrays["input"].shape == (600, 28, 28) and arrays["input"].dtype == np.uint8
    assert arrays["latent"].shape == (600, 2) and arrays["latent"].dtype == np.float32
    np.testing.assert_array_equal(arrays["tsne"], arrays["latent"])
    assert arrays["labels"].dtype == np.int64 and arrays["pred_classes"].dtype == np.int64
    assert arrays["reconstruted"].dtype == np.uint8 and arrays["pred_certainty"].dtype == np.float32
    assert str(arrays["split"]) == "train"

    out = tmp_path / "test_preds.npz"
    test_split = run_script(
        "infer.py", *common, "--split", "test", "--output", str(out), cwd=tmp_path
    )
    assert test_split.returncode == 0, test_split.stderr
    assert read_predictions_npz(out)["input"].shape == (200, 28, 28)


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.slow
def test_train_refuses_bad_input_with_one_line(tiny_data_dir: Path, workspace: Path) -> None:
    missing = run_script(
        "train.py", "--workspace", str(workspace), "--dataset", "mnist", cwd=workspace
    )
    assert missing.returncode == 1 and "mnist not found" in _one_error_line(missing)

    common = ["--workspace", str(workspace), "--data-dir", str(tiny_data_dir), "--dataset", "mnist"]
    labels_csv = workspace / "data" / "mnist" / "labels.csv"
    labels_csv.parent.mkdir(parents=True)
    labels_csv.write_text("Serial,label\n3,cat\n")
    bad_labels = run_script("train.py", *common, "--max-epochs", "1", cwd=workspace)
    assert bad_labels.returncode == 1 and "'cat' is not a number" in _one_error_line(bad_labels)
    assert labels_csv.read_text() == "Serial,label\n3,cat\n"
    labels_csv.unlink()

    ckpt = workspace / "artifacts" / "mnist" / "ssvae.ckpt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"\x00" * 100)
    corrupt = run_script("train.py", *common, "--max-epochs", "1", cwd=workspace)
    line = _one_error_line(corrupt)
    assert corrupt.returncode == 1 and str(ckpt) in line and "corrupt" in line
    assert ckpt.read_bytes() == b"\x00" * 100, "a bad checkpoint is never overwritten"


def test_infer_without_checkpoint(tiny_data_dir: Path, workspace: Path) -> None:
    result = run_script(
        "infer.py", "--workspace", str(workspace), "--data-dir", str(tiny_data_dir), cwd=workspace
    )
    assert result.returncode == 1 and "train first" in _one_error_line(result)


# --- view_latent: the logic, headless (Agg) -------------------------------------------


def load_viewer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("view_latent", SCRIPTS / "view_latent.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_predictions(path: Path, n: int = 50, split: str = "train") -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    arrays = {
        "input": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
        "latent": rng.normal(size=(n, 2)).astype(np.float32),
        "labels": (np.arange(n) % 10).astype(np.int64),
        "reconstruted": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
        "pred_classes": ((np.arange(n) + 1) % 10).astype(np.int64),
        "pred_certainty": rng.uniform(0.1, 1, n).astype(np.float32),
        "split": np.array(split),
    }
    arrays["tsne"] = arrays["latent"]
    write_predictions_npz(path, arrays)
    return read_predictions_npz(path)


def make_viewer(tmp_path: Path, split: str = "train") -> tuple[ModuleType, object, LabelStore]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    module = load_viewer()
    arrays = fake_predictions(tmp_path / "preds.npz", split=split)
    store = LabelStore(tmp_path / "labels.csv", len(arrays["input"]))
    state = module.ViewerState(arrays, store, [str(d) for d in range(10)])
    figure = Figure(figsize=(10, 6))
    FigureCanvasAgg(figure)
    viewer = module.LatentViewer(state, figure)
    figure.canvas.draw()
    return module, viewer, store


def click_on(viewer: object, serial: int) -> None:
    from matplotlib.backend_bases import MouseEvent

    canvas = viewer.figure.canvas
    x, y = viewer.ax.transData.transform(viewer.state.points[serial])
    canvas.callbacks.process(
        "button_press_event", MouseEvent("button_press_event", canvas, x, y, 1)
    )


def press(viewer: object, key: str) -> None:
    from matplotlib.backend_bases import KeyEvent

    canvas = viewer.figure.canvas
    canvas.callbacks.process("key_press_event", KeyEvent("key_press_event", canvas, key))


def test_viewer_click_label_delete(tmp_path: Path) -> None:
    _, viewer, store = make_viewer(tmp_path)
    press(viewer, "3")
    assert viewer.status.get_text() == "click a point first" and not store.path.exists()
    click_on(viewer, 7)
    assert viewer.state.selected == 7
    np.testing.assert_array_equal(viewer.original.get_array(), viewer.state.images[7])
    np.testing.assert_array_equal(viewer.reconstruction.get_array(), viewer.state.recon[7])
    press(viewer, "3")
    assert store.read() == {7: 3} and viewer.state.user[7] == 3
    assert "labeled 3" in viewer.status.get_text()
    tab10_3 = viewer.state.colors("predicted")[2]  # row 2 is predicted as class 3
    np.testing.assert_allclose(viewer.scatter.get_facecolors()[7], tab10_3)
    click_on(viewer, 12)
    press(viewer, "5")
    press(viewer, "d")
    assert store.read() == {7: 3} and "deleted" in viewer.status.get_text()
    press(viewer, "x")  # other keys do nothing
    assert store.read() == {7: 3}


def test_viewer_colour_modes(tmp_path: Path) -> None:
    module, viewer, _ = make_viewer(tmp_path)
    state = viewer.state
    for mode in module.MODES:
        colors = state.colors(mode)
        assert colors.shape == (50, 4)
    assert np.allclose(state.colors("ground truth")[0], state.colors("ground truth")[10])
    assert not np.allclose(state.colors("certainty")[0], state.colors("certainty")[1])
    viewer.radio.set_active(3)  # "certainty"
    assert state.mode == "certainty"
    np.testing.assert_allclose(viewer.scatter.get_facecolors(), state.colors("certainty"))
    with pytest.raises(ValueError, match="unknown colour mode"):
        state.colors("rainbow")


def test_viewer_sees_labels_written_elsewhere(tmp_path: Path) -> None:
    _, viewer, store = make_viewer(tmp_path)
    assert not viewer.state.refresh_labels()
    LabelStore(store.path, 50).set(4, 9)  # e.g. the dashboard
    viewer.poll_labels()
    assert viewer.state.user[4] == 9
    np.testing.assert_allclose(viewer.scatter.get_facecolors()[4], viewer.state.colors()[4])


def test_viewer_does_not_label_test_split_rows(tmp_path: Path) -> None:
    _, viewer, store = make_viewer(tmp_path, split="test")
    click_on(viewer, 1)
    press(viewer, "2")
    assert "test-split" in viewer.status.get_text() and not store.path.exists()


def test_nearest_index() -> None:
    points = np.array([[0, 0], [1, 1], [5, 5]], dtype=np.float32)
    assert load_viewer().nearest_index(points, 4.0, 4.5) == 2


def test_viewer_main_reports_a_missing_npz(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert load_viewer().main(["--workspace", str(tmp_path)]) == 1
    assert "run scripts/infer.py first" in capsys.readouterr().err


def test_the_script_and_alctl_train_exit_alike(tiny_data_dir: Path, workspace: Path) -> None:
    """The same outcome, the same exit status: no dataset is a problem to fix (1)."""
    from tests.cli_support import run

    script = run_script(
        "train.py", "--workspace", str(workspace), "--dataset", "mnist", cwd=workspace
    )
    shell = run("train", "--workspace", workspace, "--dataset", "mnist", "--no-server")
    assert script.returncode == shell.code == 1
