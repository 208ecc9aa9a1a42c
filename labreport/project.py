"""Find the project root and read ``labreport.toml``: the course, the student, the dates.

The root is the nearest folder, walking up from the current directory, that holds
``labreport.toml``, so the CLI works from any subfolder of a lab project. Every problem with the
file (missing, not TOML, an unknown key, a wrong type) is one :class:`ProjectError` line.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labreport.errors import ProjectError
from labreport.seeds import SEED_MODES

CONFIG_NAME = "labreport.toml"
PLACEHOLDER = "<To be filled by student>"

# Checked by hand, not by pydantic: every command reads this file, and importing pydantic costs
# a tenth of a second that a no-op `build --all` (target 0.3 s in all) cannot spare. The file
# is small and flat; experiment specs, which are neither, keep their pydantic models.


@dataclass(frozen=True)
class CourseConfig:
    title: str = ""
    codes: str = ""
    academic_year: str = ""


@dataclass(frozen=True)
class StudentConfig:
    """The student whose record this is. ``seeds``: ``"spec"`` (each program's ``seed:``) or
    ``"student"`` (every program's seed derived from ``id``, see labreport.seeds)."""

    name: str = ""
    id: str = ""
    section: str = ""  # section or batch
    seeds: str = "spec"


# The student's details printed on every page, each settable three ways. Precedence, here and
# only here (student_details): a command-line option, else the environment variable, else
# labreport.toml's [student]. An empty environment variable counts as unset.
STUDENT_DETAILS = ("name", "id", "section")
STUDENT_ENV = {
    "name": "LABREPORT_STUDENT_NAME",
    "id": "LABREPORT_STUDENT_ID",
    "section": "LABREPORT_STUDENT_SECTION",
}
STUDENT_OPTIONS = {"name": "--student-name", "id": "--student-id", "section": "--section"}


@dataclass(frozen=True)
class LimitsConfig:
    """Limits for every program of the project, each overridable in a program's spec; unset, the
    runner's defaults apply (4 GiB of memory, 256 KiB of output, 50 figures)."""

    memory: int | None = None  # bytes
    output: int | None = None  # bytes
    figures: int | None = None


@dataclass(frozen=True)
class RunConfig:
    """How every program of the project runs: ``pass_env`` names the variables of labreport's
    environment that programs receive besides the usual ones (see labreport.sandbox)."""

    pass_env: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuildConfig:
    """How the project builds: ``executor`` says where programs run and records are laid out
    (``local``, or ``dask://HOST:PORT``), as ``--executor`` does, which overrides it;
    ``pdf_variant`` the archival PDF asked for (``pdf/a-3u``, ``pdf/ua-1``, ...; see
    :mod:`labreport.pdfvariant`), as ``--pdf-variant`` does, which overrides it."""

    executor: str | None = None
    pdf_variant: str | None = None


@dataclass(frozen=True)
class ProjectConfig:
    course: CourseConfig = CourseConfig()
    student: StudentConfig = StudentConfig()
    dates: dict[str, str] = field(default_factory=dict)
    templates_dir: str | None = None
    limits: LimitsConfig = LimitsConfig()
    run: RunConfig = RunConfig()
    build: BuildConfig = BuildConfig()


class _Invalid(ValueError):
    """One problem, with the dotted path of the key it is about."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")


def _table(value: Any, where: str, cls: type[Any], fields: dict[str, Any]) -> Any:
    if not isinstance(value, dict):
        raise _Invalid(where, f"expected a table ([{where}]), got {type(value).__name__}")
    known = [f.name for f in dataclasses.fields(cls)]
    values = {}
    for key, item in value.items():
        if key not in known:
            raise _Invalid(f"{where}.{key}", f"unknown key (known keys: {', '.join(known)})")
        values[key] = fields[key](item, f"{where}.{key}")
    return cls(**values)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _Invalid(where, f"expected text in quotes, got {value!r}")
    return value


def _date(value: Any, where: str) -> str:
    """TOML reads an unquoted ``2025-02-10`` as a date; the record prints it as written."""
    return value.isoformat() if isinstance(value, datetime.date) else _text(value, where)


def _dates(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _Invalid(where, f"expected a table ([{where}]), got {type(value).__name__}")
    return {str(key): _date(item, f"{where}.{key}") for key, item in value.items()}


def _size(value: Any, where: str) -> int:
    """Bytes, from a whole number or a size such as ``4 GiB`` or ``500 MB`` (as in specs)."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str):
        from pydantic import ByteSize, TypeAdapter, ValidationError  # only for written sizes

        try:
            size = int(TypeAdapter(ByteSize).validate_python(value))
        except ValidationError:
            raise _Invalid(
                where, f"expected a size such as 4 GiB or 500 MB, got {value!r}"
            ) from None
    else:
        raise _Invalid(where, f"expected a size such as 4 GiB or 500 MB, got {value!r}")
    if size <= 0:
        raise _Invalid(where, f"must be more than 0, got {value!r}")
    return size


def _seed_mode(value: Any, where: str) -> str:
    if value not in SEED_MODES:
        modes = " or ".join(f'"{mode}"' for mode in SEED_MODES)
        raise _Invalid(where, f"expected {modes}, got {value!r}")
    return str(value)


def _names(value: Any, where: str) -> tuple[str, ...]:
    """A list of environment variable names, e.g. ``["DATA_DIR", "WANDB_MODE"]``."""
    if not isinstance(value, list) or not all(isinstance(name, str) and name for name in value):
        example = '["DATA_DIR"]'
        raise _Invalid(where, f"expected a list of variable names such as {example}, got {value!r}")
    return tuple(value)


def _pdf_variant(value: Any, where: str) -> str | None:
    from labreport.pdfvariant import parse_variant

    try:
        return parse_variant(_text(value, where))
    except ValueError as exc:
        raise _Invalid(where, str(exc)) from None


def _count(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _Invalid(where, f"expected a whole number of 0 or more, got {value!r}")
    return value


_SECTIONS: dict[str, Any] = {
    "course": lambda v, w: _table(
        v, w, CourseConfig, dict.fromkeys(("title", "codes", "academic_year"), _text)
    ),
    "student": lambda v, w: _table(
        v, w, StudentConfig, {**dict.fromkeys(STUDENT_DETAILS, _text), "seeds": _seed_mode}
    ),
    "dates": _dates,
    "templates_dir": _text,
    "limits": lambda v, w: _table(
        v, w, LimitsConfig, {"memory": _size, "output": _size, "figures": _count}
    ),
    "run": lambda v, w: _table(v, w, RunConfig, {"pass_env": _names}),
    "build": lambda v, w: _table(
        v, w, BuildConfig, {"executor": _text, "pdf_variant": _pdf_variant}
    ),
}


def parse_config(raw: dict[str, Any]) -> ProjectConfig:
    """The configuration in ``raw`` (parsed TOML); ValueError names the first bad key."""
    values = {}
    for key, value in raw.items():
        if key not in _SECTIONS:
            raise _Invalid(key, f"unknown key (known keys: {', '.join(_SECTIONS)})")
        values[key] = _SECTIONS[key](value, key)
    return ProjectConfig(**values)


def student_details(
    toml: StudentConfig, options: Mapping[str, str | None], environ: Mapping[str, str]
) -> StudentConfig:
    """The student as this run sees it: for each of name, id and section, the command-line
    option (``options``, None where not given), else the environment variable, else the
    toml's value. So a script can build one checkout for many students without editing it."""
    chosen = {}
    for detail in STUDENT_DETAILS:
        given = options.get(detail)
        if given is None:
            given = environ.get(STUDENT_ENV[detail]) or None
        chosen[detail] = (getattr(toml, detail) if given is None else given).strip()
    return dataclasses.replace(toml, **chosen)


@dataclass(frozen=True)
class Project:
    """A lab project on disk: its root folder and its parsed configuration (the student's
    details already overridden by ``student_options`` and the environment)."""

    root: Path
    config: ProjectConfig = field(default_factory=ProjectConfig)
    # The command-line values for the student's details (name, id, section), kept so that a
    # reload (labreport serve, after labreport.toml changed) applies them again.
    student_options: tuple[tuple[str, str | None], ...] = ()

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def experiments_dir(self) -> Path:
        return self.root / "experiments"

    @property
    def default_out_dir(self) -> Path:
        return self.root / "build"

    @property
    def work_dir(self) -> Path:
        """labreport's own files: run and formula caches, build state, locks, serve's preview."""
        return self.root / ".labreport"

    def course(self, override: object = None) -> dict[str, str]:
        """The course as a record or the book prints it: an experiment's own ``course:`` fields
        (``override``, the spec's) first, then ``labreport.toml``'s; a blank one is the seed
        format's placeholder."""
        return {
            name: getattr(override, name, None) or getattr(self.config.course, name) or PLACEHOLDER
            for name in ("title", "codes", "academic_year")
        }

    def student(self) -> dict[str, str]:
        """The student's name, id and section as printed, blanks as the placeholder."""
        student = self.config.student
        return {detail: getattr(student, detail) or PLACEHOLDER for detail in STUDENT_DETAILS}

    def reload(self) -> Project:
        """The project as ``labreport.toml`` says now, with the same command-line values."""
        return load_project(self.root, dict(self.student_options))

    def date(self, exp_id: str, own: str | None = None) -> str:
        """An experiment's date: its spec's ``date:``, else ``[dates]``, else the placeholder."""
        return own or self.config.dates.get(exp_id) or PLACEHOLDER


def find_project(
    start: Path | None = None, student: Mapping[str, str | None] | None = None
) -> Project:
    """Walk up from ``start`` (default: the cwd) to the folder that holds ``labreport.toml``;
    ``student``: the command-line values of the student's details (see student_details)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return load_project(folder, student)
    raise ProjectError(
        f"no {CONFIG_NAME} in {here} or any folder above it: run labreport inside a lab project "
        "(its root holds labreport.toml)"
    )


def load_project(root: Path, student: Mapping[str, str | None] | None = None) -> Project:
    """Read and validate ``root/labreport.toml``; the student's details as student_details
    chooses them from ``student`` (command-line values), the environment and the file."""
    path = root / CONFIG_NAME
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(f"{path}: invalid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{path}: cannot read: {exc}") from exc
    try:
        config = parse_config(raw)
    except ValueError as exc:
        raise ProjectError(f"{path}: {exc}") from exc
    options = dict(student or {})
    config = dataclasses.replace(
        config, student=student_details(config.student, options, os.environ)
    )
    return Project(root=root, config=config, student_options=tuple(sorted(options.items())))
