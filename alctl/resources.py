"""Where `templates/` and `static/` live: the repo top level in a checkout, or
`alctl/_resources/` inside an installed wheel (pyproject force-include)."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """The `templates` or `static` directory; FileNotFoundError names both places looked."""
    # The wheel location first: next to an installed package, site-packages/<name> may
    # belong to something else.
    candidates = (_PACKAGE / "_resources" / name, _PACKAGE.parent / name)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"alctl's {name}/ directory is missing (looked in {looked}); reinstall alctl"
    )


def templates_dir() -> Path:
    return resource_dir("templates")


def static_dir() -> Path:
    return resource_dir("static")
