"""Issue #18 point 2: `labreport build --format docx`, an editable Word record of each built-in
theme. One build of tests/projects/word (a classic and a worksheet record of standard-library
programs) through the installed script; the documents are opened with python-docx and read as
a Word reader would: sections, header and footer of every page, styles, pictures, tables."""

from __future__ import annotations

import os
import re
import subprocess
import zipfile
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

import docx
import pytest
from docx.document import Document
from test_console import SCRIPT, labreport

from labreport.project import PLACEHOLDER

from conftest import copy_project

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
PROJECT = Path(__file__).parent / "projects" / "word"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project("word", tmp_path_factory.mktemp("word") / "lab")
    made = labreport(root, "build", "plain", "sheet", "--format", "docx")
    assert made.returncode == 0, made.stderr
    assert made.stdout.split() == ["build/plain.docx", "build/sheet.docx"]
    assert "Traceback" not in made.stderr
    assert "check failed: The count exceeds ten." in made.stderr  # a warning, not a failure
    return root


@pytest.fixture(scope="module")
def plain(lab: Path) -> Document:
    return docx.Document(str(lab / "build" / "plain.docx"))


@pytest.fixture(scope="module")
def sheet(lab: Path) -> Document:
    return docx.Document(str(lab / "build" / "sheet.docx"))


def texts(document: Document, style: str) -> list[str]:
    return [p.text for p in document.paragraphs if p.style is not None and p.style.name == style]


def body_text(document: Document) -> str:
    """Every paragraph of the body and of its tables, and of the header and footer."""
    section = document.sections[0]
    parts = [document.element.body, section.header._element, section.footer._element]
    return "\n".join("".join(t.text or "" for t in part.iter(f"{W}t")) for part in parts)


def table_rows(table: object) -> list[list[str]]:
    """Each cell's text as Word shows it before it updates its fields (python-docx's own
    ``cell.text`` leaves out the text of fields)."""
    return [
        ["\n".join("".join(t.text or "" for t in p.iter(f"{W}t")) for p in cell._tc.iter(f"{W}p"))
         for cell in row.cells]
        for row in table.rows  # type: ignore[attr-defined]
    ]  # fmt: skip


def fields(element: object) -> list[str]:
    """The field instructions (PAGE, NUMPAGES...) in a part."""
    found = [f.get(f"{W}instr", "").strip() for f in element.iter(f"{W}fldSimple")]  # type: ignore[attr-defined]
    return found


# ------------------------------------------------------------------------------ both themes


def test_only_the_word_files_are_written_and_they_are_valid_packages(lab: Path) -> None:
    assert sorted(p.name for p in (lab / "build").iterdir()) == ["plain.docx", "sheet.docx"]
    for name in ("plain.docx", "sheet.docx"):
        with zipfile.ZipFile(lab / "build" / name) as package:
            assert package.testzip() is None
            parts = set(package.namelist())
            types = ElementTree.fromstring(package.read("[Content_Types].xml"))
            ns = "{http://schemas.openxmlformats.org/package/2006/content-types}"
            defaults = {d.get("Extension", "").lower() for d in types.iter(f"{ns}Default")}
            overrides = {o.get("PartName", "").lstrip("/") for o in types.iter(f"{ns}Override")}
            for part in parts:  # every part has a content type
                suffix = part.rsplit(".", 1)[-1].lower()
                assert part in overrides or suffix in defaults, (name, part)
            assert overrides <= parts, overrides - parts  # and no type names a missing part
            for rels in (p for p in parts if p.endswith(".rels")):  # every target exists
                source = PurePosixPath(rels).parent.parent
                for rel in ElementTree.fromstring(package.read(rels)):
                    if rel.get("TargetMode") == "External":
                        continue
                    target = rel.get("Target", "")
                    path = target.lstrip("/") if target.startswith("/") else str(source / target)
                    resolved = PurePosixPath(path.lstrip("./")) if path != "." else path
                    normal = re.sub(r"[^/]+/\.\./", "", str(resolved))
                    assert normal in parts, (name, rels, target)
            assert "docProps/thumbnail.jpeg" not in parts  # the template's blank page is gone


