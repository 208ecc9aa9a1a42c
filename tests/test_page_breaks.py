"""Issue #16 point 3: pages that break well. labreport.pagecheck names each bad break on small
laid-out documents made to hit it (and none on a clean one); a build reports them as warnings.
The shipped course is walked page by page where it is built (test_exp5, test_exp10,
test_unit_experiments, test_unit_exp11: their builds must warn of no bad break), and the book's
cover and index in test_page_furniture."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from test_console import labreport

from labreport import pagecheck
from labreport.pdf import load_weasyprint

from conftest import copy_project

# A6 with 10 mm margins at 10 pt and no paragraph margins: exactly 30 one-line paragraphs a page.
PAGE = (
    "<style>@page { size: A6; margin: 10mm } body { font-size: 10pt } p, h2 { margin: 0 }"
    " h2 { font-size: 10pt } pre { margin: 0 } figure { margin: 0 } %s</style>"
)


def laid_out(body: str, css: str = "") -> Any:
    weasyprint = load_weasyprint()
    return weasyprint.HTML(string=PAGE % css + body).render()


def lines(count: int) -> str:
    return "<p>line</p>" * count


def test_a_page_of_lines_fits_thirty() -> None:
    """The geometry the cases below rely on."""
    assert len(laid_out(lines(30)).pages) == 1
    assert len(laid_out(lines(31)).pages) == 2


def test_a_clean_document_has_no_bad_break() -> None:
    assert pagecheck.problems(laid_out(lines(50) + "<h2>End</h2>" + lines(5))) == []


def test_a_heading_as_the_last_line_of_a_page() -> None:
    document = laid_out(lines(29) + "<h2>Heading</h2>" + lines(5), "h2 { break-after: auto }")
    assert pagecheck.problems(document) == ["page 1: ends with the heading 'Heading'"]


def test_the_default_css_would_keep_a_heading_with_what_follows() -> None:
    assert pagecheck.problems(laid_out(lines(29) + "<h2>Heading</h2>" + lines(5))) == []


QUESTION = (
    '<ol class="questions"><li><p class="question">Why?</p>'
    '<div class="answer"><p>Because.</p></div></li></ol>'
)


def test_a_question_cut_from_its_answer() -> None:
    assert pagecheck.problems(laid_out(lines(28) + QUESTION)) == [
        "page 1: the question 'Why?' is cut from its answer"
    ]


def test_a_question_kept_with_its_answer_by_the_themes_rule() -> None:
    document = laid_out(lines(28) + QUESTION, "ol.questions .question { break-after: avoid }")
    assert pagecheck.problems(document) == []


def listing(count: int) -> str:
    rows = "".join(
        f'<span class="line" style="display: block">x = {i}\n</span>' for i in range(count)
    )
    return f'<pre class="listing">{rows}</pre>'


@pytest.mark.parametrize("before", [26, 27, 28])
def test_a_listing_that_leaves_a_few_lines_alone(before: int) -> None:
    alone = 30 - before
    assert pagecheck.problems(laid_out(lines(before) + listing(12))) == [
        f"page 1: a listing leaves {alone} of its lines alone there"
    ]


def test_a_listing_broken_with_five_lines_or_more_on_each_page() -> None:
    assert pagecheck.problems(laid_out(lines(20) + listing(20))) == []


PICTURE = (
    '<img style="width: 20mm; height: 10mm" src="data:image/svg+xml,'
    "%3Csvg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/%3E\">"
)


def test_a_figure_cut_from_its_caption() -> None:
    figure = f"<figure>{PICTURE}<figcaption>Figure 1: a plot</figcaption></figure>"
    document = laid_out(lines(28) + figure, "figure { break-inside: auto }")
    assert pagecheck.problems(document) == ["page 1: a figure is cut from its caption"]


def test_a_near_empty_page_that_is_not_the_last() -> None:
    document = laid_out(lines(32) + '<p style="break-before: page">next</p>' + lines(5))
    (problem,) = pagecheck.problems(document)  # two lines of thirty
    assert re.fullmatch(r"page 2: only [5-8]% of it filled", problem), problem


def test_the_marks_alone_on_the_last_page() -> None:
    marks = '<table class="assessment"><tr><td>Total</td></tr></table>'
    document = laid_out(lines(30) + marks)
    assert pagecheck.problems(document) == ["page 2: holds only the marks or evaluator's block"]
    kept = laid_out(lines(30) + marks, "table.assessment { break-before: avoid }")
    assert pagecheck.problems(kept) == []


def test_a_build_warns_of_a_bad_break_in_a_teachers_theme(tmp_path: Path) -> None:
    """The walk runs where the PDF is laid out (a worker process) and reaches the build's
    warnings: a theme that breaks the page after the aim leaves page 1 nearly empty."""
    root = copy_project("mini", tmp_path / "lab")
    theme = root / "templates" / "airy"
    theme.mkdir(parents=True)
    (theme / "record.html").write_text(
        '{% extends "builtin/classic/record.html" %}\n'
        "{% block style %}section.aim { break-after: page; }{% endblock style %}\n"
    )
    built = labreport(root, "build", "alpha", "--theme", "airy")
    assert built.returncode == 0, built.stderr
    assert "alpha: warning: alpha.pdf page 1: only" in built.stderr, built.stderr
    plain = labreport(root, "build", "alpha", "--force")
    assert plain.returncode == 0 and ".pdf page" not in plain.stderr, plain.stderr
