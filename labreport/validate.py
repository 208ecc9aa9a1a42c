"""``labreport validate``: find every mistake a build would hit, without running a program.

A student who runs a 3-minute training only to learn that line 40 of the spec has a typo loses
3 minutes; a teacher checking thirty experiments before term loses an afternoon. Validation
reports every problem it finds (not just the first), each on its own line as ``where: what``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jinja2

from labreport import formulas
from labreport.errors import EXIT_FAILED, LabreportError, SpecError
from labreport.formulas import FormulaError
from labreport.project import Project
from labreport.prose import check_prose, results_used
from labreport.spec import ExperimentSource, load_experiment, prose_fields
from labreport.themes import ThemeSearchPath

#: Template files are parsed as Jinja; other files of a theme (images) are left alone.
TEMPLATE_SUFFIXES = (".html", ".htm", ".css", ".j2", ".jinja", ".xml", ".txt")


@dataclass(frozen=True)
class Problem:
    """One mistake, with the exit status a build that hit it would end with."""

    where: str
    message: str
    exit_code: int = EXIT_FAILED

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def recorded_names(source: ExperimentSource) -> set[str] | None:
    """The names the programs pass to ``record("name", ...)`` as literals, or None when some
    program records a computed name (then nothing can be said without running it)."""
    names: set[str] = set()
    for program in source.spec.programs:
        try:
            tree = ast.parse(source.program_path(program).read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            return None  # reported elsewhere or found by the run
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called != "record" or not node.args:
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                return None
            names.add(first.value)
    return names


def _program_syntax(source: ExperimentSource, display: Path) -> Iterator[Problem]:
    for i, program in enumerate(source.spec.programs):
        path = source.program_path(program)
        try:
            compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
        except SyntaxError as exc:
            where = f"{display.parent / program.code}:{exc.lineno or 0}"
            yield Problem(where, f"programs[{i}]: Python syntax error: {exc.msg}")
        except (OSError, ValueError) as exc:
            yield Problem(str(display), f"programs[{i}].code: cannot read {program.code}: {exc}")


def validate_experiment(
    project: Project, exp_id: str, search_path: ThemeSearchPath
) -> list[Problem]:
    """Every problem of one experiment: spec, code paths, prose, checks, theme, program syntax."""
    try:
        source = load_experiment(project.experiments_dir / exp_id, display_root=project.root)
    except LabreportError as exc:
        return [Problem(line.split(": ", 1)[0], line.split(": ", 1)[-1], exc.exit_code)
                for line in exc.format_message().splitlines()]  # fmt: skip
    display = source.spec_path.relative_to(project.root)
    problems: list[Problem] = []
    try:
        search_path.resolve_theme(source.spec.template, "template", SpecError)
    except SpecError as exc:
        problems.append(Problem(str(display), exc.format_message(), exc.exit_code))
    recorded = recorded_names(source)
    texts = list(prose_fields(source.spec))
    texts += [
        (f"checks[{i}].expr", "{{ " + c.expr + " }}") for i, c in enumerate(source.spec.checks)
    ]
    for field, text in texts:
        try:
            with formulas.cached_in(project.work_dir / "formulas"):  # drawn once, for build too
                check_prose(text)
            used = results_used(text)
        except jinja2.TemplateSyntaxError as exc:
            problems.append(Problem(str(display), f"{field}: line {exc.lineno}: {exc.message}"))
            continue
        except FormulaError as exc:
            problems.append(Problem(str(display), f"{field}: {exc}"))
            continue
        if recorded is not None:
            for name in sorted(used - recorded):
                listing = ", ".join(sorted(recorded)) or "nothing"
                problems.append(
                    Problem(str(display), f"{field}: uses results.{name}, which no program "
                            f"records (they record: {listing})")
                )  # fmt: skip
    problems += _program_syntax(source, display)
    return problems


def validate_templates(search_path: ThemeSearchPath, root: Path) -> list[Problem]:
    """Parse every template file of every folder on the search path."""
    env = search_path.environment()
    problems = []
    for folder in search_path.folders:
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.suffix.lower() not in TEMPLATE_SUFFIXES:
                continue
            try:
                env.parse(path.read_text(encoding="utf-8"), filename=str(path))
            except jinja2.TemplateSyntaxError as exc:
                problems.append(Problem(f"{_shown(path, root)}:{exc.lineno}", exc.message or ""))
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(Problem(_shown(path, root), f"cannot read: {exc}"))
    return problems


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
