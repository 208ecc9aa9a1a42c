"""Find the project root and read ``labreport.toml``: the course, the student, the dates.

The root is the nearest folder, walking up from the current directory, that holds
``labreport.toml``, so the CLI works from any subfolder of a lab project. Every problem with the
file (missing, not TOML, an unknown key, a wrong type) is one :class:`ProjectError` line.
"""

from __future__ import annotations

import datetime
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ByteSize, ConfigDict, Field, ValidationError

from labreport.errors import ProjectError

CONFIG_NAME = "labreport.toml"
PLACEHOLDER = "<To be filled by student>"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CourseConfig(_Strict):
    title: str = ""
    codes: str = ""
    academic_year: str = ""


class StudentConfig(_Strict):
    name: str = ""
    id: str = ""


def _date_to_str(value: Any) -> Any:
    """TOML reads an unquoted ``2025-02-10`` as a date; the record prints it as written."""
    return value.isoformat() if isinstance(value, datetime.date) else value


class LimitsConfig(_Strict):
    """Limits for every program of the project, each overridable in a program's spec; unset, the
    runner's defaults apply (4 GiB of memory, 256 KiB of output, 50 figures)."""

    memory: Annotated[ByteSize, Field(gt=0)] | None = None
    output: Annotated[ByteSize, Field(gt=0)] | None = None
    figures: Annotated[int, Field(ge=0)] | None = None


class ProjectConfig(_Strict):
    course: CourseConfig = CourseConfig()
    student: StudentConfig = StudentConfig()
    dates: dict[str, Annotated[str, BeforeValidator(_date_to_str)]] = {}
    templates_dir: str | None = None
    limits: LimitsConfig = LimitsConfig()


@dataclass(frozen=True)
class Project:
    """A lab project on disk: its root folder and its parsed configuration."""

    root: Path
    config: ProjectConfig = field(default_factory=ProjectConfig)

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def experiments_dir(self) -> Path:
        return self.root / "experiments"

    @property
    def default_out_dir(self) -> Path:
        return self.root / "build"


def find_project(start: Path | None = None) -> Project:
    """Walk up from ``start`` (default: the cwd) to the folder that holds ``labreport.toml``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return load_project(folder)
    raise ProjectError(
        f"no {CONFIG_NAME} in {here} or any folder above it: run labreport inside a lab project "
        "(its root holds labreport.toml)"
    )


def load_project(root: Path) -> Project:
    """Read and validate ``root/labreport.toml``."""
    path = root / CONFIG_NAME
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(f"{path}: invalid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{path}: cannot read: {exc}") from exc
    try:
        config = ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"])
        if str(first["type"]).startswith("byte_size"):
            message = f"expected a size such as 4 GiB or 500 MB, got {first.get('input')!r}"
        raise ProjectError(f"{path}: {where}: {message}") from exc
    return Project(root=root, config=config)
