"""The machine-readable output of ``labreport validate --json`` and ``labreport list --json``.

One home for their fields, beside the build report's (:mod:`labreport.report`, whose
``command``/``labreport``/``exit_status``/``version`` they share); every name and meaning is
documented in docs/report.md. A problem keeps the parts :class:`labreport.errors.Problem`
carries, so an editor or a CI job can point at the file and field without parsing a message.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass

from labreport.errors import EXIT_OK, Problem
from labreport.report import REPORT_VERSION


@dataclass(frozen=True)
class ProblemEntry:
    """One problem: where (a file, with :line where known, or an option), the spec or prose
    field, what is wrong, how to fix it, and the exit status a build that met it ends with (0:
    a warning, the build still succeeds). Unknown parts are null."""

    where: str | None
    field: str | None
    what: str
    fix: str | None
    exit_status: int


def problem_entry(problem: Problem) -> ProblemEntry:
    """``problem`` as the JSON says it."""
    return ProblemEntry(
        problem.where or None, problem.field, problem.what, problem.fix, problem.exit_code
    )


def problem_entries(problems: Iterable[Problem]) -> tuple[ProblemEntry, ...]:
    return tuple(problem_entry(problem) for problem in problems)


@dataclass(frozen=True)
class ValidatedExperiment:
    """One experiment as ``validate`` found it: ``ok`` unless a problem would fail a build."""

    id: str
    ok: bool
    problems: tuple[ProblemEntry, ...] = ()


def validated(exp_id: str, problems: Iterable[Problem]) -> ValidatedExperiment:
    entries = problem_entries(problems)
    return ValidatedExperiment(exp_id, all(p.exit_status == EXIT_OK for p in entries), entries)


@dataclass(frozen=True)
class ListedExperiment:
    """One experiment as ``list`` shows it; a ``broken`` one (its spec cannot be read) has no
    number, title or theme, and its ``errors``."""

    id: str
    number: int | None
    title: str | None
    theme: str | None
    status: str  # "ok" or "broken"
    errors: tuple[ProblemEntry, ...] = ()


@dataclass(frozen=True)
class SpecReport:
    """What ``validate`` or ``list`` found: ``problems`` are those of no one experiment (the
    templates, for ``validate``)."""

    command: str
    labreport: str
    exit_status: int
    experiments: tuple[ValidatedExperiment, ...] | tuple[ListedExperiment, ...] = ()
    problems: tuple[ProblemEntry, ...] = ()
    version: int = REPORT_VERSION

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, ensure_ascii=False) + "\n"
