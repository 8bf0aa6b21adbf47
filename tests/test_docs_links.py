"""Every relative link in README.md and docs/*.md names a file or folder that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# [text](target) and ![alt](target); a target ends at whitespace or ")" (a title may follow).
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|#)", re.IGNORECASE)  # http:, mailto:, #anchor


def relative_links(path: Path) -> list[tuple[int, str]]:
    """(line, target) of every link in `path` that points into the repository."""
    found = []
    in_code = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        for match in LINK.finditer(line):
            target = match.group(1)
            if not EXTERNAL.match(target):
                found.append((number, target))
    return found


def test_the_docs_have_links() -> None:
    # The check below must have something to check: the README links the docs it names.
    targets = {target for _, target in relative_links(REPO / "README.md")}
    assert {"docs/guide.md", "docs/api.md", "docs/ARCHITECTURE.md", "docs/page.png"} <= targets


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(doc: Path) -> None:
    broken = []
    for number, target in relative_links(doc):
        resolved = (doc.parent / target.split("#", 1)[0]).resolve()
        if not resolved.exists():
            broken.append(f"{doc.relative_to(REPO)}:{number}: {target}")
    assert not broken, "links to nothing:\n" + "\n".join(broken)
