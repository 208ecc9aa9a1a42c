"""Issue #16 points 7 and 8: the record at phone width, the PDF's outline, the bound book's index,
and no empty headings. One build of the mini project (a classic and a worksheet record) and its
book, through the installed ``labreport`` script."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader
from test_console import labreport

from labreport.project import PLACEHOLDER

from conftest import copy_project


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project("mini", tmp_path_factory.mktemp("furniture") / "lab")
    made = labreport(root, "book")
    assert made.returncode == 0, made.stderr
    # the records' pages, and the book's cover and index, all break well (labreport.pagecheck)
    assert "warning" not in made.stderr, made.stderr
    return root


def outline(pdf: Path) -> list[Any]:
    """The PDF's bookmarks as nested lists of titles."""

    def walk(items: list[Any]) -> list[Any]:
        return [walk(item) if isinstance(item, list) else item.title for item in items]

    return walk(PdfReader(pdf).outline)


def test_a_classic_record_is_bookmarked_with_its_title_and_sections(lab: Path) -> None:
    assert outline(lab / "build" / "alpha.pdf") == [
        "Experiment 1: A line and a number",
        ["Aim", "Theory", "Program 1: line.py", "Result", "Assessment"],
    ]


def test_a_worksheet_record_is_bookmarked_by_section_and_program(lab: Path) -> None:
    assert outline(lab / "build" / "beta.pdf") == [
        "Experiment 2: Two programs on a worksheet",
        [
            "Aim/Objective:", "Pre-Lab:",
            "In-Lab:", ["Program 1: Print a greeting."],
            "Post-Lab:", ["Program 1: Print a farewell."],
        ],
    ]  # fmt: skip


def test_the_worksheet_prints_no_heading_over_an_absent_field(lab: Path) -> None:
    """first.py has a result: and nothing else of data/result/analysis/inferences; second.py has
    none of them: a heading is printed only over what is there."""
    soup = BeautifulSoup((lab / "build" / "beta.html").read_text(), "html.parser")
    first, second = soup.select("article.program")
    assert [h.get_text() for h in first.select("h4.sublabel")] == ["Result"]
    assert [h.get_text() for h in second.select("h4.sublabel")] == []
    assert "It printed" in first.get_text()
    assert not soup.select(".block.analysis")
    text = "".join(page.extract_text() for page in PdfReader(lab / "build" / "beta.pdf").pages)
    assert "Data and Results:" in text and "Analysis and Inferences" not in text


def test_the_index_page_links_the_bound_record_which_exists(lab: Path) -> None:
    soup = BeautifulSoup((lab / "build" / "index.html").read_text(), "html.parser")
    links = [a["href"] for a in soup.select("a")]
    assert "lab-record.pdf" in links
    assert (lab / "build" / "lab-record.pdf").is_file()


def test_the_printed_index_leaves_a_blank_date_to_be_written_in(lab: Path) -> None:
    """The project sets no dates: the index's Date cells are empty rather than the placeholder
    wrapped over three lines; the cover still shows the student's fields, and the index its
    student line (the project sets no section: the placeholder)."""
    book = PdfReader(lab / "build" / "lab-record.pdf")
    index = " ".join(book.pages[1].extract_text().split())
    assert "INDEX" in index and "Experiment 1: A line and a number" in index
    student, table = index.split("S.No", 1)
    assert f"Name: Test Student · Student ID: S-1 · Section: {PLACEHOLDER}" in student
    assert PLACEHOLDER not in table and "To be filled" not in table
    assert "Test Student" in book.pages[0].extract_text()


# ------------------------------------------------------------------------------ phone width
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# The record in an iframe as wide as a phone (a headless window cannot be made narrower than
# 500 px), and a script that reports whether the record's page can scroll sideways, and which
# elements stick out of the viewport outside a box that scrolls on its own.
PROBE = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="f" style="border:0" width="{width}" height="900" srcdoc="{record}"></iframe>
<script>document.getElementById("f").addEventListener("load", () => {{
  const frame = document.getElementById("f"), doc = frame.contentDocument;
  const width = frame.contentWindow.innerWidth, wide = [];
  const scrolls = (e) => ["auto", "scroll"].includes(getComputedStyle(e).overflowX);
  for (const e of doc.querySelectorAll("body *")) {{
    if (e.getBoundingClientRect().right <= width + 0.5) continue;
    let box = e.parentElement;
    while (box && !scrolls(box)) box = box.parentElement;
    if (!box) wide.push(e.tagName.toLowerCase() + "." + e.className);
  }}
  document.body.setAttribute("data-probe", JSON.stringify(
    {{scroll: doc.documentElement.scrollWidth, width: width, wide: wide.slice(0, 10)}}));
}});</script></body></html>"""


def phone_layout(page: Path, tmp_path: Path, width: int = 360) -> dict[str, Any]:
    """How ``page`` lays out in a real browser ``width`` CSS pixels wide."""
    probe = tmp_path / "probe.html"
    probe.write_text(PROBE.format(width=width, record=html.escape(page.read_text(), quote=True)))
    assert CHROMIUM is not None
    shown = subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=800,900", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri(),
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    found = re.search(r'data-probe="([^"]*)"', shown.stdout)
    assert found, shown.stderr[-2000:]
    result: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return result


needs_browser = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("LABREPORT_TEST_BROWSER"),
    reason="chromium is not installed (apt-get install chromium); CI installs it and sets "
    "LABREPORT_TEST_BROWSER=1, which makes this a failure instead",
)


@needs_browser
@pytest.mark.parametrize("page", ["alpha.html", "beta.html", "index.html"])
def test_nothing_scrolls_sideways_at_phone_width(lab: Path, tmp_path: Path, page: str) -> None:
    layout = phone_layout(lab / "build" / page, tmp_path)
    assert layout["width"] == 360
    assert layout["scroll"] <= layout["width"], layout
    assert layout["wide"] == [], layout


@needs_browser
def test_the_probe_sees_a_page_that_scrolls_sideways(tmp_path: Path) -> None:
    """The check above can fail: a table wider than the phone is caught."""
    page = tmp_path / "wide.html"
    page.write_text('<table><tr><td style="white-space: nowrap">' + "wide " * 200 + "</td></tr>")
    layout = phone_layout(page, tmp_path)
    assert layout["scroll"] > layout["width"] and "td." in layout["wide"]
