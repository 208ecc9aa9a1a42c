"""Find the project root and read ``labreport.toml``: the course, the student, the dates.

The root is the nearest folder, walking up from the current directory, that holds
``labreport.toml``, so the CLI works from any subfolder of a lab project.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

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


class ProjectConfig(_Strict):
    course: CourseConfig = CourseConfig()
    student: StudentConfig = StudentConfig()
    dates: dict[str, str] = {}
    templates_dir: str | None = None


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
        raise ProjectError(f"{path}: {where}: {first['msg']}") from exc
    return Project(root=root, config=config)
