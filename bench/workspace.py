"""The private copy of the project that the benchmark builds, edits and runs programs in.

Everything happens in a temporary folder: ``labreport.toml`` and ``experiments/`` are copied from
the repository, so the edits of the rebuild rows (a sentence of the theory, a line of CSS) and the
run cache never touch the repository. Raw runs of the programs happen in a fresh scratch copy of
their experiment folder each time: a program that writes a file next to itself would otherwise
change its experiment folder, which is part of labreport's run-cache key, and make the next
"edit only" rebuild re-run it.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import yaml

SPEC_NAME = "experiment.yaml"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
#: Marks the CSS rule the template-edit rows add (a shade of the text colour).
_CSS_MARK = "/* labreport bench: template edit */"


class WorkspaceError(Exception):
    """The project copy cannot be prepared for a row (a spec or theme it does not understand)."""


@dataclass(frozen=True)
class Program:
    """One program of one experiment, as its spec declares it."""

    experiment: str
    code: str  # relative to the experiment folder
    args: tuple[str, ...]

    @property
    def key(self) -> str:
        """A name for table rows and ``--only``: ``exp10/rnn_sine``."""
        return f"{self.experiment}/{Path(self.code).with_suffix('').as_posix()}"


def _natural_key(name: str) -> list[int | str]:
    """exp5 before exp10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _read_spec(spec_path: Path) -> dict[str, object]:
    try:
        data = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise WorkspaceError(f"{spec_path}: cannot read: {exc}") from exc
    if not isinstance(data, dict):
        raise WorkspaceError(f"{spec_path}: expected a mapping at the top")
    return data


def _programs_of(experiment: str, spec: dict[str, object]) -> list[Program]:
    programs = spec.get("programs")
    if not isinstance(programs, list):
        raise WorkspaceError(f"{experiment}: programs: expected a list")
    found = []
    for item in programs:
        if not isinstance(item, dict) or not isinstance(item.get("code"), str):
            raise WorkspaceError(f"{experiment}: programs: each needs a code: path")
        args = item.get("args") or []
        found.append(Program(experiment, item["code"], tuple(str(arg) for arg in args)))
    return found