def test_nothing_is_left_of_markup_or_placeholders(plain: Document, sheet: Document) -> None:
    for document in (plain, sheet):
        text = body_text(document)
        for garbage in ("{{", "{%", "&lt;", "&amp;", "<p>", "<strong", "Markup(", "None"):
            assert garbage not in text, garbage


def test_core_properties_come_from_the_record_and_its_build_date(plain: Document) -> None:
    props = plain.core_properties
    assert props.title == "Experiment 3: Counting in a Word record"
    assert props.author == "Ada Student"
    assert props.created is not None and props.created.date().isoformat() == "2026-01-01"
    assert props.modified == props.created


def test_a_rebuild_is_byte_identical_and_docx_is_up_to_date_on_its_own(lab: Path) -> None:
    before = (lab / "build" / "plain.docx").read_bytes()
    again = labreport(lab, "build", "plain", "--format", "docx", "--force")
    assert again.returncode == 0, again.stderr
    assert (lab / "build" / "plain.docx").read_bytes() == before
    html = labreport(lab, "build", "plain", "--format", "html")
    assert html.returncode == 0 and "plain: built" in html.stderr, html.stderr
    current = labreport(lab, "build", "plain", "--format", "docx")
    assert "plain: up to date" in current.stderr, current.stderr  # the HTML build kept apart
    (lab / "build" / "plain.html").unlink()


# ------------------------------------------------------------------------------ classic


def test_classic_has_its_running_title_and_page_number_on_every_page(plain: Document) -> None:
    assert len(plain.sections) == 1  # one section: its header is every page's
    header = plain.sections[0].header
    assert not header.is_linked_to_previous
    assert header.paragraphs[0].text.startswith("Experiment 3\t")
    assert fields(header._element) == ["PAGE"]


def test_classic_headings_labels_and_prose(plain: Document) -> None:
    assert texts(plain, "Heading 1") == ["Experiment 3"]
    assert texts(plain, "Heading 2") == ["Program 1: count.py", "Program 2: broken.py"]
    assert texts(plain, "Label") == ["Theory:", "Code:", "Output:", "Code:", "Output:"]
    aim = next(p for p in plain.paragraphs if p.text.startswith("Aim:"))
    assert aim.text == "Aim: To count three things with count.py."
    assert [r.text for r in aim.runs if r.bold] == ["Aim: ", "three"]
    assert [r.text for r in aim.runs if r.style.name == "Inline Code"] == ["count.py"]
    theory = next(p for p in plain.paragraphs if p.text.startswith("Counting is"))
    assert [r.text for r in theory.runs if r.italic] == ["adding one"]
    assert "the docs" in theory.text and "w:hyperlink" in theory._p.xml
    assert texts(plain, "List Number") == ["start at zero", "add one per item"]
    result = next(p for p in plain.paragraphs if p.text.startswith("Result:"))
    assert result.text == "Result: The program counted 3 items."


def test_listings_are_code_paragraphs_line_for_line(plain: Document) -> None:
    code = texts(plain, "Code")
    source = (PROJECT / "experiments" / "plain" / "count.py").read_text().splitlines()
    assert code[: len(source)] == source  # the whole program, its indentation kept
    assert code[len(source) :] == [  # broken.py's `show: {lines: "1-2"}`, its gap marked
        'print("about to fail")', 'raise ValueError("no such item")', "⋮ (line 3 not shown)",
    ]  # fmt: skip
    keyword = next(r for p in plain.paragraphs for r in p.runs if r.text == "import")
    assert keyword.bold and keyword.font.color.rgb is not None  # coloured as in the PDF


def test_output_blocks_and_the_failure(plain: Document) -> None:
    output = texts(plain, "Output")
    assert output[:3] == ["item a: count 1", "item b: count 2", "item c: count 3"]
    assert output[3] == "about to fail" and output[-1] == "ValueError: no such item"
    error = next(p for p in plain.paragraphs if p.text.startswith("Error:"))
    assert error.text == "Error: broken.py failed at line 2: ValueError: no such item"


