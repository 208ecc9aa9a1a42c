"""``labreport validate``: find every mistake a build would hit, without running a program.

A student who runs a 3-minute training only to learn that line 40 of the spec has a typo loses
3 minutes; a teacher checking thirty experiments before term loses an afternoon. Validation
reports every problem it finds (not just the first), each on its own line as ``where: what``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import jinja2

from labreport import formulas
from labreport.embed import EmbedError, embed_picture
from labreport.errors import EXIT_OK, LabreportError, Problem, SpecError
from labreport.formulas import FormulaError
from labreport.project import Project
from labreport.prose import check_prose, pictures_used, results_used
from labreport.spec import ExperimentSource, load_experiment, prose_fields, unshown_notices
from labreport.themes import ThemeSearchPath

#: Template files are parsed as Jinja; other files of a theme (images) are left alone.
TEMPLATE_SUFFIXES = (".html", ".htm", ".css", ".j2", ".jinja", ".xml", ".txt")


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
            yield Problem(where, f"Python syntax error: {exc.msg}", f"programs[{i}]")
        except (OSError, ValueError) as exc:
            yield Problem(str(display), f"cannot read {program.code}: {exc}", f"programs[{i}].code")


def validate_experiment(
    project: Project, exp_id: str, search_path: ThemeSearchPath
) -> list[Problem]:
    """Every problem of one experiment: spec, code paths, prose, checks, theme, program syntax."""
    try:
        source = load_experiment(project.experiments_dir / exp_id, display_root=project.root)
    except LabreportError as exc:
        return list(exc.problems)
    display = source.spec_path.relative_to(project.root)
    # A deprecated spelling is a warning: a build that meets it still succeeds.
    problems = [Problem("", notice, exit_code=EXIT_OK) for notice in source.notices]
    try:
        theme = search_path.resolve_theme(source.spec.theme, str(display), SpecError, "theme")
    except SpecError as exc:
        problems += exc.problems
    else:
        shown = search_path.shown_fields(theme)
        problems += [
            Problem("", notice, exit_code=EXIT_OK)
            for notice in unshown_notices(source.spec, theme, shown, str(display))
        ]
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
            problems.append(Problem(str(display), f"line {exc.lineno}: {exc.message}", field))
            continue
        except FormulaError as exc:
            problems.append(Problem(str(display), str(exc), field))
            continue
        for src in pictures_used(text):
            try:
                embed_picture(source.folder, src)
            except EmbedError as exc:
                problems.append(Problem(str(display), exc.what, field, exc.fix))
        if recorded is not None:
            for name in sorted(used - recorded):
                listing = ", ".join(sorted(recorded)) or "nothing"
                problems.append(
                    Problem(str(display), f"uses results.{name}, which no program records",
                            field, fix=f"they record: {listing}")
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
