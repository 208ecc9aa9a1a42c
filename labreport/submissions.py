"""The teacher's inputs to ``labreport class``: the submission folders and the class roster.

A submission is a subfolder of the submissions folder that holds a ``labreport.toml``; who it is
comes from that file's ``[student]`` table, read leniently (a broken file still makes a
submission, with a blank ID, whose build then fails with the file's own error). The roster is a
CSV file with a header row: an ``id`` column (required) and a ``name`` column (optional); other
columns are ignored.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from labreport.errors import LabreportError, UsageError
from labreport.project import CONFIG_NAME, load_project

#: Environment variables that set the student of a build (see the README): never passed from
#: the teacher's environment into a student's build, where they would override its own file.
STUDENT_ENV_PREFIX = "LABREPORT_STUDENT_"


@dataclass(frozen=True)
class Submission:
    """One student's project as handed in: its folder name (the student's folder in the
    outputs) and every ``[student]`` field of its labreport.toml (blank where unreadable)."""

    folder: Path
    student: dict[str, str]
    problem: str = ""  # why labreport.toml could not be read, if it could not

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def id(self) -> str:
        return self.student.get("id", "").strip()


@dataclass(frozen=True)
class RosterEntry:
    id: str
    name: str = ""


def find_submissions(root: Path) -> list[Submission]:
    """Every subfolder of ``root`` holding a labreport.toml, by folder name. UsageError when
    ``root`` is not a folder."""
    if not root.is_dir():
        raise UsageError(
            "no such folder", where=str(root),
            fix="name the folder that holds one project folder per student",
        )  # fmt: skip
    found = []
    for entry in sorted(root.iterdir(), key=lambda path: path.name):
        if entry.is_dir() and not entry.is_symlink() and (entry / CONFIG_NAME).is_file():
            found.append(_read(entry))
    return found


def _read(folder: Path) -> Submission:
    try:
        config = load_project(folder).config
    except LabreportError as exc:
        return Submission(folder, {}, " ".join(exc.format_message().split()))
    fields = dataclasses.asdict(config.student)
    return Submission(folder, {key: str(value) for key, value in fields.items()})


def load_roster(path: Path) -> list[RosterEntry]:
    """The roster's students, in file order; UsageError (exit 2) naming what is wrong."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"cannot read the roster: {exc.strerror if isinstance(exc, OSError) else exc}",
            where=f"--roster {path}",
        ) from exc
    rows = csv.DictReader(text.splitlines())
    columns = {name.strip().lower(): name for name in rows.fieldnames or ()}
    if "id" not in columns:
        raise UsageError(
            "the roster has no id column", where=f"--roster {path}",
            fix="a CSV file whose first row names its columns: id (required), name (optional)",
        )  # fmt: skip
    entries = []
    for row in rows:
        student_id = (row.get(columns["id"]) or "").strip()
        if student_id:
            name = (row.get(columns["name"]) or "").strip() if "name" in columns else ""
            entries.append(RosterEntry(student_id, name))
    return entries


def build_env(tmp: Path) -> dict[str, str]:
    """The environment of one student's build: the teacher's, less the variables that set a
    student, with a temp folder of its own (inside its private scratch folder)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(STUDENT_ENV_PREFIX)}
    env["TMPDIR"] = str(tmp)
    return env