def test_pictures_are_the_figure_the_formulas_and_the_prose_picture(plain: Document) -> None:
    # $n$, the displayed sum, square.svg from the prose, bars.png (show_files) as Figure 1
    assert len(plain.inline_shapes) == 4
    with zipfile.ZipFile(io_bytes(plain)) as package:
        media = [n for n in package.namelist() if n.startswith("word/media/")]
    assert len(media) == 4 and all(n.endswith(".png") for n in media)
    captions = texts(plain, "Caption")
    assert captions == ["Figure 1: Bars drawn by count.py, 3 of them"]
    formula = plain.inline_shapes[0]
    assert 0 < formula.width.pt < 12  # $n$ at the text's size, not a page wide
    figure = plain.inline_shapes[3]
    assert figure.width.pt / figure.height.pt == pytest.approx(2, rel=0.02)  # aspect kept


def io_bytes(document: Document) -> object:
    import io

    data = io.BytesIO()
    document.save(data)
    return data


def test_checks_and_assessment_tables(plain: Document) -> None:
    checks, marks = plain.tables
    assert table_rows(checks) == [
        ["Claim", "Measured", "✓/✗"],
        ["The count reaches three.", "total = 3", "✓ passed"],
        ["The count exceeds ten.", "total = 3", "✗ failed"],
    ]
    assert table_rows(marks) == [
        ["Criteria", "Total Marks", "Marks Obtained", "Comments"],
        ["Concept (A)", "10", "8", ""],
        ["Implementation (B)", "10", "", "tidy"],
        ["Total", "20", "", ""],
    ]


# ------------------------------------------------------------------------------ worksheet


def test_worksheet_header_and_footer_tables_repeat_with_page_fields(sheet: Document) -> None:
    assert len(sheet.sections) == 1
    section = sheet.sections[0]
    (header,) = section.header.tables
    assert table_rows(header) == [
        ["Experiment #", "4", "Student ID", "S-42"],
        ["Date", "2026-01-02", "Student Name", "Ada Student"],
    ]
    (footer,) = section.footer.tables
    assert table_rows(footer) == [
        ["Course Title", "WORD COURSE", "ACADEMIC YEAR: 2025-26"],
        ["Course Code(s)", "WC200", "Page 1 of 1"],
    ]
    assert fields(section.footer._element) == ["PAGE", "NUMPAGES"]  # Word counts, not us
    assert PLACEHOLDER not in body_text(sheet)


def test_worksheet_sections_questions_and_programs(sheet: Document) -> None:
    assert texts(sheet, "Heading 1") == ["Experiment 4: A worksheet in Word"]
    assert texts(sheet, "Heading 2") == [
        "Aim/Objective:", "Description:", "Pre-Requisites:", "Pre-Lab:", "In-Lab:",
        "Sample VIVA-VOCE Questions (In-Lab):", "Post-Lab:", "Claims Checked by the Run:",
    ]  # fmt: skip
    assert texts(sheet, "Heading 3") == [
        "Procedure/Program:", "Data and Results:", "Analysis and Inferences:",
        "Procedure/Program:", "Data and Results:",
    ]  # fmt: skip
    assert texts(sheet, "Heading 4") == ["Data", "Result", "Analysis", "Inferences"]
    assert texts(sheet, "List Bullet") == ["Python basics", "Counting"]
    questions = texts(sheet, "List Number")
    assert questions == ["Why count?", "What is one more than two?", "What did hello.py print?"]
    assert texts(sheet, "List Bullet 2") == ["to know how many", "to compare"]  # an answer
    assert "Three." in texts(sheet, "List Continue") and "A greeting." in texts(
        sheet, "List Continue"
    )
    numbered = [p for p in sheet.paragraphs if p.style.name == "List Number"]
    ids = [p._p.pPr.numPr.numId.val for p in numbered]
    assert ids[0] == ids[1] != ids[2]  # the viva's questions count from 1 again
    assert texts(sheet, "Code") == ['greeting = "hello"', "print(greeting)", 'print("bye")']
    assert texts(sheet, "Output") == ["hello", "bye"]
    task = next(p for p in sheet.paragraphs if p.text.startswith("Program 1:"))
    assert task.text == "Program 1: Print a greeting."


