"""``labreport verify``: is a claim a fact about the method, or about one run on one machine?

A check (spec ``checks:``) is a scientific claim, and one training run at one seed is a single
sample of a chaotic process: another CPU's float rounding takes it elsewhere. ``verify`` runs
every program of an experiment again with N seeds -- run k gives each program its spec seed
plus k, so run 0 is the record's own -- through the run cache and side by side, fills in the
prose and evaluates the checks for each run, and reports on how many seeds each claim held,
with the spread of every recorded value. A claim that fails on any seed is no fact yet.
``verify --students N`` runs each experiment instead as N students would under
``[student] seeds = "student"``: every program with the seed derived from each of N student IDs
(labreport.seeds), so a teacher knows the course holds whoever builds it.
See docs/verify.md for the rule course authors follow.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from labreport.batch import run_all, terminations_interrupt
from labreport.build import Builder
from labreport.errors import EXIT_FAILED, LabreportError
from labreport.render import merged_results
from labreport.seeds import STUDENT, resolve_seeds
from labreport.spec import ExperimentSource, load_experiment


@dataclass(frozen=True)
class SeedRun:
    """One run of an experiment's programs at one seed: each check's outcome, or the error."""

    seed: int
    passed: tuple[bool, ...] = ()
    results: dict[str, Any] | None = None
    error: str | None = None
    exit_code: int = 0
    student: str | None = None  # whose derived seeds (verify --students); seed: the first's

    @property
    def name(self) -> str:
        """How the report names this run: its seed, or its student's ID."""
        return self.student if self.student is not None else str(self.seed)


@dataclass(frozen=True)
class Tally:
    """One check over every seed."""

    claim: str
    expr: str
    held: tuple[str, ...]  # the runs' names (SeedRun.name)
    failed: tuple[str, ...]


@dataclass(frozen=True)
class Spread:
    """One recorded number over the seeds that recorded it."""

    name: str
    mean: float
    sd: float
    low: float
    high: float
    count: int


@dataclass(frozen=True)
class Verdict:
    """What ``verify`` found for one experiment."""

    id: str
    runs: tuple[str, ...]  # the runs' names (SeedRun.name), in order
    kind: str = "seed"  # what names a run: "seed", or "student" (verify --students)
    tallies: tuple[Tally, ...] = ()
    spreads: tuple[Spread, ...] = ()
    failures: tuple[SeedRun, ...] = ()  # seeds whose programs or prose failed
    error: str | None = None  # the experiment could not be verified at all (its spec)
    exit_code: int = 0

    @property
    def holds(self) -> bool:
        return self.error is None and not self.failures and not any(t.failed for t in self.tallies)


def with_seed_offset(source: ExperimentSource, offset: int) -> ExperimentSource:
    """``source`` (its seeds resolved) with every program's seed raised by ``offset``."""
    programs = [p.model_copy(update={"seed": p.run_seed + offset}) for p in source.spec.programs]
    return replace(source, spec=source.spec.model_copy(update={"programs": programs}))


def student_ids(count: int) -> list[str]:
    """The IDs ``verify --students N`` derives seeds from: S001, S002, ... (any IDs would do;
    these are the same on every machine, so two teachers' reports agree)."""
    return [f"S{k:03d}" for k in range(1, count + 1)]


