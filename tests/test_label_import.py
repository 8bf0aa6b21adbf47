"""`alctl label --import`: a file over the documented size is refused at once; below it the
file streams (memory stays flat) with progress on stderr (a 1 GB import took 5 minutes and
4.9 GB of memory before it succeeded)."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from ssvae.io.label_import import MAX_IMPORT_BYTES, read_import
from ssvae.io.labels import LabelError
from tests.cli_support import REPO, cli_env, invoke, one_error_line


def _ws(workspace: Path, data_dir: Path) -> list[object]:
    return ["--workspace", workspace, "--data-dir", data_dir, "--dataset", "mnist"]


def test_a_file_over_the_limit_is_refused_before_it_is_read(
    workspace: Path, tiny_data_dir: Path, tmp_path: Path
) -> None:
    big = tmp_path / "big.csv"
    with big.open("wb") as handle:  # sparse: its size is all that is looked at
        handle.truncate(MAX_IMPORT_BYTES + 1)
    assert invoke("label", 5, 3, *_ws(workspace, tiny_data_dir)).code == 0
    line = one_error_line(invoke("label", "--import", big, *_ws(workspace, tiny_data_dir)))
    assert f"over the {MAX_IMPORT_BYTES // 1_000_000} MB an import takes" in line
    labels = invoke("labels", *_ws(workspace, tiny_data_dir)).stdout
    assert labels == "Serial,label\n5,3\n"


def test_reading_in_pieces_gives_what_the_whole_file_gives(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_bytes(b"\xef\xbb\xbfSerial,label\r\n3,4\r\n7,1.0\r\n3,5\r\n9,nan\r\n")
    heard: list[tuple[int, int]] = []
    assert read_import(path, 10, progress=lambda *a: heard.append(a)) == {7: 1, 3: 5}
    assert heard == []  # under a MiB: nothing to tell
    path.write_bytes(b"Serial,label\n1,2\n" + b"3,\xff\n")
    with pytest.raises(LabelError, match=r"not a text CSV file .* at byte 19"):
        read_import(path, 10)
    with pytest.raises(LabelError, match="not a regular file"):
        read_import(tmp_path, 10)


@pytest.mark.slow
def test_a_big_import_streams_with_progress(
    workspace: Path, tiny_data_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "many.csv"
    rows = "".join(f"{i % 600},{i % 10}\n" for i in range(100_000)).encode()
    with path.open("wb") as handle:
        handle.write(b"Serial,label\n")
        while handle.tell() + len(rows) <= MAX_IMPORT_BYTES:
            handle.write(rows)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run(
        [sys.executable, "-m", "alctl", "label", "--import", path,
         *_ws(workspace, tiny_data_dir)],
        capture_output=True, text=True, env=cli_env(), cwd=REPO, timeout=600,
    )  # fmt: skip
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert done.returncode == 0 and "imported 600 labels" in done.stdout, done
    assert "% of 15.7 MB" in done.stderr and "100% of" in done.stderr, done.stderr
    # The whole file as text, its lines and rows would be several times its 16 MB.
    assert peak_mb < 120 or before / 1024 >= 120, f"peak {peak_mb:.0f} MB"
