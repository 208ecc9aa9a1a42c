"""A spec plus its programs' run results → one self-contained HTML page; knows nothing of running.

The theme template receives ready-made views: prose already turned into HTML with the measured
values filled in, code already highlighted, figures already numbered and embedded as data URIs,
so theme authors write layout, not logic.
"""

from __future__ import annotations

import base64
import csv
import io
import threading
from dataclasses import dataclass, fields, replace
from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup, escape

from labreport import __version__
from labreport.checks import CheckView, evaluate_checks
from labreport.errors import RenderError
from labreport.fingerprint import LIBRARIES, cpu_model, environment_fingerprint, machine_fingerprint
from labreport.listing import (
    Listing,
    ListingOptions,
    read_options,
    shown_lines,
    source_lines,
    split_lines,
)
from labreport.longlines import cut_long_lines
from labreport.project import PLACEHOLDER, Project
from labreport.prose import ProseRenderer
from labreport.provenance import Provenance, build_date
from labreport.results import CapturedFile, RunResult
from labreport.spec import (
    EXPERIMENT_PROSE,
    PROGRAM_PROSE,
    Experiment,
    ExperimentSource,
    RubricRow,
    Show,
)
from labreport.themes import ENTRY, ThemeSearchPath


@dataclass(frozen=True)
class FigureView:
    """A figure as a theme shows it: ``caption`` is the spec's (``figures:``) where it gives
    one, else the figure's own title (its suptitle or axes titles), as HTML; ``title`` is
    that own title, as text (the picture's alternative text)."""

    number: int
    caption: Markup
    src: str
    title: str = ""


def _extra_captions(
    source: ExperimentSource, display: object, index: int, captions: int, made: int
) -> str:
    """The warning for a program given more captions than it made figures. A warning, not an
    error: how many figures a run makes can depend on the run (a figure limit reached, a
    branch not taken), and the record is still right about every figure it shows."""
    program = source.spec.programs[index]
    return (
        f"{display}: programs[{index}].figures: {captions} captions, but {program.code} made "
        f"{made} figure(s): captions {made + 1} to {captions} caption nothing"
    )


@dataclass(frozen=True)
class FileView:
    """A file the program wrote that the spec shows (``show_files:``): a CSV as ``rows`` (the
    first is the header), other text as ``text`` (its long lines cut, as the output's are).
    Images are figures instead."""

    name: str
    rows: tuple[tuple[str, ...], ...] = ()
    text: str = ""
    rows_left_out: int = 0


MAX_TABLE_ROWS = 100  # a CSV longer than this shows its first rows and says how many are left out


def _file_views(files: tuple[CapturedFile, ...]) -> tuple[list[FileView], list[CapturedFile]]:
    """The shown files as tables or text, and the images (shown as figures)."""
    views, images = [], []
    for file in files:
        if file.binary:
            if file.mime.startswith("image/"):
                images.append(file)
            continue  # nothing a page can show
        if file.name.lower().endswith((".csv", ".tsv")):
            dialect = "excel-tab" if file.name.lower().endswith(".tsv") else "excel"
            rows = [tuple(row) for row in csv.reader(io.StringIO(file.data), dialect)]
            left = max(0, len(rows) - 1 - MAX_TABLE_ROWS)
            views.append(FileView(file.name, tuple(rows[: MAX_TABLE_ROWS + 1]), rows_left_out=left))
        else:
            views.append(FileView(file.name, text=cut_long_lines(file.data)))
    return views, images


@dataclass(frozen=True)
class ProgramView:
    """One program as a theme shows it. ``run`` is what the program did, its ``output`` with
    lines longer than ``longlines.MAX_LINE`` cut (laying out one long line takes minutes)."""

    number: int
    part: str
    code: str
    title: str
    task: Markup
    show: str  # all, none, appendix (listed in the appendix) or part (some lines, with gaps)
    listing: Listing
    source_html: Markup  # the listing as HTML, laid out as the theme's theme.toml says
    run: RunResult
    figures: tuple[FigureView, ...]
    files: tuple[FileView, ...]
    data: Markup
    result: Markup
    analysis: Markup
    inferences: Markup

    @property
    def failed(self) -> bool:
        return not self.run.ok


# Pygments replaces ``pygments.lexers`` and ``pygments.formatters`` in ``sys.modules`` while
# they are first imported, so two threads importing them at once fail about half the time
# ("cannot import name 'PythonLexer'"). The build's preload thread and its render threads both
# get here: the first loads Pygments under this lock, the others wait for it.
_HIGHLIGHTER_LOCK = threading.Lock()


def _highlighter() -> tuple[Any, Any, str, frozenset[Any]]:
    """The lexer, the formatter, its CSS and the token types it leaves plain; loaded once."""
    with _HIGHLIGHTER_LOCK:
        return _load_highlighter()


