"""The import rules of docs/ARCHITECTURE.md, checked over the source (ast, nothing imported).

Each room may import only the rooms below it; a new edge that breaks a rule fails here with
the module and line that made it, so the structure cannot drift one convenient import at a
time.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# ssvae's rooms, each with the rooms it may import (besides itself).
SSVAE_RULES: dict[str, set[str]] = {
    "config": set(),
    "records": {"config"},
    "data": {"config"},
    "select": {"config"},
    "io": {"config", "records", "select"},
    "nn": {"config", "records", "select", "io"},
    "train": {"config", "records", "data", "select", "io", "nn"},
    "runs": {"config", "records", "data", "select", "io", "nn", "train"},
}
# alctl's rooms: the shared top-level modules ("" here) serve all three programs; the CLI
# hands `alctl serve` to the server's entry point and nothing else of it.
ALCTL_RULES: dict[str, set[str]] = {
    "": {""},
    "report": {""},
    "server": {"", "report"},
    "cli": {"", "report"},
}
CLI_MAY_START_THE_SERVER = {"alctl.server.run"}
ENTRY_POINT = "alctl.__main__"  # `python -m alctl` runs the CLI
# Rooms that must import without torch (the CLI's fast path and `alctl status` read them).
# Drawing and serving belong to alctl (alctl/report draws the figures the library's files feed).
APPLICATION_ONLY = {"matplotlib", "starlette", "uvicorn", "sse_starlette", "jinja2", "typer"}
TORCH_FREE = ("config", "records", "select", "io", "data")
TORCH_FREE_EXCEPT = {"ssvae.data.augment"}  # a training view of the images: torch by nature


def room(module: str) -> str:
    """`ssvae.io.labels` -> "io"; `alctl.errors` -> "" (a shared top-level module)."""
    parts = module.split(".")
    if len(parts) == 1:
        return ""
    if (REPO / parts[0] / parts[1]).is_dir():
        return parts[1]
    return ""


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted module) of every import in the file, inside functions too."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def modules(package: str) -> dict[str, Path]:
    out = {}
    for path in sorted((REPO / package).rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def violations(package: str, rules: dict[str, set[str]]) -> list[str]:
    found = []
    for name, path in modules(package).items():
        here = room(name)
        for line, target in imports(path):
            top = target.split(".")[0]
            where = f"{path.relative_to(REPO)}:{line} imports {target}"
            if package == "ssvae" and top == "alctl":
                found.append(f"{where}: the library never imports the application")
            if package == "ssvae" and top in APPLICATION_ONLY:
                found.append(f"{where}: pictures and HTTP are the application's (alctl/)")
            if top != package:
                continue
            there = room(target)
            if there == here or there in rules[here]:
                continue
            if name == ENTRY_POINT and there == "cli":
                continue
            if here == "cli" and any(target.startswith(m) for m in CLI_MAY_START_THE_SERVER):
                continue
            found.append(f"{where}: {here or 'top level'} may not import {there or 'top level'}")
    return found


def test_every_room_is_known() -> None:
    for package, rules in (("ssvae", SSVAE_RULES), ("alctl", ALCTL_RULES)):
        rooms = {room(m) for m in modules(package)} - {""}
        assert rooms <= set(rules), f"{package} has rooms without rules: {rooms - set(rules)}"
    flat = [p.name for p in (REPO / "ssvae").glob("*.py") if p.name != "__init__.py"]
    assert flat == [], f"ssvae/ keeps its modules in rooms, not at the top: {flat}"


@pytest.mark.parametrize(("package", "rules"), [("ssvae", SSVAE_RULES), ("alctl", ALCTL_RULES)])
def test_imports_follow_the_rules(package: str, rules: dict[str, set[str]]) -> None:
    assert violations(package, rules) == []


def test_the_rule_check_catches_a_wrong_edge(tmp_path: Path) -> None:
    """The checker itself: an io module importing nn, or the library importing alctl, is found."""
    source = "from ssvae.nn.model import SSVAE\nimport alctl.errors\n"
    bad = tmp_path / "bad.py"
    bad.write_text(source)
    assert [t for _, t in imports(bad)] == ["ssvae.nn.model.SSVAE", "alctl.errors"]
    assert room("ssvae.nn.model.SSVAE") == "nn" and "nn" not in SSVAE_RULES["io"]


def test_light_rooms_import_without_torch() -> None:
    names = [m for m in modules("ssvae") if room(m) in TORCH_FREE and m not in TORCH_FREE_EXCEPT]
    code = (
        f"import sys\nfor m in {names!r}: __import__(m)\n"
        "print([m for m in ('torch', 'torchvision', 'matplotlib', 'pandas') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == "[]", out.stdout