def test_worksheet_checks_and_the_evaluators_block(sheet: Document) -> None:
    checks, closing = sheet.tables
    assert table_rows(checks)[1] == ["The greeting says hello.", "greeting = 'hello'", "✓ passed"]
    assert table_rows(closing)[0][0] == "Evaluator Remark (if Any):"
    assert table_rows(closing)[1][1] == "Marks Secured ________ out of 50"
    assert sheet.paragraphs[-1].text.startswith("Evaluator MUST ask Viva-voce")


# ------------------------------------------------------------------------------ the extra


def test_without_the_extra_the_build_says_how_to_get_it(tmp_path: Path) -> None:
    """A Python where python-docx cannot be imported: one line, exit 1, nothing run."""
    root = copy_project("word", tmp_path / "lab")
    blocker = tmp_path / "blocker"
    (blocker / "docx").mkdir(parents=True)
    (blocker / "docx" / "__init__.py").write_text("raise ImportError('blocked', name='docx')\n")
    paths = [str(blocker), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    made = subprocess.run(
        [str(SCRIPT), "build", "sheet", "--format", "docx"], cwd=root, env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 1, made.stderr
    assert made.stderr.strip().splitlines() == [
        "Error: --format docx: Word output needs python-docx, which is not installed "
        "(install it with: pip install 'labreport[docx]')"
    ]
    assert not (root / ".labreport" / "cache").exists()  # nothing ran


# ------------------------------------------------------------------------------ in process


def test_a_project_theme_is_written_in_the_structure_it_extends() -> None:
    from labreport.word.themes import structure_of

    assert structure_of("worksheet", "") == "worksheet"  # built in, or overridden by name
    extends = '{%- extends "builtin/worksheet/record.html" %}\n{% block heading %}{% endblock %}'
    assert structure_of("college", extends) == "worksheet"
    assert structure_of("college", "<html>{{ title }}</html>") is None  # classic, with a warning


def test_markdown_lists_keep_their_numbers_and_nesting() -> None:
    from docx.shared import Mm

    from labreport.word import styles
    from labreport.word.flow import Flow

    document = docx.Document()
    styles.set_up(document, styles.PageLayout(*(Mm(20),) * 6))
    Flow(document, 400).blocks(
        document,
        '<ol start="3"><li>third<ol><li>inner</li></ol></li><li><p>fourth</p><p>more</p></li>'
        "</ol><pre><code>x = 1\n  y\n</code></pre><p>a\x0bb</p>",
    )
    assert [(p.style.name, p.text) for p in document.paragraphs] == [
        ("List Number", "third"), ("List Number 2", "inner"), ("List Number", "fourth"),
        ("List Continue", "more"), ("Code", "x = 1"), ("Code", "  y"), ("Normal", "a\ufffdb"),
    ]  # fmt: skip
    overrides = document.part.numbering_part.element.xpath("//w:startOverride/@w:val")
    assert overrides == ["3", "1"]  # the list starts at 3, the inner one at 1


def test_a_picture_that_cannot_be_drawn_is_said_in_its_place() -> None:
    from docx.shared import Mm

    from labreport.word import styles
    from labreport.word.flow import Flow

    document = docx.Document()
    styles.set_up(document, styles.PageLayout(*(Mm(20),) * 6))
    flow = Flow(document, 400)
    flow.blocks(document, '<p>See <img src="data:image/svg+xml,not%20svg" alt="a plot">.</p>')
    assert document.paragraphs[0].text == "See [picture not shown: a plot]."
    assert flow.missing == 1  # render_docx turns it into a build warning


def test_a_handout_is_not_written_as_word(lab: Path) -> None:
    """The Word writer knows the record's structure only: a Word handout would be a record with
    blanks, so it is refused before anything is built, as a usage error."""
    refused = labreport(lab, "build", "plain", "--handout", "--format", "docx")
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip().splitlines()[-1] == (
        "Error: a handout is written as html or pdf: drop --format docx"
    )
    assert not (lab / "build" / "plain.handout.docx").exists()
