"""The two built-in themes' structures in Word, and :func:`render_docx`.

``classic`` (FORMAT.md §1): a running "Experiment N" title and the page number in the header
of every page; bold labels (Aim:, Theory:, Code:, Output:, Result:) and the assessment table.
``worksheet`` (FORMAT.md §2): the header table (Experiment # | Student ID / Date | Student
Name) and the footer table (course title and code, academic year, "Page N of M") in the
section's header and footer, so Word repeats them on every page; the numbered sections, the
questions and the evaluator's block.

A theme of the project's own has no Word structure: its record follows the built-in theme of
the same name, or the one its ``record.html`` extends, else ``classic`` (the build warns).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT
from docx.shared import Mm, Pt

from labreport.listing import ListingOptions
from labreport.project import PLACEHOLDER
from labreport.word import blocks, ooxml, package, styles
from labreport.word.flow import Flow, Format, add_table, set_widths

if TYPE_CHECKING:
    from labreport.render import ProgramView, RecordContext

BOLD = Format(bold=True)
CLASSIC_PAGE = styles.PageLayout(Mm(22), Mm(20), Mm(20), Mm(20), Mm(10), Mm(10))
WORKSHEET_PAGE = styles.PageLayout(Mm(34), Mm(16), Mm(30), Mm(16), Mm(10), Mm(8))


def render_docx(
    context: RecordContext, theme: str, options: ListingOptions, check_expressions: str
) -> tuple[bytes, list[str]]:
    """The record of ``context`` as a .docx in ``theme``'s structure (see :data:`THEMES`),
    and what the build should warn about (pictures that could not be drawn)."""
    from docx import Document as new_document

    layout, write = THEMES.get(theme, THEMES["classic"])
    document = new_document()
    styles.set_up(document, layout)
    flow = Flow(document, layout.text_width.pt)
    write(flow, replace(context, check_expressions=check_expressions), options)
    author = context.student.get("name", "")
    package.set_properties(
        document, context.doc_title, "" if author == PLACEHOLDER else author,
        context.provenance.date,
    )  # fmt: skip
    data = io.BytesIO()
    document.save(data)
    notes = []
    if flow.missing:
        notes.append(
            f"{flow.missing} picture(s) could not be drawn for Word: the .docx says so in "
            "their place (the HTML and PDF show them)"
        )
    return package.fixed_package(data.getvalue(), context.provenance.date), notes


def structure_of(theme: str, template: str) -> str | None:
    """The built-in structure a record in ``theme`` is written in: the theme's own where it
    is built in (or overridden under that name), else the one its ``record.html`` (the text
    ``template``) extends; None where neither."""
    if theme in THEMES:
        return theme
    extended = re.search(r"""{%-?\s*extends\s+["']builtin/(\w+)/""", template)
    return extended.group(1) if extended and extended.group(1) in THEMES else None


# ---------------------------------------------------------------------------- classic


def classic(flow: Flow, context: RecordContext, options: ListingOptions) -> None:
    document = flow.document
    _running_title(flow, f"Experiment {context.number}")
    title = flow.new_paragraph(document, "Heading 1")
    title.paragraph_format.space_before = Pt(0)
    flow.text(title, f"Experiment {context.number}")
    flow.text(flow.new_paragraph(document, None), context.title, Format(italic=True))
    _labelled(flow, "Aim:", context.aim)
    if context.tools:
        paragraph = flow.new_paragraph(document, None)
        flow.text(paragraph, "Tools Used: ", BOLD)
        flow.text(paragraph, ", ".join(context.tools))
    if context.theory:
        flow.text(flow.new_paragraph(document, styles.LABEL), "Theory:")
        flow.blocks(document, context.theory)
    for program in context.programs:
        if len(context.programs) > 1 or program.task:
            heading = flow.new_paragraph(document, "Heading 2")
            flow.text(heading, f"Program {program.number}: ")
            flow.inline(heading, program.task or program.title)
        if program.show != "none":
            flow.text(flow.new_paragraph(document, styles.LABEL), "Code:")
            blocks.code(flow, document, program, options)
        flow.text(flow.new_paragraph(document, styles.LABEL), "Output:")
        blocks.output(flow, document, program)
        blocks.figures(flow, document, program)
        blocks.files(flow, document, program)
    blocks.provenance(flow, document, context.provenance.text)
    if context.result or context.checks:
        flow.blocks(document, context.result, lead=[("Result: ", BOLD)])
        blocks.checks(flow, document, context.checks)
    _assessment(flow, context)
    blocks.appendix(flow, document, context.programs, options)
    blocks.check_expressions(flow, document, context.checks, context.check_expressions)


def _running_title(flow: Flow, title: str) -> None:
    """The header of every page: the title on the left, the page number on the right."""
    section = flow.document.sections[0]
    paragraph = section.header.paragraphs[0]
    paragraph.style = styles.FURNITURE
    paragraph.paragraph_format.tab_stops.add_tab_stop(
        CLASSIC_PAGE.text_width, WD_TAB_ALIGNMENT.RIGHT
    )
    flow.text(paragraph, f"{title}\t")
    ooxml.add_field(paragraph, "PAGE", "1")
    for run in paragraph.runs:
        run.font.color.rgb = styles.MUTED


def _labelled(flow: Flow, label: str, markup: str) -> None:
    paragraph = flow.new_paragraph(flow.document, None)
    flow.text(paragraph, f"{label} ", BOLD)
    flow.inline(paragraph, markup)


def _assessment(flow: Flow, context: RecordContext) -> None:
    """Criteria | Total Marks | Marks Obtained | Comments, then a Total row; blanks blank."""
    rows = [
        (r.criterion, _mark(r.total_marks), _mark(r.marks_obtained), r.comments or "")
        for r in context.rubric
    ]
    rows.append(("Total", _mark(context.rubric_total), _mark(context.rubric_obtained), ""))
    flow.new_paragraph(flow.document, None)
    table = add_table(flow.document, len(rows) + 1, 4, flow.text_width)
    for c, head in enumerate(("Criteria", "Total Marks", "Marks Obtained", "Comments")):
        flow.text(table.cell(0, c).paragraphs[0], head, BOLD)
    for r, row in enumerate(rows, 1):
        for c, value in enumerate(row):
            flow.text(table.cell(r, c).paragraphs[0], value, Format(bold=r == len(rows)))


def _mark(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


# ---------------------------------------------------------------------------- worksheet


def worksheet(flow: Flow, context: RecordContext, options: ListingOptions) -> None:
    document = flow.document
    _furniture(flow, context)
    flow.text(flow.new_paragraph(document, "Heading 1"), context.doc_title)
    _section(flow, "Aim/Objective:")
    flow.inline(flow.new_paragraph(document, None), context.aim)
    if context.description:
        _section(flow, "Description:")
        flow.blocks(document, context.description)
    if context.theory:
        _section(flow, "Theory:")
        flow.blocks(document, context.theory)
    if context.prerequisites:
        _section(flow, "Pre-Requisites:")
        items = "".join(f"<li>{item}</li>" for item in context.prerequisites)
        flow.blocks(document, f"<ul>{items}</ul>")
    if context.prelab:
        _section(flow, "Pre-Lab:")
        _questions(flow, context.prelab)
    if context.inlab:
        _section(flow, "In-Lab:")
        for i, program in enumerate(context.inlab, 1):
            _task(flow, program, f"Program {i}:")
            _program_blocks(flow, program, options)
    if context.viva:
        _section(flow, "Sample VIVA-VOCE Questions (In-Lab):")
        _questions(flow, context.viva)
    if context.postlab:
        _section(flow, "Post-Lab:")
        for i, program in enumerate(context.postlab, 1):
            _task(flow, program, f"Program {i}:" if len(context.postlab) > 1 else "")
            _program_blocks(flow, program, options)
    if context.checks:
        _section(flow, "Claims Checked by the Run:")
        blocks.checks(flow, document, context.checks)
    blocks.provenance(flow, document, context.provenance.text)
    _closing(flow, context)
    blocks.appendix(flow, document, context.programs, options)
    blocks.check_expressions(flow, document, context.checks, context.check_expressions)


def _section(flow: Flow, label: str) -> None:
    flow.text(flow.new_paragraph(flow.document, "Heading 2"), label)


def _task(flow: Flow, program: ProgramView, label: str) -> None:
    paragraph = flow.new_paragraph(flow.document, None)
    paragraph.paragraph_format.keep_with_next = True
    if label:
        flow.text(paragraph, f"{label} ", BOLD)
    flow.inline(paragraph, program.task or program.title)


def _program_blocks(flow: Flow, program: ProgramView, options: ListingOptions) -> None:
    document = flow.document
    flow.text(flow.new_paragraph(document, "Heading 3"), "Procedure/Program:")
    blocks.code(flow, document, program, options)
    flow.text(flow.new_paragraph(document, "Heading 3"), "Data and Results:")
    for name, text in (("Data", program.data), ("Result", program.result)):
        if text:
            flow.text(flow.new_paragraph(document, "Heading 4"), name)
            flow.blocks(document, text)
    caption = flow.new_paragraph(document, None)
    caption.paragraph_format.keep_with_next = True
    flow.text(caption, "Output of ")
    flow.text(caption, program.code, Format(code=True))
    flow.text(caption, ":")
    blocks.output(flow, document, program)
    blocks.figures(flow, document, program)
    blocks.files(flow, document, program)
    if program.analysis or program.inferences:
        flow.text(flow.new_paragraph(document, "Heading 3"), "Analysis and Inferences:")
        for name, text in (("Analysis", program.analysis), ("Inferences", program.inferences)):
            if text:
                flow.text(flow.new_paragraph(document, "Heading 4"), name)
                flow.blocks(document, text)


def _questions(flow: Flow, items: Sequence[tuple[str, str]]) -> None:
    """Numbered questions (bold, numbering from 1 in each list), each followed by its answer."""
    numbering = ooxml.restarted_list(flow.document, "List Number")
    for question, answer in items:
        paragraph = flow.new_paragraph(flow.document, "List Number")
        ooxml.number(paragraph, numbering)
        paragraph.paragraph_format.keep_with_next = True
        flow.inline(paragraph, question, BOLD)
        flow.blocks(flow.document, answer, style="List Continue", level=1)


def _furniture(flow: Flow, context: RecordContext) -> None:
    """The header and footer tables, in the section's header and footer: on every page."""
    section = flow.document.sections[0]
    width = flow.text_width
    header = add_table(section.header, 2, 4, width)
    cells = (
        ("Experiment #", str(context.number), "Student ID", context.student["id"]),
        ("Date", context.date, "Student Name", context.student["name"]),
    )
    _fill(flow, header, cells, bold_columns=(0, 2))
    _drop_empty_first(section.header)
    footer = add_table(section.footer, 2, 3, width)
    course = context.course
    _fill(flow, footer, (
        ("Course Title", course["title"], f"ACADEMIC YEAR: {course['academic_year']}"),
        ("Course Code(s)", course["codes"], ""),
    ), bold_columns=(0, 2))  # fmt: skip
    page = footer.cell(1, 2).paragraphs[0]
    flow.text(page, "Page ", BOLD)
    ooxml.add_field(page, "PAGE", "1")
    flow.text(page, " of ", BOLD)
    ooxml.add_field(page, "NUMPAGES", "1")
    _drop_empty_first(section.footer)
    for table in (header, footer):
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
    set_widths(header, [width * share for share in (0.16, 0.34, 0.16, 0.34)])
    set_widths(footer, [width * share for share in (0.18, 0.55, 0.27)])


def _fill(
    flow: Flow, table: object, rows: tuple[tuple[str, ...], ...], bold_columns: tuple[int, ...]
) -> None:
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            paragraph = table.cell(r, c).paragraphs[0]  # type: ignore[attr-defined]
            paragraph.style = styles.FURNITURE
            flow.text(paragraph, value, Format(bold=c in bold_columns))


def _drop_empty_first(part: object) -> None:
    """A header or footer starts with an empty paragraph: the table goes before it instead, and
    the paragraph (Word requires one after a table) is made as small as can be."""
    paragraphs = part.paragraphs  # type: ignore[attr-defined]
    first = paragraphs[0]
    first._p.getparent().remove(first._p)
    part._element.append(first._p)  # type: ignore[attr-defined]
    first.paragraph_format.space_after = Pt(0)
    first.paragraph_format.line_spacing = Pt(1)


def _closing(flow: Flow, context: RecordContext) -> None:
    """The evaluator's block: the remark box, the marks line, the signature, the note."""
    document = flow.document
    flow.new_paragraph(document, None)
    table = document.add_table(3, 2)
    set_widths(table, [flow.text_width * 0.32, flow.text_width * 0.68])
    flow.text(table.cell(0, 0).paragraphs[0], "Evaluator Remark (if Any):", BOLD)
    box = table.cell(0, 1)
    tcpr = box._tc.get_or_add_tcPr()
    ooxml.put(
        tcpr, ooxml.borders("tcBorders", ("top", "left", "bottom", "right")), ooxml.TCPR_ORDER
    )
    table.rows[0].height = Mm(22)
    marks = table.cell(1, 1).paragraphs[0]
    marks.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    flow.text(marks, f"Marks Secured ________ out of {context.spec.marks_out_of}")
    signature = table.cell(2, 1).paragraphs[0]
    signature.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    flow.text(signature, "Signature of the Evaluator with Date")
    for row in table.rows[1:]:
        row.cells[1].paragraphs[0].paragraph_format.space_before = Pt(10)
    note = flow.new_paragraph(document, None)
    note.paragraph_format.space_before = Pt(12)
    flow.text(note, "Evaluator MUST ask Viva-voce prior to signing and posting marks for each "
              "experiment.", BOLD)  # fmt: skip


Writer = Callable[[Flow, "RecordContext", ListingOptions], None]
# The built-in themes' Word structures: page layout and writer, by theme name.
THEMES: dict[str, tuple[styles.PageLayout, Writer]] = {
    "classic": (CLASSIC_PAGE, classic),
    "worksheet": (WORKSHEET_PAGE, worksheet),
}