def _numbers(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def spreads(runs: Sequence[SeedRun]) -> tuple[Spread, ...]:
    """Mean, sample standard deviation and range of every finite number the runs recorded."""
    values: dict[str, list[float]] = {}
    for run in runs:
        for name, value in (run.results or {}).items():
            number = _numbers(value)
            if number is not None:
                values.setdefault(name, []).append(number)
    return tuple(
        Spread(
            name,
            statistics.fmean(found),
            statistics.stdev(found) if len(found) > 1 else 0.0,
            min(found),
            max(found),
            len(found),
        )  # fmt: skip
        for name, found in sorted(values.items())
    )


class Verifier:
    """Runs experiments at several seeds with one entered :class:`Builder` (its cache, warm
    interpreters, limits and progress events)."""

    def __init__(self, builder: Builder) -> None:
        self.builder = builder
        self._sources: dict[str, ExperimentSource] = {}

    def verify(
        self, ids: Sequence[str], seeds: int, jobs: int, students: Sequence[str] = ()
    ) -> list[Verdict]:
        """A verdict per experiment, in the order of ``ids``; the runs of all experiments and
        seeds share ``jobs`` workers. With ``students``, one run per student ID instead, every
        program's seed derived from it (as under ``[student] seeds = "student"``)."""
        project = self.builder.project
        sources = self._sources
        verdicts: dict[str, Verdict] = {}
        for exp_id in ids:
            try:
                source = load_experiment(
                    project.experiments_dir / exp_id, display_root=project.root
                )
                sources[exp_id] = source if students else self.builder.seeded(source)
            except LabreportError as exc:
                verdicts[exp_id] = Verdict(exp_id, (), error=exc.format_message(),
                                           exit_code=exc.exit_code)  # fmt: skip
        work: list[tuple[str, int | str]] = [
            (exp_id, who) for exp_id in sources for who in (students or range(seeds))
        ]
        with terminations_interrupt():
            runs = run_all(self._run, work, jobs, self.builder.cancel)
        for exp_id, source in sources.items():
            mine = [run for (owner, _), run in zip(work, runs, strict=True) if owner == exp_id]
            verdicts[exp_id] = self._verdict(source, mine)
        return [verdicts[exp_id] for exp_id in ids]

    def _run(self, item: tuple[str, int | str]) -> SeedRun:
        exp_id, who = item
        if isinstance(who, str):  # a student ID
            seeded = resolve_seeds(self._sources[exp_id], who, STUDENT)
            student: str | None = who
        else:
            seeded, student = with_seed_offset(self._sources[exp_id], who), None
        seed = seeded.spec.programs[0].run_seed
        label = f"{exp_id} student {who}" if student else f"{exp_id} seed {seed}"
        try:
            runs, _, _ = self.builder.run_programs(seeded, [], label=label)
            context = self.builder.context(seeded, runs)
        except LabreportError as exc:
            return SeedRun(
                seed, error=exc.format_message(), exit_code=exc.exit_code, student=student
            )
        passed = tuple(check.passed for check in context.checks)
        return SeedRun(seed, passed, merged_results(runs), student=student)

    @staticmethod
    def _verdict(source: ExperimentSource, runs: list[SeedRun]) -> Verdict:
        good = [run for run in runs if run.error is None]
        tallies = tuple(
            Tally(
                check.claim.strip(),
                check.expr.strip(),
                held=tuple(run.name for run in good if run.passed[i]),
                failed=tuple(run.name for run in good if not run.passed[i]),
            )  # fmt: skip
            for i, check in enumerate(source.spec.checks)
        )
        failures = tuple(run for run in runs if run.error is not None)
        kind = "student" if runs and runs[0].student is not None else "seed"
        return Verdict(
            source.id, tuple(run.name for run in runs), kind, tallies, spreads(good), failures,
            exit_code=max((run.exit_code for run in failures), default=0),
        )  # fmt: skip


def _run_list(names: Sequence[str]) -> str:
    return ", ".join(names)


def describe(verdict: Verdict, values: bool = True) -> list[str]:
    """The verdict as the lines ``labreport verify`` prints."""
    if verdict.error is not None:
        return [f"{verdict.id}: not verified: {verdict.error}"]
    kind = verdict.kind
    n = len(verdict.runs)
    runs = n - len(verdict.failures)
    robust = sum(not t.failed for t in verdict.tallies)
    head = f"{verdict.id}: {len(verdict.tallies)} check(s), {n} {kind}s ({_run_list(verdict.runs)})"
    if verdict.failures:
        head += f": {len(verdict.failures)} {kind}(s) FAILED"
        head += f"; of the {runs} other(s): " if verdict.tallies else ""
    elif verdict.tallies:
        head += ": "
    if verdict.tallies:
        head += f"{robust} held on every {kind}"
        if robust < len(verdict.tallies):
            head += f", {len(verdict.tallies) - robust} did not"
    lines = [head]
    for run in verdict.failures:
        lines.append(f"  {kind} {run.name}: FAILED: {run.error}")
    on = "on seed(s)" if kind == "seed" else "for student(s)"
    for tally in verdict.tallies:
        mark = "held" if not tally.failed else "FAILED"
        line = f"  {mark} {len(tally.held)}/{runs}  {' '.join(tally.claim.split())}"
        if tally.failed:
            line += f"  -- failed {on} {_run_list(tally.failed)}: {tally.expr}"
        lines.append(line)
    if values and verdict.spreads:
        lines.append(f"  recorded values, mean ± sd over the {kind}s [min, max]:")
        width = max(len(s.name) for s in verdict.spreads)
        for s in verdict.spreads:
            lines.append(
                f"    {s.name:<{width}}  {s.mean:.4g} ± {s.sd:.2g}  [{s.low:.4g}, {s.high:.4g}]"
                + (f"  ({s.count} of {runs} {kind}s)" if s.count != runs else "")
            )
    return lines


def exit_code(verdicts: Sequence[Verdict]) -> int:
    """2 for an experiment that could not be read, 1 for a claim or run that failed on some
    seed, else 0."""
    codes = [v.exit_code for v in verdicts if v.exit_code]
    if codes:
        return max(codes)
    return EXIT_FAILED if any(not v.holds for v in verdicts) else 0
