"""End to end: `labreport build exp5` → HTML and PDF, parsed and checked against a raw run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader
from test_page_furniture import needs_browser, phone_layout

from labreport.listing import MARK
from labreport.protocol import RESULTS_ENV

from conftest import REPO, copy_course

EXP5 = REPO / "experiments" / "exp5"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("out")
    course = copy_course(tmp_path_factory.mktemp("course"), "exp5")
    done = subprocess.run(
        [sys.executable, "-m", "labreport", "build", "exp5", "--force", "--out", str(out)],
        cwd=course / "experiments",  # any subfolder of the project works
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    # and with no warning: a page that breaks badly (labreport.pagecheck) would be one
    assert "warning" not in done.stderr, done.stderr
    assert done.stdout.splitlines() == [str(out / "exp5.html"), str(out / "exp5.pdf")]
    return {"html": out / "exp5.html", "pdf": out / "exp5.pdf"}


@pytest.fixture(scope="module")
def raw_run(tmp_path_factory: pytest.TempPathFactory) -> str:
    """What the program prints when run by hand (values recorded to a file, not printed)."""
    results = tmp_path_factory.mktemp("raw")
    env = {**os.environ, "MPLBACKEND": "Agg", RESULTS_ENV: str(results)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    folder = copy_course(tmp_path_factory.mktemp("raw_course"), "exp5") / "experiments" / "exp5"
    done = subprocess.run(
        [sys.executable, "rnn_numpy.py"], cwd=folder, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def soup(built: dict[str, Path]) -> BeautifulSoup:
    return BeautifulSoup(built["html"].read_text(encoding="utf-8"), "html.parser")


@pytest.fixture(scope="module")
def pdf(built: dict[str, Path]) -> PdfReader:
    return PdfReader(built["pdf"])


def _labels(soup: BeautifulSoup) -> list[str]:
    return [tag.get_text(strip=True) for tag in soup.select(".label")]


def test_sections_in_the_order_of_the_classic_format(soup: BeautifulSoup) -> None:
    assert soup.find("h1").get_text(strip=True) == "Experiment 5"
    assert _labels(soup) == ["Aim:", "Tools Used:", "Theory:", "Code:", "Output:", "Result:"]
    headers = [th.get_text(strip=True) for th in soup.select("table.assessment th")]
    assert headers == ["Criteria", "Total Marks", "Marks Obtained", "Comments"]
    rows = [tr.find("td").get_text(strip=True) for tr in soup.select("table.assessment tbody tr")]
    assert rows == ["Concept (A)", "Implementation (B)", "Performance (C)", "Total"]


def test_seed_text_is_present(soup: BeautifulSoup) -> None:
    text = soup.get_text(" ", strip=True)
    assert "Aim: To implement sequence prediction using RNN." in text
    assert 'RNNs maintain "memory" through feedback loops' in text
    assert "Sequence prediction using RNN has been successfully implemented." in text


def listing_source(listing: Any) -> str:
    """The program's text as a listing prints it, with its continuation marks taken out: each
    printed line ends in a newline, and a continuation starts with the indentation and "↪ "."""
    lines: list[str] = []
    for line in listing.select("span.line"):
        text = line.get_text()
        if "cont-line" in line["class"]:
            assert text.lstrip(" ").startswith(MARK + " "), text
            lines[-1] = lines[-1].removesuffix("\n") + text.lstrip(" ")[len(MARK) + 1 :]
        else:
            lines.append(text)
    return "".join(lines)


def test_code_block_is_the_program_source(soup: BeautifulSoup) -> None:
    listing = soup.select_one(".code-listing pre")
    assert listing_source(listing) == (EXP5 / "rnn_numpy.py").read_text(encoding="utf-8")
    assert listing.select("span.cont-line"), "exp5 has lines longer than a printed line"
    assert soup.select_one(".code-listing .k"), "the code is highlighted (Pygments token spans)"
    # Only tokens the style shows get a span (names and punctuation are plain text): each span
    # is an inline box WeasyPrint pays for, so the PDF of a code-heavy record takes half the time.
    classes = {c for span in soup.select(".code-listing span") for c in span.get("class", [])}
    assert not classes & {"n", "p", "w"}, classes
    assert {"k", "c1", "mi"} <= classes, classes  # keywords, comments, numbers


def test_output_block_equals_what_the_program_printed(soup: BeautifulSoup, raw_run: str) -> None:
    assert soup.select_one("pre.output").get_text() == raw_run
    assert "Output at timestep 0: [[" in raw_run


def test_gradient_check_and_training(raw_run: str) -> None:
    error = float(re.search(r"max relative error = ([0-9.e+-]+)", raw_run).group(1))
    assert error < 1e-6
    initial = float(re.search(r"Initial training loss \(MSE\): ([0-9.e+-]+)", raw_run).group(1))
    final = float(re.search(r"Final training loss \(MSE\):\s+([0-9.e+-]+)", raw_run).group(1))
    assert final < initial / 100


def test_result_states_the_measured_values(soup: BeautifulSoup, raw_run: str) -> None:
    result = " ".join(soup.select_one("section.result").get_text(" ").split())
    error = re.search(r"max relative error = ([0-9.e+-]+)", raw_run).group(1)
    assert f"relative error of {float(error):.1e}" in result


def test_figures_inline_numbered_and_captioned(soup: BeautifulSoup) -> None:
    figures = soup.select("figure.run-figure")
    assert len(figures) == 2
    for number, figure in enumerate(figures, start=1):
        assert figure.find("img")["src"].startswith("data:image/svg+xml;base64,")
        assert figure.figcaption.get_text(strip=True).startswith(f"Figure {number}:")


def test_html_is_self_contained(soup: BeautifulSoup) -> None:
    assert not soup.select("link[rel=stylesheet]"), "CSS must be inline"
    assert not soup.select("script")
    for tag in soup.select("[src]"):
        assert tag["src"].startswith("data:")


def test_pdf_pages_carry_the_running_title_and_page_number(pdf: PdfReader) -> None:
    assert len(pdf.pages) >= 2
    for number, page in enumerate(pdf.pages, start=1):
        text = page.extract_text()
        # The margin boxes come out as one line, as in the seed's extraction ("Experiment 5 2").
        assert re.search(rf"(?m)^Experiment 5 {number}$", text), f"page {number}: {text[-80:]!r}"


def test_pdf_has_every_section_and_both_figures(pdf: PdfReader) -> None:
    text = "\n".join(page.extract_text() for page in pdf.pages)
    for label in ("Aim:", "Tools Used:", "Theory:", "Code:", "Output:", "Result:", "Criteria"):
        assert label in text
    assert "Output at timestep 4:" in text
    assert "Figure 1:" in text and "Figure 2:" in text


def test_pdf_metadata_and_embedded_fonts(pdf: PdfReader) -> None:
    assert pdf.metadata.title == "Experiment 5: Sequence prediction using RNN"
    fonts = {}
    for page in pdf.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = (
                font.get("/FontDescriptor")
                or font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
            )
            descriptor = descriptor.get_object()
            fonts[font["/BaseFont"]] = any(
                key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")
            )
    assert fonts and all(fonts.values()), fonts


def test_theory_states_the_equations_and_the_checks_pass(soup: BeautifulSoup) -> None:
    formulas = [img["alt"] for img in soup.select("section.theory img.math-display")]
    # the state and output updates as one block, aligned on their = signs
    assert formulas[0] == (
        "\\begin{aligned} h_t &= \\tanh(W_{xh} x_t + W_{hh} h_{t-1} + b_h) \\\\ "
        "y_t &= W_{hy} h_t + b_y \\end{aligned}"
    )
    assert len(formulas) == 2
    checks = soup.select("section.result tr.check")
    assert len(checks) == 2 and all("passed" in li["class"] for li in checks)


@needs_browser
def test_nothing_scrolls_sideways_at_phone_width(built: dict[str, Path], tmp_path: Path) -> None:
    """The course's record at 360 px in a real browser: its checks table, formulas and
    listing stay within the screen or scroll in their own box (#16 point 7)."""
    layout = phone_layout(built["html"], tmp_path)
    assert layout["scroll"] <= layout["width"] and layout["wide"] == [], layout
