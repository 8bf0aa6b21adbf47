"""One hyperparameter schema: the library, the API, the CLI, the page and scripts/train.py
accept and refuse exactly the same values."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from alctl.server.api import ApiError, parse_train_request
from ssvae.config import PARAMS, SESSION_PARAMS, SSVAEConfig
from ssvae.config.hparams import HyperparameterError, hparam, params_of
from tests.cli_support import invoke

REPO = Path(__file__).resolve().parents[1]

# (session parameter, value, accepted?) - edges on both sides of every range.
CASES: list[tuple[str, Any, bool]] = [
    ("epochs", 1, True),
    ("epochs", 1000, True),
    ("epochs", 0, False),
    ("epochs", -3, False),
    ("epochs", 1001, False),
    ("batch_size", 1, True),
    ("batch_size", 8192, True),
    ("batch_size", 10000, False),
    ("batch_size", 0, False),
    ("kl_weight", 0.0, True),
    ("kl_weight", 5e6, True),
    ("kl_weight", -1.0, False),
    ("recon_weight", math.inf, False),
    ("label_weight", math.nan, False),
    ("learning_rate", 1e-3, True),
    ("learning_rate", 10.0, True),
    ("learning_rate", math.nan, False),
    ("learning_rate", -1.0, False),
    ("learning_rate", 0.0, False),
    ("learning_rate", 10.5, False),
]


def _config_accepts(name: str, value: Any) -> bool:
    field = "max_epochs" if name == "epochs" else name
    try:
        SSVAEConfig().replace(**{field: value})
    except ValueError as exc:
        assert field in str(exc)
        return False
    return True


def _api_accepts(name: str, value: Any) -> bool:
    try:
        parse_train_request({name: value})
    except ApiError as exc:
        assert name in str(exc)
        return False
    return True


def _cli_accepts(name: str, value: Any, workspace: Path, empty: Path) -> bool:
    # Accepted values get past the options and stop at the (missing) dataset.
    flag = "--" + name.replace("_", "-")
    out = invoke("train", flag, repr(value), "--no-server", "-w", workspace, "--data-dir", empty)
    assert out.code in (1, 2), out  # 2: typer's own range check, before the schema's
    return "does not hold the" in out.stderr


def _script_accepts(name: str, value: Any) -> bool:
    spec = importlib.util.spec_from_file_location("train_script", REPO / "scripts" / "train.py")
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    flag = "--" + ("max_epochs" if name == "epochs" else name).replace("_", "-")
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            script.build_parser().parse_args([flag, repr(value)])
    except SystemExit as exc:
        assert exc.code == 2
        return False
    return True


def _page_verdicts() -> list[bool]:
    """static/js/params.js run by node over the same schema and raw texts."""
    schema = [p.to_json() for p in SESSION_PARAMS.values()]
    cases = [[name, repr(value)] for name, value, _ in CASES]
    code = (
        "import { checkParam } from './static/js/params.js';"
        "const [schema, cases] = JSON.parse(process.argv[1]);"
        "const by = Object.fromEntries(schema.map((p) => [p.name, p]));"
        "console.log(JSON.stringify(cases.map(([n, raw]) => checkParam(by[n], raw)[1] === null)));"
    )
    out = subprocess.run(
        ["node", "--input-type=module", "-e", code, json.dumps([schema, cases])],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_every_consumer_gives_the_same_verdicts(tmp_path: Path) -> None:
    empty = tmp_path / "no-data"
    empty.mkdir()
    verdicts = {
        "SSVAEConfig": [_config_accepts(n, v) for n, v, _ in CASES],
        "POST /api/train": [_api_accepts(n, v) for n, v, _ in CASES],
        "alctl train": [_cli_accepts(n, v, tmp_path, empty) for n, v, _ in CASES],
        "scripts/train.py": [_script_accepts(n, v) for n, v, _ in CASES],
    }
    for who, got in verdicts.items():
        _assert_agrees(who, got)


@pytest.mark.js
def test_the_page_gives_the_same_verdicts() -> None:
    # Fails, not skips, without Node: a missing runtime must not pass as an agreeing page.
    assert shutil.which("node"), (
        "node is not on PATH: install Node.js (apt-get install nodejs), "
        "or deselect the page's JS tests: pytest -m 'not js'"
    )
    _assert_agrees("the page", _page_verdicts())


def _assert_agrees(who: str, got: list[bool]) -> None:
    expected = [ok for _, _, ok in CASES]
    wrong = [c for c, ok, want in zip(CASES, got, expected, strict=True) if ok != want]
    assert not wrong, f"{who} disagrees with the schema on {wrong}"


def test_the_page_is_served_the_schema(live_server: Any) -> None:
    html = live_server.api("GET", "/").body.decode()
    for name, param in SESSION_PARAMS.items():
        assert f'name="{name}"' in html
        assert param.describe() in html


def test_every_config_field_has_a_schema_entry() -> None:
    assert list(PARAMS) == [f for f in SSVAEConfig.__dataclass_fields__]
    for param in PARAMS.values():
        assert param.help, f"{param.name} needs help text"
        assert param.check(param.default) == param.default


def test_a_field_without_a_schema_entry_is_refused() -> None:
    from dataclasses import dataclass, field

    @dataclass(frozen=True)
    class Partial:
        a: int = hparam(1, "int", low=0, high=2, help="a")
        b: int = field(default=3)

    with pytest.raises(TypeError, match=r"Partial\.b"):
        params_of(Partial)


def test_command_line_text_is_parsed_by_the_schema() -> None:
    assert PARAMS["hidden_dims"].parse("64, 32") == (64, 32)
    assert PARAMS["encoder_type"].parse("conv") == "conv"
    with pytest.raises(HyperparameterError, match="batch_size must be a whole number"):
        PARAMS["batch_size"].parse("12.5")
