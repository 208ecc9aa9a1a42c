"""Where templates come from, and the Jinja environment that renders records.

Lookup order: the CLI's ``--templates`` folder, the project's ``templates/`` folder (or
``templates_dir`` in ``labreport.toml``), then the built-in themes. A theme is a folder holding
``record.html``; a user template can ``{% extends "builtin/classic/record.html" %}`` to reach the
built-in of the same name while overriding blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2

from labreport.project import Project

ENTRY = "record.html"


def builtin_templates_dir() -> Path:
    """The built-in themes: inside the installed wheel, or the repository's top-level folder."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if (candidate / "classic" / ENTRY).is_file():
            return candidate
    raise RuntimeError(f"labreport's built-in templates are missing (looked in {here})")


@dataclass(frozen=True)
class ThemeSearchPath:
    """The ordered folders searched for templates, highest priority first."""

    folders: tuple[Path, ...]

    @classmethod
    def for_project(cls, project: Project, cli_dir: Path | None = None) -> ThemeSearchPath:
        folders: list[Path] = []
        if cli_dir is not None:
            folders.append(cli_dir)
        configured = project.config.templates_dir
        project_dir = project.root / (configured or "templates")
        if project_dir.is_dir():
            folders.append(project_dir)
        builtin = builtin_templates_dir()
        if builtin not in folders:
            folders.append(builtin)
        return cls(tuple(folders))

    def themes(self) -> list[str]:
        names = {
            p.name for folder in self.folders if folder.is_dir() for p in folder.iterdir()
            if (p / ENTRY).is_file()
        }  # fmt: skip
        return sorted(names)

    def environment(self) -> jinja2.Environment:
        loader = jinja2.ChoiceLoader(
            [
                jinja2.FileSystemLoader([str(f) for f in self.folders]),
                jinja2.PrefixLoader(
                    {"builtin": jinja2.FileSystemLoader(str(builtin_templates_dir()))}
                ),
            ]
        )
        return jinja2.Environment(
            loader=loader,
            autoescape=jinja2.select_autoescape(["html", "htm", "xml", "svg"]),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
