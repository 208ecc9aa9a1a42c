"""The pieces of a record that both themes show, in Word: a program's listing, its output and
its figures, the files it wrote, the checked claims, the provenance line, the appendix.

Each mirrors a macro of ``templates/common/macros.html``; the themes (:mod:`.themes`) put them
in their order.
"""

from __future__ import annotations

import io
from functools import cache
from typing import TYPE_CHECKING

from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt, RGBColor

from labreport.listing import ELIDED, ListingOptions
from labreport.word import images, styles
from labreport.word.flow import (
    Container,
    Flow,
    Format,
    add_table,
    describe,
    set_inline,
    set_widths,
)

if TYPE_CHECKING:
    from docx.text.paragraph import Paragraph

    from labreport.checks import CheckView
    from labreport.render import FigureView, ProgramView

_FIGURE_HEIGHT = 110 * 72 / 25.4  # points: a figure is at most as tall as in the PDF (110 mm)


@cache
def _token_looks() -> dict[str, tuple[RGBColor | None, bool, bool]]:
    """Pygments' short class (``k``, ``s2``...) → colour, bold, italic in its default style:
    the colours the HTML and PDF listings have."""
    from pygments.styles import get_style_by_name
    from pygments.token import STANDARD_TYPES

    style = get_style_by_name("default")
    looks = {}
    for ttype, css in STANDARD_TYPES.items():
        shown = style.style_for_token(ttype)
        color = RGBColor.from_string(shown["color"].upper()) if shown["color"] else None
        looks[css] = (color, bool(shown["bold"]), bool(shown["italic"]))
    return looks


def listing(
    flow: Flow, container: Container, program: ProgramView, options: ListingOptions
) -> None:
    """The program's shown lines in the Code style, coloured as in the PDF. A line longer than
    the page is wrapped by Word, its continuation hanging under the line's own text (the PDF
    marks it with ↪; Word cannot, and the file stays the program's)."""
    lines = program.listing.lines
    shown = program.listing.shown
    gutter = len(str(max(shown, default=1))) + 1 if options.line_numbers else 0
    advance = styles.MONO_ADVANCE * styles.CODE_SIZE.pt
    looks = _token_looks()
    previous = 0
    for number in shown:
        if number > previous + 1:
            _elided(flow, container, previous + 1, number - 1)
        tokens = lines[number - 1]
        paragraph = flow.new_paragraph(container, styles.CODE)
        if gutter:
            flow.text(paragraph, f"{number:>{gutter - 1}} ")
            paragraph.runs[-1].font.color.rgb = styles.MUTED
        text = "".join(t for _, t in tokens)
        if len(text) + gutter > options.columns:
            hang = (gutter + len(text) - len(text.lstrip(" \t")) + 2) * advance
            paragraph.paragraph_format.left_indent = Pt(hang + 4.25)  # + the style's own
            paragraph.paragraph_format.first_line_indent = Pt(-hang)
        for css, token in tokens:
            flow.text(paragraph, token)
            color, bold, italic = looks.get(css, (None, False, False))
            run = paragraph.runs[-1] if token else None
            if run is not None:
                if color is not None:
                    run.font.color.rgb = color
                run.bold = bold or None
                run.italic = italic or None
        previous = number
    if shown and previous < len(lines):
        _elided(flow, container, previous + 1, len(lines))


def _elided(flow: Flow, container: Container, first: int, last: int) -> None:
    what = ELIDED.format(first=first, last=last) if last > first else f"⋮ (line {first} not shown)"
    paragraph = flow.new_paragraph(container, styles.CODE)
    flow.text(paragraph, what, Format(italic=True))
    paragraph.runs[-1].font.color.rgb = styles.MUTED


def code(flow: Flow, container: Container, program: ProgramView, options: ListingOptions) -> None:
    """Where the program is shown: its listing, or a pointer to the appendix."""
    if program.show == "appendix":
        note(flow, container, "(listing in the appendix)")
    elif program.show != "none":
        listing(flow, container, program, options)


def note(flow: Flow, container: Container, text: str) -> Paragraph:
    """A muted, italic line (no output, a pointer)."""
    paragraph = flow.new_paragraph(container, None)
    flow.text(paragraph, text, Format(italic=True))
    paragraph.runs[-1].font.color.rgb = styles.MUTED
    return paragraph


def output(flow: Flow, container: Container, program: ProgramView) -> None:
    """What the program printed, in the Output style; its failure, marked, after it."""
    if program.run.output:
        printed = flow.lines(container, program.run.output, styles.OUTPUT)
        if program.failed:  # the traceback in the error colour, as in the PDF
            for paragraph in printed:
                for run in paragraph.runs:
                    run.font.color.rgb = styles.ERROR
    else:
        note(flow, container, "(the program printed nothing)")
    if program.failed:
        verb = "timed out" if program.run.status == "timeout" else "failed"
        at = f" at line {program.run.line}" if program.run.line else ""
        paragraph = flow.new_paragraph(container, None)
        flow.text(paragraph, "Error: ", Format(bold=True))
        flow.text(paragraph, f"{program.code} {verb}{at}: {program.run.error}")
        for run in paragraph.runs:
            run.font.color.rgb = styles.ERROR