def _templates_dir(repo: Path) -> str | None:
    """The project's own template folder, if ``labreport.toml`` names one.

    The repository's top-level ``templates/`` holds the built-in themes, not project overrides,
    so it is copied only when configured as ``templates_dir``.
    """
    try:
        config = tomllib.loads((repo / "labreport.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise WorkspaceError(f"{repo / 'labreport.toml'}: cannot read: {exc}") from exc
    configured = config.get("templates_dir")
    return str(configured) if configured else None


class Workspace:
    """A temporary copy of the project, removed by :meth:`close`."""

    def __init__(self, repo: Path) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="labreport-bench-"))
        self.root = self.tmp / "project"
        self.root.mkdir()
        shutil.copy2(repo / "labreport.toml", self.root / "labreport.toml")
        shutil.copytree(repo / "experiments", self.root / "experiments", ignore=_IGNORED)
        templates = _templates_dir(repo)
        if templates is not None:
            shutil.copytree(repo / templates, self.root / templates, ignore=_IGNORED)
        #: Where ``labreport templates eject`` puts a theme in this project.
        self.templates = self.root / (templates or "templates")
        self._scratch = 0
        self._pristine: dict[Path, str] = {}

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- what the project holds ------------------------------------------------------------------

    def experiments(self) -> list[str]:
        """Every folder of ``experiments/`` with a spec, in natural order (others are not
        experiments yet: labreport ignores them too)."""
        folders = (self.root / "experiments").iterdir()
        names = [path.name for path in folders if (path / SPEC_NAME).is_file()]
        return sorted(names, key=_natural_key)

    def spec_path(self, experiment: str) -> Path:
        return self.root / "experiments" / experiment / SPEC_NAME

    def programs(self, experiment: str) -> list[Program]:
        return _programs_of(experiment, _read_spec(self.spec_path(experiment)))

    def theme(self, experiment: str) -> str:
        theme = _read_spec(self.spec_path(experiment)).get("template", "classic")
        return str(theme)

    def output(self, experiment: str, suffix: str) -> Path:
        return self.root / "build" / f"{experiment}.{suffix}"

    def outputs(self) -> list[Path]:
        build = self.root / "build"
        return sorted(build.iterdir()) if build.is_dir() else []

    # -- scratch copies for raw runs -------------------------------------------------------------

    def scratch_copy(self, experiment: str) -> Path:
        """A fresh copy of the experiment folder (the previous scratch copy is removed)."""
        scratch = self.tmp / "scratch"
        shutil.rmtree(scratch, ignore_errors=True)
        self._scratch += 1
        target = scratch / str(self._scratch) / experiment
        shutil.copytree(self.root / "experiments" / experiment, target, ignore=_IGNORED)
        return target

    # -- the edits of the rebuild rows -----------------------------------------------------------

    def _original(self, path: Path) -> str:
        if path not in self._pristine:
            self._pristine[path] = path.read_text(encoding="utf-8")
        return self._pristine[path]

    def edit_theory(self, experiment: str, revision: int) -> None:
        """Change one sentence of the theory: the first prose line gets a "(revision N)" prefix.

        Text-level, so the rest of the YAML stays byte for byte; a line starting with a formula,
        a list or a heading is skipped, so the Markdown keeps its structure.
        """
        path = self.spec_path(experiment)
        lines = self._original(path).splitlines(keepends=True)
        start = next((i for i, line in enumerate(lines) if re.match(r"theory:\s*[|>]", line)), None)
        if start is None:
            raise WorkspaceError(f"{path}: no block-scalar theory: field to edit")
        for i in range(start + 1, len(lines)):
            line = lines[i]
            if line.strip() and not line[0].isspace():
                break  # the next top-level key: the block ended
            text = line.lstrip()
            if text[:1].isalpha():
                indent = line[: len(line) - len(text)]
                lines[i] = f"{indent}(Revision {revision}) {text}"
                path.write_text("".join(lines), encoding="utf-8")
                return
        raise WorkspaceError(f"{path}: theory: no line of prose to edit")

    def theme_css(self, theme: str) -> Path:
        """The project's copy of ``theme``'s stylesheet (the theme must have been ejected)."""
        folder = self.templates / theme
        css = folder / "style.css"
        if css.is_file():
            return css
        others = sorted(folder.glob("*.css"))
        if not others:
            raise WorkspaceError(f"{folder}: no stylesheet to edit (eject the theme first)")
        return others[0]

    def edit_css(self, theme: str, revision: int) -> None:
        """Change one rule of the theme's stylesheet: the text colour, a new shade each revision.

        The change must be visible: labreport leaves an output whose bytes did not change
        untouched, and the benchmark checks that the record was rewritten.
        """
        css = self.theme_css(theme)
        rule = f"\n{_CSS_MARK}\nhtml {{ color: #10{revision % 256:02x}10; }}\n"
        css.write_text(self._original(css) + rule, encoding="utf-8")

    # -- notebooks, when nbconvert is there to run them ------------------------------------------

    def notebook(self, program: Program, folder: Path) -> Path:
        """A one-cell notebook holding the program's source, written into ``folder``."""
        source = (folder / program.code).read_text(encoding="utf-8")
        argv = [program.code, *program.args]
        prelude = f"import sys\n__file__ = {program.code!r}\nsys.argv = {argv!r}\n"
        cell: dict[str, object] = {
            "cell_type": "code",
            "execution_count": None,
            "id": "program",
            "metadata": {},
            "outputs": [],
            "source": prelude + source,
        }
        notebook = {
            "cells": [cell],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                        "language": "python"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }  # fmt: skip
        path = folder / (Path(program.code).stem + ".ipynb")
        path.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
        return path
