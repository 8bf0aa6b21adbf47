"""The hyperparameter schema: name, type, range, default and help of every config field.

`SSVAEConfig` declares each field with `hparam(...)` (dataclass field metadata), so a new
field is one line there. Everything else derives from `ssvae.config.PARAMS`:
`SSVAEConfig.validate()`, `POST /api/train`, the `alctl train` options, the page's training
inputs (served in the page's HTML) and `scripts/train.py`'s arguments. One `Param.check()`
gives every one of them the same verdict and the same words. Standard library only.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["int", "float", "choice", "int_list"]


class HyperparameterError(ValueError):
    """A value outside its parameter's range; the message names the parameter."""


@dataclass(frozen=True)
class Param:
    """One hyperparameter: what values it takes and what it means."""

    name: str
    kind: Kind
    default: Any
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # `low` itself is refused (a learning rate must be above 0)
    choices: tuple[str, ...] = ()
    label: str = ""  # short words for the page ("KL weight")
    help: str = ""
    per_session: bool = False  # may change between sessions: page input, API, `alctl train`
    architecture: bool = False  # fixes the network's shape; never changes for a checkpoint

    def check(self, value: Any) -> Any:
        """`value` normalised (ints where floats are meant become floats), or raise."""
        kind = self.kind
        if kind == "int" and _is_int(value) and self._in_range(value):
            return value
        # An int of any size is finite (math.isfinite would overflow on 10**401) and compares
        # exactly with the bounds; float() only once it is known to be in range.
        finite = _is_int(value) or (isinstance(value, float) and math.isfinite(value))
        if kind == "float" and finite and self._in_range(value):
            return float(value)
        if kind == "choice" and value in self.choices:
            return value
        ints = isinstance(value, (list, tuple)) and all(_is_int(v) for v in value)
        if kind == "int_list" and ints and value and all(self._in_range(v) for v in value):
            return tuple(value)
        raise HyperparameterError(f"{self.name} must be {self.describe()}, got {_echo(value)}")

    def parse(self, text: str) -> Any:
        """A command-line string checked like `check()` (for argparse and `alctl train`)."""
        try:
            if self.kind == "int":
                value: Any = int(text)
            elif self.kind == "float":
                value = float(text)
            elif self.kind == "int_list":
                value = tuple(int(v) for v in text.replace(",", " ").split())
            else:
                value = text
        except ValueError:
            raise HyperparameterError(
                f"{self.name} must be {self.describe()}, got {_echo(text)}"
            ) from None
        return self.check(value)

    def describe(self) -> str:
        """The accepted values in words: 'a whole number from 1 to 1000'."""
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        what = {
            "int": "a whole number",
            "float": "a finite number",
            "int_list": "a non-empty list of whole numbers",
        }[self.kind]
        low, high = _num(self.low), _num(self.high)
        if self.low_open:
            return f"{what} above {low} and at most {high}"
        return f"{what} from {low} to {high}"

    def to_json(self) -> dict[str, Any]:
        """What the page needs to build and check its input."""
        data = dataclasses.asdict(self)
        data["text"] = self.describe()
        data["label"] = self.label or self.name.replace("_", " ")
        return data

    def _in_range(self, value: float) -> bool:
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        return (low < value if self.low_open else low <= value) and value <= high


def hparam(
    default: Any,
    kind: Kind,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    choices: tuple[str, ...] = (),
    label: str = "",
    help: str = "",
    per_session: bool = False,
    architecture: bool = False,
) -> Any:
    """A dataclass field of SSVAEConfig with its schema entry in the field's metadata."""
    spec = {
        "kind": kind,
        "low": low,
        "high": high,
        "low_open": low_open,
        "choices": choices,
        "label": label,
        "help": help,
        "per_session": per_session,
        "architecture": architecture,
    }
    return dataclasses.field(default=default, metadata={"hparam": spec})


def params_of(config_class: type) -> dict[str, Param]:
    """The schema of a dataclass declared with `hparam()` fields, in declaration order."""
    params = {}
    for f in dataclasses.fields(config_class):
        if "hparam" not in f.metadata:
            raise TypeError(f"{config_class.__name__}.{f.name} is not declared with hparam()")
        params[f.name] = Param(name=f.name, default=f.default, **f.metadata["hparam"])
    return params


def epochs_param(max_epochs: Param) -> Param:
    """`epochs` of one session: the range of `max_epochs`, the name the API and page use."""
    return dataclasses.replace(
        max_epochs, name="epochs", label="epochs", help="Epochs in this session."
    )


def check_values(params: dict[str, Param], values: dict[str, Any]) -> dict[str, Any]:
    """Each value checked by its parameter; unknown names are an error listing the known."""
    unknown = sorted(set(values) - set(params))
    if unknown:
        raise HyperparameterError(
            f"unknown training field(s) {', '.join(unknown)}; allowed: {', '.join(params)}"
        )
    return {name: params[name].check(value) for name, value in values.items()}


def schema_json(params: Iterable[Param]) -> list[dict[str, Any]]:
    return [p.to_json() for p in params]


ECHO_LIMIT = 40  # characters of a refused value quoted back


def _echo(value: object) -> str:
    """A refused value as the message quotes it: short, even a 401-digit integer.

    ssvae.io.strict_input.echo says the same for the layers above; config imports nothing.
    """
    if _is_int(value) and abs(value) >= 10**ECHO_LIMIT:  # type: ignore[operator]
        return _digits(value)  # type: ignore[arg-type]
    text = repr(value)
    return text if len(text) <= ECHO_LIMIT else f"{text[:ECHO_LIMIT]}... ({len(text):,} characters)"


def _digits(value: int) -> str:
    try:
        return f"a {len(str(abs(value))):,}-digit integer"
    except ValueError:  # beyond the interpreter's limit on int -> str conversion
        return "an integer of thousands of digits"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _num(value: float | None) -> str:
    if value is None:
        return "any"
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"