def figures(flow: Flow, container: Container, program: ProgramView) -> None:
    """Each figure as a PNG at print resolution, at most the text's width (aspect kept), with
    its numbered caption."""
    for figure in program.figures:
        _figure(flow, container, figure)


def _figure(flow: Flow, container: Container, figure: FigureView) -> None:
    paragraph = flow.new_paragraph(container, None)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.paragraph_format.keep_with_next = True
    drawn = images.picture(figure.src)
    alt = f"Figure {figure.number}: {figure.title or figure.caption.striptags()}"
    if drawn is None:
        flow.missing += 1
        flow.text(paragraph, f"[{alt}: could not be drawn]", Format(italic=True))
    else:
        scale = 1.0
        if drawn.width and drawn.height:
            scale = min(1.0, flow.text_width / drawn.width, _FIGURE_HEIGHT / drawn.height)
        run = paragraph.add_run()
        run.add_picture(
            io.BytesIO(drawn.png),
            width=Pt(drawn.width * scale) if drawn.width else None,
        )
        describe(run, alt)
        set_inline(run)
    caption = flow.new_paragraph(container, styles.CAPTION)
    flow.text(caption, f"Figure {figure.number}: ")
    flow.inline(caption, figure.caption)


def files(flow: Flow, container: Container, program: ProgramView) -> None:
    """The files the spec shows: a CSV as a table, text as printed; each captioned."""
    for shown in program.files:
        if shown.rows:
            width = max(len(row) for row in shown.rows)
            table = add_table(container, len(shown.rows), width, flow.text_width)
            for r, row in enumerate(shown.rows):
                for c, value in enumerate(row):
                    paragraph = table.cell(r, c).paragraphs[0]
                    paragraph.style = styles.FURNITURE
                    flow.text(paragraph, value, Format(bold=r == 0))
        else:
            flow.lines(container, shown.text, styles.OUTPUT)
        caption = flow.new_paragraph(container, styles.CAPTION)
        more = f" ({shown.rows_left_out} more rows not shown)" if shown.rows_left_out else ""
        flow.text(caption, f"{shown.name}, written by {program.code}{more}")


def checks(flow: Flow, container: Container, items: list[CheckView]) -> None:
    """The checked claims: claim, the measured values, ✓ passed or ✗ failed."""
    if not items:
        return
    table = add_table(container, len(items) + 1, 3, flow.text_width)
    for c, head in enumerate(("Claim", "Measured", "✓/✗")):
        flow.text(table.cell(0, c).paragraphs[0], head, Format(bold=True))
    for r, check in enumerate(items, 1):
        flow.inline(table.cell(r, 0).paragraphs[0], check.claim)
        flow.inline(table.cell(r, 1).paragraphs[0], check.measured)
        verdict = table.cell(r, 2).paragraphs[0]
        flow.text(
            verdict, "✓ passed" if check.passed else "✗ failed", Format(bold=not check.passed)
        )
        verdict.runs[-1].font.color.rgb = styles.PASSED if check.passed else styles.ERROR
    set_widths(table, [flow.text_width * share for share in (0.55, 0.33, 0.12)])


def provenance(flow: Flow, container: Container, text: str) -> None:
    paragraph = flow.new_paragraph(container, styles.PROVENANCE)
    flow.text(paragraph, text)


def appendix(
    flow: Flow, container: Container, programs: list[ProgramView], options: ListingOptions
) -> None:
    """The listings of the programs with ``show: appendix``, each under its name."""
    moved = [p for p in programs if p.show == "appendix"]
    if not moved:
        return
    flow.new_paragraph(container, "Heading 2").add_run("Appendix: program listings")
    for program in moved:
        heading = flow.new_paragraph(container, "Heading 3")
        flow.text(heading, f"Program {program.number}: ")
        flow.text(heading, program.code, Format(code=True))
        listing(flow, container, program, options)


def check_expressions(flow: Flow, container: Container, items: list[CheckView], where: str) -> None:
    """Each check's expression, numbered as in the table (theme.toml: check_expressions)."""
    if not items or where != "appendix":
        return
    flow.new_paragraph(container, "Heading 2").add_run("Appendix: How the Claims Were Checked")
    for check in items:
        paragraph = flow.new_paragraph(container, None)
        flow.text(paragraph, f"{check.number}. ")
        flow.inline(paragraph, check.claim)
        paragraph.add_run().add_break()
        flow.text(paragraph, check.expr, Format(code=True))
