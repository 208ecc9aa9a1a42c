"""``labreport validate``: find every mistake a build would hit, without running a program.

A student who runs a 3-minute training only to learn that line 40 of the spec has a typo loses
3 minutes; a teacher checking thirty experiments before term loses an afternoon. Validation
reports every problem it finds (not just the first), each on its own line as ``where: what``.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import jinja2
from jinja2 import nodes

from labreport import formulas
from labreport.embed import EmbedError, embed_link, embed_picture
from labreport.errors import EXIT_OK, LabreportError, Problem, RenderError, SpecError
from labreport.formulas import FormulaError
from labreport.project import Project
from labreport.prose import (
    TOO_DEEP,
    TOO_DEEP_FIX,
    check_expression,
    check_prose,
    links_used,
    pictures_used,
    results_used,
)
from labreport.seeds import resolve_seeds
from labreport.spec import ExperimentSource, load_experiment, prose_fields, unshown_notices
from labreport.themes import ThemeSearchPath

#: Template files are parsed as Jinja; other files of a theme (images) are left alone.
TEMPLATE_SUFFIXES = (".html", ".htm", ".css", ".j2", ".jinja", ".xml", ".txt")


def recorded_names(source: ExperimentSource) -> set[str] | None:
    """The names the spec's ``record:`` lists and the programs pass to ``record("name", ...)``
    as literals, or None when some program records a computed name (then nothing can be said
    without running it)."""
    names: set[str] = set()
    for program in source.spec.programs:
        names.update(name for name, _ in program.recorded_globals)
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
    student = project.config.student
    try:  # a student seed without a student ID stops a build before anything runs
        resolve_seeds(source, student.id, student.seeds)
    except LabreportError as exc:
        problems += exc.problems
    recorded = recorded_names(source)
    texts = list(prose_fields(source.spec))
    for i, check in enumerate(source.spec.checks):
        try:
            check_expression(check.expr)
        except jinja2.TemplateSyntaxError as exc:
            problems.append(Problem(str(display), exc.message or "", f"checks[{i}].expr"))
            continue
        except RecursionError:
            problems.append(Problem(str(display), TOO_DEEP, f"checks[{i}].expr", TOO_DEEP_FIX))
            continue
        texts.append((f"checks[{i}].expr", "{{ " + check.expr + " }}"))
    for field, text in texts:
        try:
            with formulas.cached_in(project.work_dir / "formulas"):  # drawn once, for build too
                check_prose(text)
            used = results_used(text)
        except jinja2.TemplateSyntaxError as exc:
            what = f"line {exc.lineno} of the text: {exc.message}"  # as the build says it
            problems.append(Problem(str(display), what, field))
            continue
        except FormulaError as exc:
            problems.append(Problem(str(display), str(exc), field))
            continue
        except RecursionError:
            problems.append(Problem(str(display), TOO_DEEP, field, TOO_DEEP_FIX))
            continue
        embedded: list[tuple[str, str, Callable[[Path, str], object]]]
        embedded = [("picture", src, embed_picture) for src in pictures_used(text)]
        embedded += [("link", href, embed_link) for href in links_used(text)]
        for kind, target, embed in embedded:
            try:
                embed(source.folder, target)
            except EmbedError as exc:
                problems.append(Problem(str(display), exc.what, field, exc.fix))
            except ValueError as exc:  # as the build says it
                what = f"{kind} {target!r} cannot be a file: {exc}"
                problems.append(Problem(str(display), what, field))
        if recorded is not None:
            for name in sorted(used - recorded):
                listing = ", ".join(sorted(recorded)) or "nothing"
                problems.append(
                    Problem(str(display), f"uses results.{name}, which no program recorded",
                            field, fix=f"recorded: {listing}")
                )  # fmt: skip
    problems += _program_syntax(source, display)
    return problems


def validate_templates(search_path: ThemeSearchPath, root: Path) -> list[Problem]:
    """Parse every template file of every folder on the search path, and check that what each
    includes, imports or extends, and each ``asset()`` it names, can be found."""
    env = search_path.environment()
    problems = []
    for folder in search_path.folders:
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.suffix.lower() not in TEMPLATE_SUFFIXES:
                continue
            try:
                tree = env.parse(path.read_text(encoding="utf-8"), filename=str(path))
            except jinja2.TemplateSyntaxError as exc:
                what = f"template syntax error: {exc.message}"  # as the build says it
                problems.append(Problem(f"{_shown(path, root)}:{exc.lineno}", what))
                continue
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(Problem(_shown(path, root), f"cannot read: {exc}"))
                continue
            problems += _references(tree, env, search_path, _shown(path, root), root)
    return problems


def _references(
    tree: nodes.Template,
    env: jinja2.Environment,
    search_path: ThemeSearchPath,
    shown: str,
    root: Path,
) -> Iterator[Problem]:
    """The templates and assets a parsed template names (as literals) that do not exist."""
    for node in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        name = getattr(node, "template", None)
        if not isinstance(name, nodes.Const) or not isinstance(name.value, str):
            continue  # computed at render time: nothing to say now
        if isinstance(node, nodes.Include) and node.ignore_missing:
            continue
        try:
            env.get_template(name.value)
        except jinja2.TemplateNotFound:
            yield Problem(f"{shown}:{node.lineno}", f"template not found: {name.value}")
        except jinja2.TemplateSyntaxError:
            continue  # reported for that file itself
    for call in tree.find_all(nodes.Call):
        if not (isinstance(call.node, nodes.Name) and call.node.name == "asset" and call.args):
            continue
        arg = call.args[0]
        if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
            try:
                search_path.find_file(arg.value)
            except RenderError as exc:
                what = exc.format_message().replace(f"{root}{os.sep}", "")  # as build shows it
                yield Problem(f"{shown}:{call.lineno}", what)


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
