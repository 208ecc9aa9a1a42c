"""The class summary: one row per student and experiment, and what the teacher should look at.

``summary.csv`` and ``summary.json`` hold the same rows (:class:`SummaryRow`, whose fields are
the CSV's columns); the JSON adds the class-wide lists (roster students who submitted nothing,
duplicate and missing IDs, copy flags, whether the builds were hidden from each other), and
``summary.html`` shows all of it as a table linked to each student's book and records.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from labreport.classbuild import REPORT_NAME, StudentBuild
from labreport.copyflags import CopyFlag, find_flags
from labreport.errors import EXIT_FAILED, EXIT_OK
from labreport.output import write_atomic
from labreport.submissions import RosterEntry

SUMMARY_FILES = ("summary.html", "summary.csv", "summary.json")


@dataclass(frozen=True)
class SummaryRow:
    """One experiment of one student (``experiment`` blank: the build ended before any).
    ``status``: built, up-to-date or failed; ``run_seconds``: the programs' run time (cached
    ones count their original time); ``record``, ``book`` and ``report`` (the student's build
    report): paths relative to the output folder, blank where there is none."""

    folder: str
    id: str
    name: str
    section: str
    experiment: str
    status: str
    checks_held: int
    checks_total: int
    run_seconds: float
    programs_run: int
    programs_cached: int
    error: str
    record: str
    book: str
    report: str


@dataclass(frozen=True)
class DuplicateId:
    id: str
    folders: tuple[str, ...]


@dataclass(frozen=True)
class ClassSummary:
    """Everything the summary files say."""

    rows: tuple[SummaryRow, ...]
    submissions: int
    built: int
    failed: int
    missing: tuple[RosterEntry, ...]  # on the roster, nothing submitted
    not_on_roster: tuple[str, ...]  # folders whose ID the roster does not list
    duplicate_ids: tuple[DuplicateId, ...]
    missing_ids: tuple[str, ...]  # folders with a blank (or unreadable) student ID
    copy_flags: tuple[CopyFlag, ...]
    confinement: str  # blank, or why the builds were not hidden from each other
    roster: bool  # whether a roster was given (else ``missing`` and ``not_on_roster`` are empty)

    @property
    def exit_status(self) -> int:
        return EXIT_FAILED if self.failed else EXIT_OK


def summarise(
    builds: Sequence[StudentBuild], roster: Sequence[RosterEntry] | None, confinement: str
) -> ClassSummary:
    """The summary of ``builds``. IDs are compared without regard to case (``s-1`` is ``S-1``)."""
    rows = tuple(row for build in builds for row in _rows(build))
    ids: dict[str, list[str]] = {}
    first_spelling: dict[str, str] = {}
    for build in builds:
        if build.submission.id:
            key = build.submission.id.casefold()
            ids.setdefault(key, []).append(build.submission.name)
            first_spelling.setdefault(key, build.submission.id)
    on_roster = {entry.id.casefold() for entry in roster or ()}
    return ClassSummary(
        rows=rows,
        submissions=len(builds),
        built=sum(build.built for build in builds),
        failed=sum(not build.built for build in builds),
        missing=tuple(entry for entry in roster or () if entry.id.casefold() not in ids),
        not_on_roster=tuple(
            b.submission.name
            for b in builds
            if roster is not None
            and b.submission.id
            and b.submission.id.casefold() not in on_roster
        ),
        duplicate_ids=tuple(
            DuplicateId(first_spelling[key], tuple(folders))
            for key, folders in sorted(ids.items())
            if len(folders) > 1
        ),
        missing_ids=tuple(b.submission.name for b in builds if not b.submission.id),
        copy_flags=tuple(find_flags(s for build in builds for s in build.sightings)),
        confinement=confinement,
        roster=roster is not None,
    )


def _rows(build: StudentBuild) -> list[SummaryRow]:
    sub = build.submission
    who = {
        "folder": sub.name, "id": sub.id, "name": sub.student.get("name", ""),
        "section": sub.student.get("section", ""), "book": build.book,
        "report": f"{sub.name}/{REPORT_NAME}" if build.report else "",
    }  # fmt: skip
    experiments = build.report.experiments if build.report else ()
    if not experiments:
        error = build.error or sub.problem or "no experiments"
        return [SummaryRow(**who, experiment="", status="failed", checks_held=0, checks_total=0,
                           run_seconds=0.0, programs_run=0, programs_cached=0, error=error,
                           record="")]  # fmt: skip
    records = {Path(record).stem: record for record in build.records}
    rows = []
    for entry in experiments:
        rows.append(
            SummaryRow(
                **who,
                experiment=entry.id,
                status=entry.status,
                checks_held=sum(check.held for check in entry.checks),
                checks_total=len(entry.checks),
                run_seconds=round(sum(p.seconds for p in entry.programs), 3),
                programs_run=sum(p.source == "run" for p in entry.programs),
                programs_cached=sum(p.source != "run" for p in entry.programs),
                error="; ".join(error.message for error in entry.errors),
                record=records.get(entry.id, ""),
            )
        )
    return rows


def write_summary(summary: ClassSummary, out_dir: Path) -> list[Path]:
    """summary.html, summary.csv and summary.json in ``out_dir``; the files written."""
    html_path, csv_path, json_path = (out_dir / name for name in SUMMARY_FILES)
    write_atomic(csv_path, _csv(summary.rows).encode("utf-8"))
    document = {**dataclasses.asdict(summary), "exit_status": summary.exit_status}
    write_atomic(json_path, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode())
    write_atomic(html_path, _html(summary).encode("utf-8"))
    return [html_path, csv_path, json_path]


def _csv(rows: Sequence[SummaryRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(field.name for field in dataclasses.fields(SummaryRow))
    for row in rows:
        writer.writerow(dataclasses.astuple(row))
    return buffer.getvalue()


def _html(summary: ClassSummary) -> str:
    from labreport.themes import ThemeSearchPath, builtin_templates_dir

    template = (
        ThemeSearchPath((builtin_templates_dir(),)).environment().get_template("class/summary.html")
    )
    students: dict[str, list[SummaryRow]] = {}
    for row in summary.rows:
        students.setdefault(row.folder, []).append(row)
    experiments = sorted({row.experiment for row in summary.rows if row.experiment})
    return template.render(summary=summary, students=students, experiments=experiments)
