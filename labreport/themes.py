"""Where templates come from, and the Jinja environment that renders records.

Lookup order: the CLI's ``--templates`` folder, the project's ``templates/`` folder (or
``templates_dir`` in ``labreport.toml``), then the built-in themes. A theme is a folder holding
``record.html``; a user template can ``{% extends "builtin/classic/record.html" %}`` to reach the
built-in of the same name while overriding blocks, and ``{{ asset("mytheme/logo.png") }}`` inlines
a file of the theme as a ``data:`` URI.
"""

from __future__ import annotations

import difflib
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from markupsafe import Markup

from labreport.embed import EmbedError, check_size, data_uri
from labreport.errors import LabreportError, OutputError, ProjectError, RenderError, UsageError
from labreport.ids import ID_PATTERN
from labreport.project import CONFIG_NAME, Project

if TYPE_CHECKING:
    import jinja2

ENTRY = "record.html"
HANDOUT_ENTRY = "handout.html"  # a theme's handout (build --handout); extends its record.html
THEME_INFO = "theme.toml"  # what a theme says about itself: the spec fields it shows
BUILTIN_PREFIX = "builtin/"
#: Largest asset (logo, font, image) a theme may inline: records are mailed around.


def builtin_templates_dir() -> Path:
    """The built-in themes: inside the installed wheel, or the repository's top-level folder."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if (candidate / "classic" / ENTRY).is_file():
            return candidate
    raise RuntimeError(f"labreport's built-in templates are missing (looked in {here})")


@dataclass(frozen=True)
class ThemeSource:
    """Where one theme resolves from, and the lower-priority copies it hides."""

    name: str
    folder: Path
    origin: str
    hides: tuple[str, ...]


@dataclass(frozen=True)
class ThemeSearchPath:
    """The ordered folders searched for templates, highest priority first, each with its origin
    ("--templates", "project" or "built-in") for ``labreport templates list``."""

    folders: tuple[Path, ...]
    origins: tuple[str, ...] = ()

    @classmethod
    def for_project(cls, project: Project, cli_dir: Path | None = None) -> ThemeSearchPath:
        folders: list[Path] = []
        origins: list[str] = []
        if cli_dir is not None:
            folders.append(cli_dir.resolve())
            origins.append("--templates")
        configured = project.config.templates_dir
        project_dir = (project.root / (configured or "templates")).resolve()
        if configured and not project_dir.is_dir():
            raise ProjectError(
                f"{project.root / CONFIG_NAME}: templates_dir: folder {configured!r} does not "
                "exist (create it, or remove templates_dir to use templates/)"
            )
        builtin = builtin_templates_dir()
        if project_dir.is_dir() and project_dir != builtin:
            folders.append(project_dir)
            origins.append("project")
        folders.append(builtin)
        origins.append("built-in")
        return cls(tuple(folders), tuple(origins))

    def _origin(self, index: int) -> str:
        return self.origins[index] if index < len(self.origins) else "built-in"

    def sources(self) -> list[ThemeSource]:
        """Every theme with the folder it resolves from, first match wins."""
        found: dict[str, list[tuple[Path, str]]] = {}
        for index, folder in enumerate(self.folders):
            if not folder.is_dir():
                continue
            for theme in sorted(folder.iterdir()):
                if (theme / ENTRY).is_file():
                    found.setdefault(theme.name, []).append((theme, self._origin(index)))
        return [
            ThemeSource(name, places[0][0], places[0][1], tuple(o for _, o in places[1:]))
            for name, places in sorted(found.items())
        ]

    def find_file(self, name: str) -> Path:
        """The file a template name such as ``mytheme/logo.png`` resolves to, by the same rules
        as templates (``builtin/`` reaches past the overrides). Refuses names that leave the
        template folders."""
        pure = PurePosixPath(name)
        if pure.is_absolute() or ".." in pure.parts or not pure.parts:
            raise RenderError(
                f"asset {name!r}: give a path inside the template folders, like 'mytheme/logo.png'"
            )
        folders: tuple[Path, ...] = self.folders
        if name.startswith(BUILTIN_PREFIX):
            folders, pure = (builtin_templates_dir(),), PurePosixPath(name[len(BUILTIN_PREFIX) :])
        for folder in folders:
            candidate = folder.joinpath(*pure.parts)
            if candidate.is_file() and candidate.resolve().is_relative_to(folder.resolve()):
                return candidate
        where = ", ".join(str(f) for f in folders)
        raise RenderError(f"asset {name!r} not found in the template folders ({where})")

    def asset_data_uri(self, name: str) -> Markup:
        """A theme file (logo, image, font) as a ``data:`` URI, so that the HTML stays one
        self-contained file and WeasyPrint needs to fetch nothing."""
        path = self.find_file(name)
        data = path.read_bytes()
        try:
            check_size(data)
        except EmbedError as exc:
            raise RenderError(f"asset {exc.what}", where=str(path), fix=exc.fix) from exc
        return Markup(data_uri(data, path.name))

    def eject(self, theme: str, target_root: Path, force: bool) -> Path:
        """Copy a built-in theme to ``target_root/theme`` for editing; never clobber silently.
        ``theme`` is a plain name, like an experiment id: never a path, which would copy (and
        with ``force`` delete) a folder outside ``target_root``."""
        if not ID_PATTERN.match(theme):
            shown = repr(theme) if len(repr(theme)) <= 60 else repr(theme)[:57] + "..."
            raise UsageError(
                f"{shown} is not a theme name: a theme is the name of a folder (letters, digits, "
                "'-' and '_'), never a path; see `labreport templates list`"
            )
        source = builtin_templates_dir() / theme
        if not (source / ENTRY).is_file():
            known = ", ".join(sorted(p.name for p in builtin_templates_dir().iterdir()
                                     if (p / ENTRY).is_file()))  # fmt: skip
            raise UsageError(f"no built-in theme {theme!r}; built-in themes: {known}")
        target = target_root / theme
        if target.exists() and not force:
            raise UsageError(f"{target} already exists; pass --force to overwrite it")
        try:
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(source, target)
        except OSError as exc:
            raise OutputError(f"cannot copy theme {theme!r} to {target}: {exc.strerror}") from exc
        return target

    def resolve_theme(
        self,
        name: str,
        where: str,
        error: type[LabreportError] = RenderError,
        field: str | None = None,
    ) -> str:
        """``name`` when a folder of the path has that theme; else the one error that says a
        theme is unknown, raised as ``error`` at ``where`` (and ``field``), who asked for it:
        ``--theme``, or ``experiments/x/experiment.yaml`` and ``theme``."""
        known = self.themes()
        if name in known:
            return name
        close = difflib.get_close_matches(name, known, n=1)
        hint = (
            f"did you mean '{close[0]}'?"
            if close
            else f"available themes: {', '.join(known) or 'none'}"
        )
        raise error(f"unknown theme '{name}'; {hint}", where=where, field=field)

    def themes(self) -> list[str]:
        return [source.name for source in self.sources()]

    def shown_fields(self, theme: str) -> frozenset[str] | None:
        """The optional spec fields (``spec.THEMED_FIELDS``) that ``theme`` shows, from the
        first ``<theme>/theme.toml`` on the path; None where no folder says (a theme of the
        user's own that declares nothing: then nothing is claimed)."""
        try:
            path = self.find_file(f"{theme}/{THEME_INFO}")
        except RenderError:
            return None
        try:
            shows = tomllib.loads(path.read_text(encoding="utf-8"))["shows"]
            return frozenset(str(name) for name in shows)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
            raise RenderError(
                f"cannot read it ({exc})", where=str(path), field="shows",
                fix='write shows = ["theory", "result", ...], the spec fields the theme shows',
            ) from exc  # fmt: skip

    def check_expressions(self, theme: str) -> str:
        """Where ``theme`` prints each check's expression (``check_expressions`` in its first
        ``theme.toml``): "hidden" (the default: on hover in HTML only) or "appendix"."""
        try:
            path = self.find_file(f"{theme}/{THEME_INFO}")
        except RenderError:
            return "hidden"
        try:
            value = tomllib.loads(path.read_text(encoding="utf-8")).get(
                "check_expressions", "hidden"
            )
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise RenderError(f"cannot read it ({exc})", where=str(path)) from exc
        if value not in ("hidden", "appendix"):
            raise RenderError(
                f"expected 'hidden' or 'appendix', got {value!r}", where=str(path),
                field="check_expressions",
                fix='write check_expressions = "appendix" to print the expressions at the end',
            )  # fmt: skip
        return str(value)

    def environment(self) -> jinja2.Environment:
        import jinja2  # not at the top: a no-op build needs the folders, not the templates

        loader = jinja2.ChoiceLoader(
            [
                jinja2.FileSystemLoader([str(f) for f in self.folders]),
                jinja2.PrefixLoader(
                    {"builtin": jinja2.FileSystemLoader(str(builtin_templates_dir()))}
                ),
            ]
        )
        env = jinja2.Environment(
            loader=loader,
            autoescape=jinja2.select_autoescape(["html", "htm", "xml", "svg"]),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.globals["asset"] = self.asset_data_uri
        return env
