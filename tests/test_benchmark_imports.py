"""The benchmarks import one another without a circle, and each imports on its own.

They run as `python benchmarks/NAME.py`, so they import their siblings by bare name
(`from common import ...`). A circle between two of them (as bench_dashboard <-> bench_decoder
once was) works or breaks depending on which is imported first; here the sibling-import graph
must be acyclic, and every module must import first, in a fresh interpreter, without running
anything (their work is under `if __name__ == "__main__"`).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO / "benchmarks"


def sibling_imports(folder: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same folder it imports (inside functions too)."""
    names = {p.stem for p in folder.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for name in sorted(names):
        tree = ast.parse((folder / f"{name}.py").read_text(encoding="utf-8"))
        found: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
        graph[name] = found & names - {name}
    return graph


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as [a, b, ..., a], or None when the graph has none."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return None
        for target in sorted(graph[name]):
            circle = visit(target, [*path, name])
            if circle:
                return circle
        done.add(name)
        return None

    for name in sorted(graph):
        circle = visit(name, [])
        if circle:
            return circle
    return None


def test_the_benchmarks_import_each_other_without_a_circle() -> None:
    circle = find_circle(sibling_imports(BENCHMARKS))
    assert circle is None, "benchmarks import in a circle: " + " -> ".join(circle or [])


def test_the_circle_check_finds_a_circle(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("from b import f\n")
    (tmp_path / "b.py").write_text("def f():\n    import c\n")
    (tmp_path / "c.py").write_text("import a\nimport os\n")
    (tmp_path / "d.py").write_text("import a\n")
    graph = sibling_imports(tmp_path)
    assert graph == {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_circle(graph) == ["a", "b", "c", "a"]
    (tmp_path / "c.py").write_text("import os\n")
    assert find_circle(sibling_imports(tmp_path)) is None


def test_each_benchmark_imports_first_and_runs_nothing() -> None:
    names = sorted(p.stem for p in BENCHMARKS.glob("*.py"))
    # One interpreter, the benchmarks' folder first on the path as `python benchmarks/x.py`
    # has it; before each import every sibling is forgotten, so each one is imported first.
    code = (
        "import importlib, sys\n"
        f"sys.path.insert(0, {str(BENCHMARKS)!r})\n"
        f"names = {names!r}\n"
        "for name in names:\n"
        "    for other in names:\n"
        "        sys.modules.pop(other, None)\n"
        "    importlib.import_module(name)\n"
        "print('imported', len(names))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == f"imported {len(names)}", out.stdout[-2000:]