@cache
def _load_highlighter() -> tuple[Any, Any, str, frozenset[Any]]:
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer
    from pygments.token import STANDARD_TYPES, Whitespace

    formatter = HtmlFormatter(cssclass="highlight", wrapcode=True)
    css: str = formatter.get_style_defs(".highlight")  # type: ignore[no-untyped-call]
    style = formatter.style

    def plain(ttype: Any) -> bool:
        shown = style.style_for_token(ttype)
        return not (
            shown["color"] or shown["bgcolor"] or shown["border"]
            or shown["bold"] or shown["italic"] or shown["underline"]
        )  # fmt: skip

    unstyled = frozenset(filter(plain, STANDARD_TYPES))
    # stripnl=False: a blank first line stays, so the listing's line numbers are the file's
    return PythonLexer(stripnl=False), formatter, css, unstyled | {Whitespace}


def highlight_python(source: str) -> Markup:
    """The whole program as a listing, with the default options (see :func:`listing_markup`)."""
    return listing_markup(program_listing(source), ListingOptions())


def program_listing(source: str, show: Show = "all") -> Listing:
    """The program's lines as highlighted tokens, with a class only where the style shows
    something, and the lines ``show`` lists (all of them unless lines or a region).

    Tokens the style leaves plain (names, punctuation: three quarters of them) and whitespace
    (coloured, but invisible) are plain text, which :mod:`labreport.listing` merges with its
    neighbours. The page looks the same, and WeasyPrint lays out a code-heavy record about
    twice as fast: it pays for every inline box.
    """
    from labreport.spec import ShowLines, ShowRegion

    lexer, _, _, unstyled = _highlighter()
    text = "\n".join(source_lines(source))
    tokens = ((_css_class(ttype, unstyled), value) for ttype, value in lexer.get_tokens(text))
    lines = tuple(tuple(line) for line in split_lines(tokens))
    ranges = show.lines if isinstance(show, ShowLines) else None
    region = show.region if isinstance(show, ShowRegion) else None
    shown = shown_lines(source_lines(source), ranges, region)  # load_experiment checked it
    return Listing(lines, tuple(shown))


def _css_class(ttype: Any, unstyled: frozenset[Any]) -> str:
    """Pygments' short class of a token type (``k``, ``s2``...), "" for one shown plain."""
    from pygments.token import STANDARD_TYPES

    if ttype in unstyled:
        return ""
    while ttype not in STANDARD_TYPES:
        ttype = ttype.parent
    return str(STANDARD_TYPES[ttype])


def listing_markup(listing: Listing, options: ListingOptions) -> Markup:
    """The listing as HTML (:func:`labreport.listing.listing_html`: a block per line, long
    ones wrapped at ``options.columns`` with a continuation mark).

    A bidirectional control character (Trojan Source: it makes the code read otherwise than it
    runs) is shown as a marker such as ``⟪U+202E⟫``, white on red, in place of the invisible
    character.
    """
    import re

    return Markup(
        re.sub(
            "[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]",
            lambda m: (
                '<span class="bidi-control" style="color: #fff; background: #c00" title="an '
                f'invisible bidirectional control character">⟪U+{ord(m.group()):04X}⟫</span>'
            ),
            listing.html(options),
        )
    )


