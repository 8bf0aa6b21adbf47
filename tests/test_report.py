"""`alctl report`: a self-contained HTML file made from the workspace files alone."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from tests.browser import launched_chromium
from tests.cli_support import invoke, one_error_line
from tests.test_api import decode_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> list[str]:
    """A workspace with 3 labels and a 1-epoch checkpoint (trained once for the module)."""
    import torch

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("report-ws")
    args = ["--workspace", str(root), "--data-dir", str(tiny_data_dir)]
    for serial, label in ((0, 1), (5, 2), (9, 3)):
        assert invoke("label", serial, label, *args).code == 0
    done = invoke("train", "--epochs", 1, "--batch-size", 64, *args)
    assert done.code == 0, done
    return args


@pytest.fixture(scope="module")
def report_html(trained: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    done = invoke("report", "--out", out, *trained)
    assert done.code == 0, done
    assert f"wrote {out}" in done.stderr
    return out


def test_no_checkpoint_is_a_clear_error(workspace: Path, tiny_data_dir: Path) -> None:
    out = workspace / "r.html"
    line = one_error_line(
        invoke("report", "--out", out, "--workspace", workspace, "--data-dir", tiny_data_dir)
    )
    assert "no checkpoint at" in line and "alctl train" in line
    assert not out.exists()


def test_report_is_self_contained(report_html: Path) -> None:
    html = report_html.read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    # No external URL of any kind (outside the base64): it opens offline and leaks nothing.
    text = re.sub(r"base64,[A-Za-z0-9+/=]+", "base64,", html)
    external = r"https?:|//[a-z0-9]|<script|<link|@import|url\(|src=\"(?!data:)"
    assert not re.search(external, text, re.I)
    assert len(images) == 3 + 1 + 1 + 48  # 3 scatters, manifold, loss curves, 48 uncertain
    for data in images:
        assert base64.b64decode(data).startswith(PNG_MAGIC)
    manifold = decode_png(base64.b64decode(images[3]))
    assert manifold.shape == (560, 560) and manifold.std() > 0  # 20×20 decoded images
    assert report_html.stat().st_size < 5_000_000


def test_report_content(report_html: Path) -> None:
    html = report_html.read_text(encoding="utf-8")
    for words in (
        "alctl report: mnist, 1 epoch trained",
        "Confusion matrix, test split",
        "Most uncertain unlabeled samples (48)",
        "Hyperparameters",
        "learning_rate",
        "600 training images",
    ):
        assert words in html, words
    serials = {int(s) for s in re.findall(r'alt="serial (\d+)"', html)}
    assert len(serials) == 48 and not serials & {0, 5, 9}  # labeled ones are not suggested
    assert re.search(r"<span class=\"muted\">labeled</span><b>3</b>", html)
    # The session table shows blind accuracy (with its count), not the accuracy on the labels
    # trained on. A first session has no earlier weights to check blind: no value, 0 labels.
    assert "blind accuracy (new labels)</th>" in html and "accuracy on labels" not in html
    assert "<td>– (0)</td>" in html
    # Beside test accuracy, the calibration error of the certainty shown (as the page's line).
    assert "calibration error</th>" in html
    assert re.search(r"<td>[\d.]+ ?%</td><td>[\d.]+ ?%</td><td>– \(0\)</td>", html), html
    # The confusion matrix counts every test image once.
    table = html.split('class="confusion"')[1].split("</table>")[0]
    counts = [int(c) for c in re.findall(r"\">(\d+)</td>", table)]
    assert len(counts) == 100 and sum(counts) == 200


@pytest.mark.browser
def test_report_in_chromium_makes_no_requests(report_html: Path) -> None:
    with launched_chromium() as browser:
        page = browser.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(report_html.as_uri())
        page.wait_for_load_state("load")
        widths = page.evaluate(
            "Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)"
        )
        heading = page.inner_text("h1")
    assert requests == [report_html.as_uri()]
    assert len(widths) == 53 and min(widths) > 0
    assert widths[:4] == [660, 660, 660, 20 * 28]  # three scatters, the decoder's manifold
    assert "mnist" in heading


def test_the_session_table_joins_epochs_and_session_entries() -> None:
    from alctl.report.build import _sessions

    nan = float("nan")

    def epoch(session: int, epoch: int, g: int, val_acc: float) -> dict:
        metrics = {"loss": 100.0 - g, "accuracy": val_acc}
        return {"session": session, "epoch": epoch, "global_epoch": g, "seconds": 2.0,
                "learning_rate": 1e-3, "train": metrics, "val": metrics}  # fmt: skip

    records = [epoch(1, 1, 1, 0.5), epoch(1, 2, 2, nan), epoch(2, 1, 3, 0.75)]
    entries = [
        {"session": 1, "started_at": "2026-01-01T00:00:00+00:00", "n_labeled": 20,
         "status": "completed", "hparams": {"epochs": 2, "kl_weight": 0.5}},
        {"session": 2, "started_at": None, "n_labeled": 30, "status": "stopped",
         "hparams": {"epochs": 5, "kl_weight": 1.0}, "test_accuracy": 0.61,
         "labeled_accuracy": 0.9},
    ]  # fmt: skip
    rows = _sessions(records, entries)
    assert [(r["session"], r["epochs"], r["first"], r["last"]) for r in rows] == [
        (1, 2, 1, 2),
        (2, 1, 3, 3),
    ]
    assert rows[0]["seconds"] == 4.0 and rows[0]["val_loss"] == 98.0
    assert rows[0]["val_accuracy"] is None  # the last epoch's value, even when it is NaN
    assert rows[0]["settings"] == "epochs 2, kl_weight 0.5" and rows[1]["status"] == "stopped"
    assert rows[1]["n_labeled"] == 30
    # Each session's evaluation; an entry saved before evaluations has none.
    assert (rows[1]["test_accuracy"], rows[1]["labeled_accuracy"]) == (0.61, 0.9)
    assert rows[0]["test_accuracy"] is None and rows[0]["labeled_accuracy"] is None
    older = _sessions(records, [])  # a checkpoint without session entries
    assert [r["status"] for r in older] == ["completed", "completed"]
