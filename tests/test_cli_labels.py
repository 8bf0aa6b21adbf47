"""`alctl label` / `alctl labels` without a server: the files, the lock, the errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssvae.io.labels import LabelStore
from tests.cli_support import invoke, one_error_line, run


@pytest.fixture()
def ws(workspace: Path, tiny_data_dir: Path) -> list[str]:
    return ["--workspace", str(workspace), "--data-dir", str(tiny_data_dir)]


def labels_file(workspace: Path) -> Path:
    return workspace / "data" / "mnist" / "labels.csv"


def test_set_change_delete_and_list(workspace: Path, ws: list[str]) -> None:
    first = invoke("label", 12, 7, *ws)
    assert first.code == 0, first
    assert "serial 12: label 7 (was unlabeled); 1 labeled" in first.stdout
    assert labels_file(workspace).read_text() == "Serial,label\n12,7\n"

    assert "label 3 (was 7)" in invoke("label", 12, 3, *ws).stdout
    invoke("label", 4, 0, *ws)
    listing = invoke("labels", *ws)
    assert listing.stdout == "Serial,label\n4,0\n12,3\n"
    assert invoke("label", "--list", *ws).stdout == listing.stdout

    gone = invoke("label", 12, "--delete", *ws)
    assert "label deleted (was 3)" in gone.stdout
    assert "no label to delete" in invoke("label", 12, "--delete", *ws).stdout
    assert LabelStore(labels_file(workspace), 600).read() == {4: 0}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["label", 5, 10], "label 10 for serial 5 must be 0-9"),
        (["label", 600, 1], "serial 600 is outside the dataset (0..599)"),
        (["label", 5], "give exactly one of"),
        (["label", 5, 1, "--delete"], "give exactly one of"),
        (["label", 5, 1, "--out", "x.csv"], "--out goes with --list"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    workspace: Path, ws: list[str], args: list[object], words: str
) -> None:
    line = one_error_line(invoke(*args, *ws))
    assert words in line
    assert not labels_file(workspace).exists()


def test_missing_workspace_and_data(tmp_path: Path, tiny_data_dir: Path) -> None:
    line = one_error_line(invoke("label", 1, 1, "--workspace", tmp_path / "nope"))
    assert "is not a directory" in line
    line = one_error_line(invoke("label", 1, 1, "--workspace", tmp_path, "--dataset", "mnist"))
    assert "mnist not found" in line and "--data-dir" in line


def test_import_is_all_or_nothing(workspace: Path, ws: list[str], tmp_path: Path) -> None:
    invoke("label", 1, 1, *ws)
    good = tmp_path / "good.csv"
    # The older tool's quirks: floats, a NaN row, a duplicate (the last one wins).
    good.write_text("Serial,label\n10.0,2.0\n11,nan\n20,5\n10,3\n")
    done = invoke("label", "--import", good, *ws)
    assert done.code == 0, done
    assert "imported 2 labels" in done.stdout and "3 labeled" in done.stdout
    assert LabelStore(labels_file(workspace), 600).read() == {1: 1, 10: 3, 20: 5}

    before = labels_file(workspace).read_bytes()
    for text, words in [
        ("Serial,label\n30,1\n31,12\n", "label 12 outside 0..9"),
        ("Serial,label\n30,1\n9999,1\n", "serial 9999 outside 0..599"),
        ("Serial,label\n30,1\n31,seven\n", "line 3: label must be written with the digits 0-9"),
        ("Serial,label\n30,1\n11,\n", "line 3: label must be written with the digits 0-9"),
        ("Serial,label\n30,1\n12\n", "line 3: expected a serial and a label, got '12'"),
        ("Serial,label\n\u0663,1\n", "line 2: serial must be written with the digits 0-9"),
        ("Serial,label\n\uff15,1\n", "line 2: serial must be written with the digits 0-9"),
        ("Serial,label\n+5,1\n", "line 2: serial must be written with the digits 0-9"),
        ("Serial,label\n1_0,1\n", "line 2: serial must be written with the digits 0-9"),
        ("Serial,label\n 5,1\n", "line 2: serial must be written with the digits 0-9"),
        ("Serial,label\n-0,1\n", "line 2: serial must be written with the digits 0-9"),
        ("id,class\n1,2\n", "header must name columns Serial and label"),
    ]:
        bad = tmp_path / "bad.csv"
        bad.write_text(text, encoding="utf-8")
        assert words in one_error_line(invoke("label", "--import", bad, *ws))
        assert labels_file(workspace).read_bytes() == before
    assert "cannot read" in one_error_line(invoke("label", "--import", tmp_path / "none.csv", *ws))


def test_list_to_file(workspace: Path, ws: list[str], tmp_path: Path) -> None:
    invoke("label", 3, 9, *ws)
    out = tmp_path / "export" / "labels.csv"
    done = invoke("labels", "--out", out, *ws)
    assert done.code == 0 and done.stdout == ""
    assert "wrote 1 label to" in done.stderr
    assert out.read_text() == "Serial,label\n3,9\n"


def test_auto_dataset_follows_the_data(workspace: Path, tiny_data_dir: Path) -> None:
    # With MNIST-named files in --data-dir, auto resolves to mnist like the server does.
    done = invoke("label", 2, 2, "--workspace", workspace, "--data-dir", tiny_data_dir)
    assert done.code == 0, done
    assert labels_file(workspace).exists()


def test_subprocess_end_to_end(workspace: Path, ws: list[str]) -> None:
    done = run("label", 42, 4, *ws)
    assert done.code == 0, done.stderr
    assert "label 4" in done.stdout
    bad = run("label", 42, 11, *ws)
    assert one_error_line(bad) == "error: label 11 for serial 42 must be 0-9"
    assert run("labels", *ws).stdout == "Serial,label\n42,4\n"
