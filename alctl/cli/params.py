"""Option parsing for `alctl` without pydantic, so quick commands stay quick.

Typer (0.2x) checks every non-flag option through a pydantic TypeAdapter: importing pydantic
and building the adapters costs about 0.2 s per command, more than `alctl status` needs for
everything else. Our options are plain ints, floats, strings, paths and one enum, so we
give each parameter a small converter with typer's own messages, reusing typer's path and
choice checks. Typer builds its converter lazily (`_runtime_param`), so setting ours first
simply takes its place; with a typer whose internals differ, nothing is changed and its
own (slower) conversion runs.

The private names used here exist in typer 0.29 only (0.28 has neither `_coercion` nor
pydantic), so pyproject.toml pins `typer>=0.29,<0.30`; tests/test_cli_status.py fails when
the patch stops covering every option (`install` returns 0) and when pydantic is imported
on the fast path (tests/test_cli_server.py). Without the patch `alctl status` takes about
0.2 s longer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

try:
    from typer._coercion import RuntimeParam
    from typer._param_types import coerce_cli_choice, coerce_cli_path
    from typer.core import _TyperParameter
except ImportError:  # another typer layout: keep its own conversion
    RuntimeParam = None  # type: ignore[assignment,misc]


def _bad(message: str, param: Any, ctx: Any) -> Exception:
    import typer

    return typer.BadParameter(message, ctx=ctx, param=param)


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class LightParam(RuntimeParam):
        """bool, int / float (with min/max), str, Path and Enum values, and list[str] (a
        repeated option), without pydantic."""

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            kind, info = self.annotation, self.parameter_info
            if kind == list[str]:  # the values of a repeated option, as given
                return [str(item) for item in value]
            if kind is bool:
                return _flag(value, param, ctx)
            if kind in (int, float):
                return _number(kind, value, info.min, info.max, param, ctx)
            if kind is str:
                return str(value)
            if isinstance(kind, type) and issubclass(kind, Enum):
                try:
                    return coerce_cli_choice(
                        value, choices=tuple(kind), case_sensitive=info.case_sensitive, ctx=ctx
                    )
                except ValueError as exc:
                    raise _bad(str(exc), param, ctx) from None
            path = value if isinstance(value, Path) else Path(value)
            return coerce_cli_path(path, info, path_type=kind, param=param, ctx=ctx)


def _flag(value: Any, param: Any, ctx: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "t", "yes", "y", "on"):
        return True
    if text in ("0", "false", "f", "no", "n", "off"):
        return False
    raise _bad(f"{value!r} is not a valid boolean.", param, ctx)


def _number(kind: type, value: Any, low: Any, high: Any, param: Any, ctx: Any) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise _bad(f"{value!r} is not a valid {kind.__name__}.", param, ctx) from None
    if (low is not None and number < low) or (high is not None and number > high):
        span = f"{'' if low is None else f'{low}<='}x{'' if high is None else f'<={high}'}"
        raise _bad(f"{number} is not in the range {span}.", param, ctx)
    return number


def _handled(annotation: Any, info: Any) -> bool:
    if get_origin(annotation) is list and get_args(annotation) == (str,):
        return info.parser is None
    if annotation in (bool, int, float, str):
        return info.parser is None and not getattr(info, "clamp", False)
    if not isinstance(annotation, type):
        return False
    if issubclass(annotation, Enum):
        return True
    return issubclass(annotation, Path) and getattr(info, "path_type", None) is None


def install(command: Any) -> int:
    """Give every plain parameter of `command` (and its subcommands) the light converter.

    Returns how many parameters got it (0 when typer's internals are not what we know).
    """
    if RuntimeParam is None:
        return 0
    from typer._click import Context

    count = 0
    root = Context(command, **command.context_settings)
    for sub in [command, *getattr(command, "commands", {}).values()]:
        # The -h/--help option is made (and cached) on first use; make it now to cover it.
        help_option = sub.get_help_option(Context(sub, parent=root) if sub is not command else root)
        for param in [*sub.params, *([help_option] if help_option is not None else [])]:
            descriptor = getattr(param, "type_descriptor", None)
            if not isinstance(param, _TyperParameter) or descriptor is None:
                continue
            if descriptor.file_annotation is not None or param._runtime_param is not None:
                continue
            if _handled(descriptor.annotation, descriptor.parameter_info):
                param._runtime_param = LightParam(
                    parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
                )
                count += 1
    return count
