"""The machine-readable build report (``build --report FILE``, ``--json``, ``book --report``).

One home for its fields: the dataclasses below are what a build writes and what
``labreport class`` reads back (:func:`load_report`), so a field added here reaches both. Every
name and meaning is documented in docs/report.md. It imports only :mod:`labreport.protocol`
(a leaf), so the builder, the CLI and the class build can all speak of a report.

The seed of each program is the one its process ran with, as the harness reported it from
inside the run (``RunResult.environment["seed"]``), never recomputed from the spec, and each
program's ``digest`` is what copy detection compares: a sha256 over what the run printed, the
values it recorded and how many figures it drew.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from labreport.protocol import SEED_REPORT_KEY

if TYPE_CHECKING:
    from labreport.results import ExperimentOutcome

#: The report format's version: bumped when a field changes meaning or goes away.
REPORT_VERSION = 1

ProgramSource = Literal["run", "cached", "up-to-date"]


@dataclass(frozen=True)
class ProgramEntry:
    """One program of an experiment, as this build ran it or took it from the cache.

    ``source``: ``run`` (this build ran it), ``cached`` (this build took its result from the run
    cache) or ``up-to-date`` (the experiment was not rebuilt; the entry is the last build's).
    ``seconds``: how long the run took when it ran (a cached result keeps its original time).
    """

    code: str
    seed: int | None
    args: tuple[str, ...]
    source: ProgramSource
    status: str
    seconds: float
    digest: str


@dataclass(frozen=True)
class CheckEntry:
    """One checked claim of a record (the spec's ``checks:``) and whether the run bore it out."""

    claim: str
    held: bool


@dataclass(frozen=True)
class ErrorEntry:
    """One error of an experiment, in one line, with the exit status it would end a build with."""

    message: str
    exit_status: int


@dataclass(frozen=True)
class ExperimentEntry:
    """One experiment of the build: ``status`` is ``built``, ``up-to-date`` or ``failed``."""

    id: str
    status: str
    seconds: float
    files: tuple[str, ...] = ()
    errors: tuple[ErrorEntry, ...] = ()
    warnings: tuple[str, ...] = ()
    checks: tuple[CheckEntry, ...] = ()
    programs: tuple[ProgramEntry, ...] = ()


@dataclass(frozen=True)
class BuildReport:
    """A whole build: the command, the student of the project (every ``[student]`` field of
    labreport.toml, blanks as empty text), each experiment, the bound book's files (``book``),
    the exit status the command ended with, and the errors that belong to no one experiment
    (binding the book)."""

    command: str
    labreport: str
    exit_status: int
    student: dict[str, str] = field(default_factory=dict)
    experiments: tuple[ExperimentEntry, ...] = ()
    book: tuple[str, ...] = ()
    errors: tuple[ErrorEntry, ...] = ()
    version: int = REPORT_VERSION

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, ensure_ascii=False) + "\n"


def experiment_entry(outcome: ExperimentOutcome, shown: Callable[[Path], str]) -> ExperimentEntry:
    """What the report says of one experiment's outcome; ``shown`` writes a file's path."""
    errors: tuple[ErrorEntry, ...] = ()
    if outcome.status == "failed":  # one entry per line: a spec error may list several problems
        lines = (outcome.error or "build failed").splitlines()
        errors = tuple(
            ErrorEntry(line.strip(), outcome.exit_code) for line in lines if line.strip()
        )
    return ExperimentEntry(
        id=outcome.id,
        status=outcome.status,
        seconds=round(outcome.duration, 3),
        files=tuple(shown(path) for path in outcome.written),
        errors=errors,
        warnings=outcome.warnings,
        checks=outcome.checks,
        programs=outcome.programs,
    )


def output_digest(output: str, records: dict[str, Any], figures: int) -> str:
    """sha256 of what a run produced: its printed text, its recorded values (as sorted JSON; a
    value JSON cannot hold by its ``repr``) and its number of figures. Two runs with the same
    digest printed, recorded and drew the same."""
    material = json.dumps(
        {"output": output, "records": records, "figures": figures},
        sort_keys=True, ensure_ascii=False, default=repr,
    )  # fmt: skip
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def ran_seed(environment: dict[str, str]) -> int | None:
    """The seed a run's process reported it ran with; None for a result from before it did."""
    try:
        return int(environment[SEED_REPORT_KEY])
    except (KeyError, ValueError):
        return None


class ReportError(ValueError):
    """A report file that is not one this version of labreport writes."""


def _tuple_of(cls: type[Any], items: Any, where: str) -> tuple[Any, ...]:
    if not isinstance(items, list):
        raise ReportError(f"{where}: expected a list")
    return tuple(_build(cls, item, where) for item in items)


def _build(cls: type[Any], value: Any, where: str) -> Any:
    """``cls`` from its ``asdict`` form, nested entries included; ReportError on another shape."""
    if not isinstance(value, dict):
        raise ReportError(f"{where}: expected an object")
    nested = {
        "errors": ErrorEntry, "checks": CheckEntry, "programs": ProgramEntry,
        "experiments": ExperimentEntry,
    }  # fmt: skip
    values: dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        if item.name not in value:
            if item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
                raise ReportError(f"{where}.{item.name}: missing")
            continue
        raw = value[item.name]
        if item.name in nested:
            raw = _tuple_of(nested[item.name], raw, f"{where}.{item.name}")
        elif isinstance(raw, list):
            raw = tuple(raw)
        values[item.name] = raw
    return cls(**values)


def load_report(path: Path) -> BuildReport:
    """The report a build wrote to ``path``; ReportError (or OSError) when it cannot be read."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ReportError(f"{path.name}: not JSON: {exc}") from exc
    return cast(BuildReport, _build(BuildReport, raw, "report"))


def account_to_json(
    programs: Iterable[ProgramEntry], checks: Iterable[CheckEntry]
) -> dict[str, Any]:
    """An experiment's programs and checks as the build state keeps them while it is up to date."""
    return {
        "programs": [dataclasses.asdict(p) for p in programs],
        "checks": [dataclasses.asdict(c) for c in checks],
    }


def account_from_json(
    raw: Any, source: ProgramSource
) -> tuple[tuple[ProgramEntry, ...], tuple[CheckEntry, ...]]:
    """What :func:`account_to_json` kept, each program marked ``source``; nothing when it is
    missing or unreadable (a state file of an older labreport): the report then lists no
    program for an experiment it did not rebuild."""
    try:
        programs = _tuple_of(ProgramEntry, raw["programs"], "programs")
        checks = _tuple_of(CheckEntry, raw["checks"], "checks")
    except (ReportError, KeyError, TypeError):
        return (), ()
    return tuple(dataclasses.replace(p, source=source) for p in programs), checks
