"""docs/cli.md is what the programs' `--help` prints today (tools/cli_reference.py writes it)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from typer.main import get_command

from alctl.cli.main import create_cli

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cli_reference", REPO / "tools/cli_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rendered(tool: ModuleType) -> str:
    return tool.render()


def test_docs_cli_md_is_not_stale(tool: ModuleType, rendered: str) -> None:
    on_disk = tool.TARGET.read_text(encoding="utf-8") if tool.TARGET.is_file() else ""
    assert on_disk == rendered, "docs/cli.md is stale: run `make docs` and commit it"


def test_every_command_and_script_has_its_help(rendered: str) -> None:
    commands = get_command(create_cli()).commands  # type: ignore[attr-defined]
    for name, command in commands.items():
        assert f"\n## alctl {name}\n" in rendered
        assert f"Usage: alctl {name} [OPTIONS]" in rendered
        for param in command.params:
            assert any(opt in rendered for opt in param.opts), (name, param.opts)
    for script in ("train", "infer", "view_latent"):
        assert f"usage: scripts/{script}.py [-h]" in rendered


def test_the_check_fails_on_a_stale_file_and_passes_on_a_fresh_one(
    tool: ModuleType,
    rendered: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / "docs" / "cli.md"
    target.parent.mkdir()
    monkeypatch.setattr(tool, "REPO", tmp_path)
    monkeypatch.setattr(tool, "TARGET", target)
    monkeypatch.setattr(tool, "render", lambda: rendered)
    assert tool.main(["--check"]) == 1  # missing
    target.write_text(rendered.replace("--epochs", "--epoch"), encoding="utf-8")
    assert tool.main(["--check"]) == 1  # one option renamed in the help, not in the file
    assert "docs/cli.md is stale: run `make docs`" in capsys.readouterr().err
    assert tool.main([]) == 0 and target.read_text(encoding="utf-8") == rendered
    assert tool.main(["--check"]) == 0
