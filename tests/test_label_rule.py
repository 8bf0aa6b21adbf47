"""One label rule (ssvae.config.is_label) behind every door: the store, the HTTP API, the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alctl.cli import dispatch
from alctl.errors import CliError
from alctl.server import api
from ssvae.config import LABEL_WORDS, N_CLASSES, is_label
from ssvae.io.labels import LabelError, LabelStore, parse_labels_csv

LABELS = [0, 9, np.int64(3), np.int8(9)]
NOT_LABELS = [-1, 10, N_CLASSES, True, False, 3.0, "3", [3]]  # (None deletes; not a label)


@pytest.mark.parametrize("value", LABELS + NOT_LABELS, ids=repr)
def test_the_store_the_api_and_the_cli_agree_with_the_rule(value: object, tmp_path: Path) -> None:
    expected = any(value is v for v in LABELS)
    assert is_label(value) is expected

    store = LabelStore(tmp_path / "labels.csv", 100)
    try:
        store.set(5, value)  # type: ignore[arg-type]
        stored = True
    except LabelError as exc:
        stored = False
        assert LABEL_WORDS in str(exc) or "must be an integer" in str(exc)
    assert stored is expected

    try:
        api._label(value)
        answered = True
    except api.ApiError as exc:
        answered = False
        assert f"must be an integer {LABEL_WORDS}" in str(exc)
    assert answered is expected

    # The CLI parses LABEL as digits first, so only whole numbers reach its check.
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            dispatch._check(5, value, 100)
            accepted = True
        except CliError as exc:
            accepted = False
            assert str(exc) == f"label {value} for serial 5 must be {LABEL_WORDS}"
        assert accepted is expected


def test_numpy_floats_and_none_are_not_labels() -> None:
    assert not is_label(np.float32(3)) and not is_label(None)


def test_an_imported_file_follows_the_rule_too() -> None:
    assert parse_labels_csv("Serial,label\n1,9\n", 10, strict=True) == {1: 9}
    with pytest.raises(LabelError, match=f"label {N_CLASSES} outside 0..{N_CLASSES - 1}"):
        parse_labels_csv(f"Serial,label\n1,{N_CLASSES}\n", 10, strict=True)
