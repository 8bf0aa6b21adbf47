#!/usr/bin/env python3
"""Print the import graph of a package (default: alctl/) from its source, with `ast` only.

    python tools/import_graph.py                # alctl/ of this checkout
    python tools/import_graph.py --root /tmp/before --package alctl --edges

Counts every `import x` / `from x import y` of a module of the package itself (also the
ones inside functions and under TYPE_CHECKING: a reader still follows them). Prints the
modules with their line counts, the per-package counts, and the edges that cross from one
sub-package to another; `--edges` lists every edge.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import Counter
from pathlib import Path


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, name: str, is_package: bool) -> list[str]:
    """Dotted names imported; `from a import b` gives `a.b` (resolved to a or a.b later)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.extend(f"{target}.{alias.name}" for alias in node.names)
    return found


def build_graph(
    root: Path, package: str
) -> tuple[dict[str, int], set[tuple[str, str]], Counter[str]]:
    """(lines per module, edges inside the package, imports of other first-party packages)."""
    files = sorted((root / package).rglob("*.py"))
    modules = {module_name(root, f): f for f in files}
    lines = {m: len(f.read_text(encoding="utf-8").splitlines()) for m, f in modules.items()}
    first_party = {p.name for p in root.iterdir() if (p / "__init__.py").is_file()} - {package}
    edges: set[tuple[str, str]] = set()
    outside: Counter[str] = Counter()
    for name, path in modules.items():
        targets: set[str] = set()
        for target in imports_of(path, name, path.name == "__init__.py"):
            # `from alctl.cli import dispatch` names module alctl.cli.dispatch, while
            # `from alctl.errors import CliError` names alctl.errors: the longest module prefix.
            parts = target.split(".")
            if parts[0] in first_party:
                targets.add(f"{parts[0]}->{name}")
            while parts and ".".join(parts) not in modules:
                parts.pop()
            dest = ".".join(parts)
            if dest and dest != name:
                edges.add((name, dest))
        for item in targets:
            outside[f"{group(item.split('->')[1], package)} -> {item.split('->')[0]}"] += 1
    return lines, edges, outside


def group(module: str, package: str) -> str:
    """The sub-package a module lives in (`alctl.cli`), or the package for top-level ones."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 else package


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--package", default="alctl")
    parser.add_argument("--edges", action="store_true", help="list every edge")
    args = parser.parse_args(argv)
    lines, edges, outside = build_graph(args.root, args.package)
    pkg = args.package
    print(f"{pkg}: {len(lines)} modules, {sum(lines.values())} lines, {len(edges)} import edges")
    print("\nmodules (lines, imports out, imported by):")
    outs = Counter(a for a, _ in edges)
    ins = Counter(b for _, b in edges)
    for name in sorted(lines):
        print(f"  {name:<40} {lines[name]:>5} {outs[name]:>4} {ins[name]:>4}")
    groups = sorted({group(m, pkg) for m in lines})
    print("\nper package (modules, lines, edges inside, edges out to other packages):")
    for g in groups:
        members = [m for m in lines if group(m, pkg) == g]
        inside = sum(1 for a, b in edges if group(a, pkg) == g == group(b, pkg))
        out = sum(1 for a, b in edges if group(a, pkg) == g != group(b, pkg))
        size = sum(lines[m] for m in members)
        print(f"  {g:<20} {len(members):>3} {size:>6} {inside:>4} {out:>4}")
    cross = Counter(
        (group(a, pkg), group(b, pkg)) for a, b in edges if group(a, pkg) != group(b, pkg)
    )
    print("\ncross-package edges (from -> to: count):")
    for (a, b), n in sorted(cross.items()):
        print(f"  {a} -> {b}: {n}")
    print("\nmodules importing other first-party packages (package -> library: modules):")
    for key, n in sorted(outside.items()):
        print(f"  {key}: {n}")
    if args.edges:
        print("\nedges:")
        for a, b in sorted(edges):
            print(f"  {a} -> {b}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
