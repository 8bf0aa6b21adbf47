"""What an `alctl simulate` command asks for: its plan, its settings, its run's directory.

The plan from the options (each protocol's defaults where an option is left out), `--set` and
`--grid` parsed to typed settings (JSON values, else the bare word), and the run's name and
directory: the same command again finds the same directory and resumes it only with the
same plan (plan.json).
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

from alctl.errors import UsageError

_NAME = re.compile(r"[A-Za-z0-9._+=,-]{1,200}")
_DEFAULTS = {"start": 20, "step": 20, "rounds": 5, "epochs_per_round": 5, "seeds": 1}
# Small enough for CI: about ten seconds on 2 cores, in this process (no Ray start-up).
_QUICK = {"start": 50, "step": 50, "rounds": 2, "epochs_per_round": 5, "seeds": 1}
# The page's default path: 100 labels from the queue, one press with the default epochs
# (0: the config's max_epochs, as the page's Start training).
_PAGE_DEFAULTS = {"start": 100, "step": 20, "rounds": 1, "epochs_per_round": 0, "seeds": 1}
_QUICK_SETTINGS = {"batch_size": 32}  # 600 images: enough steps per epoch to learn


def build_plan(
    strategy: str,
    protocol: str,
    given: dict[str, int | None],
    presses: int | None,
    pretrain_epochs: int,
    pool: int,
    setting: str | None,
    grid: list[str],
    quick: bool,
) -> Any:
    """The run's `Plan` from the command's options (None: the protocol's default)."""
    from ssvae.runs.simulate import PROTOCOLS, Plan

    if protocol not in PROTOCOLS:
        raise UsageError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    if presses is not None and protocol != "page":
        raise UsageError("--presses is for --protocol page (a round of rounds trains once)")
    defaults = _QUICK if quick else _PAGE_DEFAULTS if protocol == "page" else _DEFAULTS
    options = {k: defaults[k] if v is None else v for k, v in given.items()}
    return Plan(
        strategies=[s.strip() for s in strategy.split(",") if s.strip()],
        protocol=protocol,
        presses=1 if presses is None else presses,
        pretrain_epochs=pretrain_epochs,
        pool=pool,
        overrides={
            **(_QUICK_SETTINGS if quick else {}),
            **parse_settings(setting.split(",") if setting else []),
        },
        grid=parse_grid(grid),
        **options,
    )


def _values(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw  # a bare word: a string setting such as classifier_input=hidden


def parse_settings(items: list[str]) -> dict[str, Any]:
    """["label_weight=30", "classifier_input=hidden"] -> typed overrides (JSON values)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set wants KEY=VALUE, got {item!r}")
        out[key.strip().replace("-", "_")] = _values(raw)
    return out


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """["label_weight=10,30", "classifier_input=mean,image"] -> {key: [typed values]}."""
    out: dict[str, list[Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        values = [v.strip() for v in raw.split(",")]
        if not sep or not key or not all(values):
            raise UsageError(f"--grid wants KEY=V1,V2,..., got {item!r}")
        if key in out:
            raise UsageError(f"--grid names {key} twice; give its values once: {key}=V1,V2")
        out[key] = [_values(v) for v in values]
    return out


def default_name(plan: Any) -> str:
    """A readable name from the plan, so the same command resumes the same run."""
    from ssvae.runs.simulate import setting_text

    page = plan.protocol == "page"
    parts = [
        *(["page"] if page else []),
        "+".join(plan.strategies),
        f"s{plan.start}-{plan.step}x{plan.rounds}",
        f"e{plan.epochs_per_round or 'default'}",
        *([f"presses{plan.presses}"] if page and plan.presses != 1 else []),
    ]
    if plan.pretrain_epochs:
        parts.append(f"p{plan.pretrain_epochs}")
    if plan.pool:
        parts.append(f"pool{plan.pool}")
    parts += [f"{k}={v}" for k, v in sorted(plan.overrides.items())]
    parts += [f"sweep-{k}={','.join(setting_text(v) for v in vs)}" for k, vs in plan.grid.items()]
    return "_".join(parts).replace("/", "-").replace(" ", "")


def run_directory(workspace: Path, dataset: str, name: str | None, plan: Any) -> tuple[str, Path]:
    """(run name, directory) of the run: a new one, or one to resume with the same plan
    (stored there as plan.json; UsageError for another plan or a bad name)."""
    run_name = name or default_name(plan)
    if not _NAME.fullmatch(run_name) or run_name.startswith("."):
        raise UsageError(f"bad run name {run_name!r}: letters, digits and . _ + = - only (no /)")
    out_dir = workspace / "artifacts" / dataset / "simulations" / run_name
    _keep_began_defaults(out_dir, plan)
    _check_same_plan(out_dir, plan, run_name)
    return run_name, out_dir


def _keep_began_defaults(out_dir: Path, plan: Any) -> None:
    """A rounds run stored before rounds took the dataset's defaults began on SSVAEConfig()'s
    (its plan says "" or nothing): it resumes on those, so its rows stay comparable."""
    stored = out_dir / "plan.json"
    if plan.protocol != "rounds" or not stored.exists():
        return
    with contextlib.suppress(OSError, ValueError, AttributeError):
        began = json.loads(stored.read_text()).get("defaults", "")
        if began == "":
            plan.defaults = ""


def _check_same_plan(out_dir: Path, plan: Any, run_name: str) -> None:
    """A rerun resumes only the same plan (more seeds may be added)."""
    from dataclasses import asdict

    from ssvae.io.atomic import atomic_write
    from ssvae.runs import sim_results

    wanted = {k: v for k, v in asdict(plan).items() if k != "seeds"}
    stored = out_dir / "plan.json"
    if stored.exists():
        # A plan stored before a field existed meant that field's default.
        defaults = asdict(type(plan)(strategies=[]))
        have = {**defaults, **json.loads(stored.read_text())}
        have.pop("seeds")
        if have != wanted:
            raise UsageError(
                f"simulation {run_name!r} exists with another plan; pass another --name"
            )
    try:
        sim_results.check_columns(out_dir / "results.csv", plan.result_keys(), plan.result_fields())
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(stored) as handle:
        handle.write(json.dumps(asdict(plan), indent=1).encode())
