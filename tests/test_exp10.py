"""End to end: `labreport build exp10` (PyTorch, worksheet) → HTML and PDF with measured prose."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader
from test_exp5 import listing_source
from test_page_furniture import needs_browser, phone_layout

from labreport.spec import load_experiment

from conftest import REPO, copy_course

pytestmark = pytest.mark.slow
SPEC = load_experiment(REPO / "experiments" / "exp10").spec


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("out")
    course = copy_course(tmp_path_factory.mktemp("course"), "exp10")
    done = subprocess.run(
        [sys.executable, "-m", "labreport", "build", "exp10", "--force", "--out", str(out)],
        cwd=course,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    # and with no warning: a page that breaks badly (labreport.pagecheck) would be one
    assert "warning" not in done.stderr, done.stderr
    return {"html": out / "exp10.html", "pdf": out / "exp10.pdf"}


@pytest.fixture(scope="module")
def soup(built: dict[str, Path]) -> BeautifulSoup:
    return BeautifulSoup(built["html"].read_text(encoding="utf-8"), "html.parser")


@pytest.fixture(scope="module")
def pages(built: dict[str, Path]) -> list[str]:
    return [page.extract_text() for page in PdfReader(built["pdf"]).pages]


def _text(tag: object) -> str:
    return " ".join(tag.get_text(" ").split())  # type: ignore[attr-defined]


def _program(soup: BeautifulSoup, part: str) -> BeautifulSoup:
    return soup.select_one(f"section.{part} article.program")


def test_every_page_carries_header_and_footer_with_its_number(pages: list[str]) -> None:
    assert len(pages) >= 5
    for number, text in enumerate(pages, start=1):
        for label in ("Experiment #", "Student ID", "Date", "Student Name"):
            assert label in text, f"page {number} lacks {label!r}"
        assert "Course Title DEEP LEARNING" in text
        assert "Course Code(s) 23AD2205R/A" in text
        assert "ACADEMIC YEAR: 2024-25" in text
        assert re.findall(r"Page (\d+)", text) == [str(number)]


def test_blocks_in_the_order_of_the_worksheet_format(pages: list[str]) -> None:
    text = " ".join("\n".join(pages).split())
    labels = [
        "Experiment 10: Recurrent Neural networks with Pytorch",
        "Aim/Objective:",
        "Description:",
        "Theory:",
        "Pre-Requisites:",
        "Pre-Lab:",
        "In-Lab:",
        "Program 1:",
        "Procedure/Program:",
        "Data and Results:",
        "Analysis and Inferences:",
        "Sample VIVA-VOCE Questions (In-Lab):",
        "Post-Lab:",
        "Claims Checked by the Run:",
        "Evaluator Remark (if Any):",
        "Signature of the Evaluator with Date",
        "Evaluator MUST ask Viva-voce prior to signing and posting marks for each experiment.",
    ]
    positions = [text.index(label) for label in labels]
    assert positions == sorted(positions)
    assert re.search(r"Marks Secured\s+out of 50", text)


def test_question_counts_match_the_spec(soup: BeautifulSoup) -> None:
    assert len(soup.select("ol.prelab > li")) == len(SPEC.prelab) == 4
    assert len(soup.select("ol.viva > li")) == len(SPEC.viva) == 5
    first_answer = soup.select_one("ol.prelab > li .answer")
    assert len(first_answer.select("li")) == 5, "a Markdown list answer renders as a list"


def test_both_programs_have_code_output_and_figures(soup: BeautifulSoup, pages: list[str]) -> None:
    for part, code in (("inlab", "rnn_sine.py"), ("postlab", "rnn_vs_lstm.py")):
        program = _program(soup, part)
        listing = listing_source(program.select_one(".code-listing pre"))
        assert listing == (REPO / "experiments" / "exp10" / code).read_text(encoding="utf-8")
        assert program.select_one("pre.output").get_text().strip()
        assert program.select("figure.run-figure img")
    text = "\n".join(pages)
    assert "Figure 1:" in text and "Figure 2:" in text


def test_inlab_result_states_the_printed_test_mse(soup: BeautifulSoup) -> None:
    program = _program(soup, "inlab")
    output = program.select_one("pre.output").get_text()
    printed = re.search(r"Test MSE: ([0-9.]+)", output).group(1)
    epochs = re.findall(r"Epoch (\d+), Loss: ([0-9.]+)", output)
    assert [int(e) for e, _ in epochs[:10]] == list(range(0, 100, 10))
    block = _text(program.select_one(".data-results"))
    assert f"test windows is {float(printed):.4f}" in block


def test_postlab_result_states_the_printed_mses(soup: BeautifulSoup) -> None:
    program = _program(soup, "postlab")
    output = program.select_one("pre.output").get_text()
    means = {}
    for model in ("RNN", "LSTM"):
        row = re.search(rf"(?m)^{model}\s+(.*)$", output).group(1).split()
        means[model] = float(row[-2])  # columns: seed 0, seed 1, seed 2, mean, std
    block = _text(program.select_one(".data-results"))
    assert f"{means['LSTM']:.4f}" in block and f"{means['RNN']:.4f}" in block
    if means["LSTM"] < means["RNN"]:
        assert "LSTM outperforms RNN with lower mean squared error (MSE)" in block
    else:
        assert "did not outperform" in block


def test_theory_states_rnn_and_lstm_equations_and_every_check_passes(soup: BeautifulSoup) -> None:
    formulas = [img["alt"] for img in soup.select("section.theory img.math-display")]
    assert formulas[0].startswith("h_t = \\tanh(W_{ih} x_t")
    (gates,) = [f for f in formulas if f.startswith("\\begin{aligned} f_t &= \\sigma")]
    assert "c_t &= f_t \\odot c_{t-1} + i_t \\odot \\tilde{c}_t" in gates
    checks = soup.select("section.checks tr.check")
    assert len(checks) == 4
    assert [li["class"] for li in checks] == [["check", "passed"]] * 4


@needs_browser
def test_nothing_scrolls_sideways_at_phone_width(built: dict[str, Path], tmp_path: Path) -> None:
    """The course's record at 360 px in a real browser: its checks table, formulas and
    listing stay within the screen or scroll in their own box (#16 point 7)."""
    layout = phone_layout(built["html"], tmp_path)
    assert layout["scroll"] <= layout["width"] and layout["wide"] == [], layout