def listing_options(search_path: ThemeSearchPath, theme: str) -> ListingOptions:
    """The theme's ``[listing]`` settings, from the first ``<theme>/theme.toml`` on the path
    (a project's ``templates/<theme>/theme.toml`` comes first); the defaults where none."""
    from labreport.themes import THEME_INFO

    try:
        path = search_path.find_file(f"{theme}/{THEME_INFO}")
    except RenderError:
        return ListingOptions()
    try:
        return read_options(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # TOMLDecodeError is a ValueError
        raise RenderError(
            f"cannot read it ({exc})", where=str(path), field="listing",
            fix="write [listing] with columns = 90 and line_numbers = true or false",
        ) from exc  # fmt: skip


def _figure_src(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def merged_results(runs: list[RunResult]) -> dict[str, Any]:
    """Every recorded value of the experiment; a later program's value wins a shared name."""
    merged: dict[str, Any] = {}
    for run in runs:
        merged.update(run.records)
    return merged


def _provenance(source: ExperimentSource, runs: list[RunResult]) -> Provenance:
    """What made these runs: the versions that key the run cache, the CPU, the seeds (which
    of them the student's) and what each run reported from inside its own process."""
    versions = environment_fingerprint()

    def distinct(key: str, *fallbacks: str) -> tuple[str, ...]:
        found = []
        for run in runs:
            keys = (key, *fallbacks)
            value = next((run.environment[k] for k in keys if run.environment.get(k)), None)
            if value is not None:
                found.append(value)
        return tuple(dict.fromkeys(found))

    own = source.student_seeded or (False,) * len(source.spec.programs)
    seeded = list(zip(source.spec.programs, own, strict=True))
    return Provenance(
        labreport=__version__,
        versions={k: versions[k] for k in ("python", *LIBRARIES)},
        cpu=cpu_model(),
        torch_kernels=distinct("torch_cpu"),
        threads=distinct("torch_threads", "threads"),
        seeds=tuple(dict.fromkeys(p.run_seed for p, own in seeded if not own)),
        student_seeds=tuple(dict.fromkeys(p.run_seed for p, own in seeded if own)),
        student_id=source.student_id or "",
        date=build_date(),
        programs=len(runs),
        cached=sum(run.cached for run in runs),
        settings={k: v for k, v in machine_fingerprint().items() if k != "cpu"},
    )


def _program_views(
    source: ExperimentSource,
    runs: list[RunResult],
    prose: ProseRenderer,
    results: dict[str, Any],
    notices: list[str],
) -> list[ProgramView]:
    views = []
    figure_number = 0
    for i, (program, run) in enumerate(zip(source.spec.programs, runs, strict=True)):
        own = {**results, **run.records}
        field = f"programs[{i}]"
        files, images = _file_views(run.files)
        made = [
            (fig.title or f"output of {program.code}", _figure_src(fig.svg)) for fig in run.figures
        ] + [
            (f"{image.name}, written by {program.code}", f"data:{image.mime};base64,{image.data}")
            for image in images
        ]
        captions = [
            prose.inline(text, f"{field}.figures[{j}]", own)
            for j, text in enumerate(program.figures)
        ]
        if len(captions) > len(made) and run.ok:
            notices.append(_extra_captions(source, prose.spec_path, i, len(captions), len(made)))
        figures = []
        for j, (title, src) in enumerate(made):
            figure_number += 1
            caption = captions[j] if j < len(captions) else Markup(escape(title))
            figures.append(FigureView(figure_number, caption, src, title))
        code_text = source.program_path(program).read_text(encoding="utf-8", errors="replace")
        listing = program_listing(code_text, program.show)
        views.append(
            ProgramView(
                number=i + 1,
                part=program.part,
                code=program.code,
                title=program.title or program.code,
                show=program.show if isinstance(program.show, str) else "part",
                listing=listing,
                source_html=listing_markup(listing, ListingOptions()),
                run=replace(run, output=cut_long_lines(run.output)),
                figures=tuple(figures),
                files=tuple(files),
                **{
                    name: (prose.inline if inline else prose.block)(
                        getattr(program, name), f"{field}.{name}", own
                    )
                    for name, inline in PROGRAM_PROSE
                },
            )
        )
    return views


@dataclass(frozen=True)
class RecordContext:
    """Everything a theme template can use, each field a template variable of the same name
    (docs/templates.md lists them). Prose is HTML already, with the measured values filled in;
    ``aim``, ``theory``, ``description`` and ``result`` are the fields of
    :data:`~labreport.spec.EXPERIMENT_PROSE`."""

    id: str
    spec: Experiment
    number: int
    title: str
    doc_title: str
    aim: Markup
    theory: Markup
    description: Markup
    result: Markup
    tools: list[str]
    prerequisites: list[Markup]
    prelab: list[tuple[Markup, Markup]]
    viva: list[tuple[Markup, Markup]]
    programs: list[ProgramView]
    inlab: list[ProgramView]
    postlab: list[ProgramView]
    checks: list[CheckView]
    results: dict[str, Any]
    rubric: list[RubricRow]
    rubric_total: float | None
    rubric_obtained: float | None
    course: dict[str, str]
    student: dict[str, str]
    date: str
    placeholder: str
    pygments_css: Markup
    provenance: Provenance
    generator: str
    notices: tuple[str, ...] = ()
    check_expressions: str = "hidden"
    # A handout (build --handout): no answers, no runs, no checks (see labreport.handout).
    handout: bool = False
    # The theme's record.html, by the name that finds it on the search path: what the built-in
    # handout.html extends, so a handout looks like the record of the same theme.
    record_template: str = ""

    def variables(self) -> dict[str, Any]:
        """The template variables (a shallow mapping: views stay views)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def build_context(
    project: Project, source: ExperimentSource, runs: list[RunResult], display: str
) -> RecordContext:
    """Everything a theme template can use, rendered from the spec and the runs."""
    spec = source.spec
    prose = ProseRenderer(display, spec.model_dump(), source.folder)  # type: ignore[arg-type]
    results = merged_results(runs)
    notices: list[str] = []
    programs = _program_views(source, runs, prose, results, notices)
    rubric_totals = [r.total_marks for r in spec.rubric if r.total_marks is not None]
    obtained = [r.marks_obtained for r in spec.rubric if r.marks_obtained is not None]
    experiment_prose: dict[str, Any] = {
        name: (prose.inline if inline else prose.block)(getattr(spec, name), name, results)
        for name, inline in EXPERIMENT_PROSE
    }
    return RecordContext(
        id=source.id,
        spec=spec,
        number=spec.number,
        title=spec.title,
        doc_title=f"Experiment {spec.number}: {spec.title}",
        **experiment_prose,
        tools=spec.tools,
        prerequisites=[
            prose.inline(p, f"prerequisites[{i}]", results)
            for i, p in enumerate(spec.prerequisites)
        ],
        prelab=[
            (
                prose.inline(q.question, f"prelab[{i}].question", results),
                prose.block(q.answer, f"prelab[{i}].answer", results),
            )
            for i, q in enumerate(spec.prelab)
        ],  # fmt: skip
        viva=[
            (
                prose.inline(q.question, f"viva[{i}].question", results),
                prose.block(q.answer, f"viva[{i}].answer", results),
            )
            for i, q in enumerate(spec.viva)
        ],  # fmt: skip
        programs=programs,
        inlab=[p for p in programs if p.part == "in-lab"],
        postlab=[p for p in programs if p.part == "post-lab"],
        checks=evaluate_checks(source, prose, results),
        results=results,
        rubric=spec.rubric,
        rubric_total=sum(rubric_totals) if len(rubric_totals) == len(spec.rubric) else None,
        rubric_obtained=sum(obtained) if len(obtained) == len(spec.rubric) else None,
        course=project.course(spec.course),
        student=project.student(),
        date=project.date(source.id, spec.date),
        placeholder=PLACEHOLDER,
        pygments_css=Markup(_highlighter()[2]),
        provenance=_provenance(source, runs),
        generator=f"labreport {__version__}",
        notices=tuple(notices),
    )


def render_html(
    context: RecordContext, theme: str, search_path: ThemeSearchPath, entry: str = ENTRY
) -> str:
    """Render the theme's ``entry`` template (``record.html``, or ``handout.html`` for a
    handout) with ``context``."""
    env = search_path.environment()
    name = f"{theme}/{entry}"
    options = listing_options(search_path, theme)
    if options != ListingOptions():
        context = _with_listing_options(context, options)
    try:
        template = env.get_template(name)
        shown = replace(
            context,
            check_expressions=search_path.check_expressions(theme),
            record_template=f"{theme}/{ENTRY}",
        )
        return template.render(shown.variables())
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or exc.name or name
        raise RenderError(f"{where}:{exc.lineno}: template syntax error: {exc.message}") from exc
    except jinja2.TemplateNotFound as exc:
        if exc.name == name:
            search_path.resolve_theme(theme, "theme")  # raises: the theme is gone
            if entry != ENTRY:
                raise RenderError(
                    f"the theme '{theme}' has no {entry}", field="theme",
                    fix=f"add {theme}/{entry} to your templates, e.g. one line: "
                    '{% extends "builtin/classic/' + entry + '" %} (or builtin/worksheet/)',
                ) from exc  # fmt: skip
        where = _template_location(exc) or f"{name}: "
        raise RenderError(f"{where}template not found: {exc.name}") from exc
    except RenderError as exc:  # an asset() that failed: say which template asked for it
        location = _template_location(exc)
        if not location:
            raise
        raise RenderError(f"{location}{exc.format_message()}") from exc
    except jinja2.TemplateError as exc:
        raise RenderError(f"{_template_location(exc) or name + ': '}{exc}") from exc
    except (ArithmeticError, TypeError, ValueError, LookupError) as exc:
        # A template's own mistake ({{ 1/0 }}, a filter on the wrong type): the theme's to fix,
        # not a bug in labreport. Only when a template frame raised it; else it is ours.
        location = _template_location(exc)
        if not location:
            raise
        raise RenderError(f"{location}{type(exc).__name__}: {exc}") from exc


def _with_listing_options(context: RecordContext, options: ListingOptions) -> RecordContext:
    """``context`` with each listing laid out with the theme's ``options``."""
    views = {
        id(p): replace(p, source_html=listing_markup(p.listing, options)) for p in context.programs
    }
    return replace(
        context,
        programs=[views[id(p)] for p in context.programs],
        inlab=[views[id(p)] for p in context.inlab],
        postlab=[views[id(p)] for p in context.postlab],
    )


def _template_location(exc: BaseException) -> str:
    """``file:line: `` of the innermost template frame of a runtime error (Jinja rewrites the
    traceback so that template frames carry the template's file name and line)."""
    tb = exc.__traceback__
    location = ""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not filename.endswith(".py") and not filename.startswith("<"):
            location = f"{filename}:{tb.tb_lineno}: "
        tb = tb.tb_next
    return location
