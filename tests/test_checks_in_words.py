"""Issue #16, point 4: checked claims as a table of claim, measured values and verdict.

A tiny project whose program records known constants (no training) is built once through the
installed ``labreport`` script; each test reads its HTML or PDF.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader
from test_console import labreport

from labreport.checks import format_value, measured_values

from conftest import copy_project

PROGRAM = """\
from labreport.record import record

record("initial_loss", 0.5279)
record("final_loss", 6.7e-06)
record("errors", [1.0, 0.01, 0.0001, 2e-06, 3e-06, 5e-06, 8e-06, 1e-05])
record("accuracy", 0.99123456)
record("n_params", 123456)
"""

SPEC = """\
number: 7
title: Claims in words
aim: To state what the run measured.
programs:
  - code: probe.py
checks:
  - claim: Training lowers the loss by more than a factor of ten.
    expr: results.final_loss < 0.1 * results.initial_loss
  - claim: The error falls a hundredfold from the first step to the second.
    expr: 50 < results.errors[0] / results.errors[1] < 200 and results.errors[-1] > 0
  - claim: The accuracy is above 99.5 %.
    expr: results.accuracy > 0.995
  - claim: The loss falls.
    expr: results.final_loss < results["initial_loss"]
    shows: "{{ results.initial_loss }} → {{ results.final_loss }}"
  - claim: The errors are all small.
    expr: results.errors | max <= 1 and results.n_params > 0
"""


def _make(root: Path, spec: str) -> None:
    folder = root / "experiments" / "probe"
    folder.mkdir()
    (folder / "probe.py").write_text(PROGRAM, encoding="utf-8")
    (folder / "experiment.yaml").write_text(spec, encoding="utf-8")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = copy_project("mini", tmp_path_factory.mktemp("words") / "lab")
    _make(root, SPEC)
    done = labreport(root, "build", "probe")
    assert done.returncode == 0, done.stderr
    return root, done.stderr


@pytest.fixture(scope="module")
def soup(built: tuple[Path, str]) -> BeautifulSoup:
    return BeautifulSoup((built[0] / "build/probe.html").read_text(), "html.parser")


def _cells(soup: BeautifulSoup) -> list[list[str]]:
    return [
        [td.get_text(" ", strip=True) for td in row.select("td")]
        for row in soup.select("table.checks tr.check")
    ]


def test_each_check_is_a_row_of_claim_measured_values_and_verdict(soup: BeautifulSoup) -> None:
    head = [th.get_text(" ", strip=True) for th in soup.select("table.checks thead th")]
    assert head[:2] == ["Claim", "Measured"]
    rows = _cells(soup)
    assert len(rows) == 5
    claim, measured, verdict = rows[0]
    assert claim.startswith("Training lowers the loss by more than a factor of ten.")
    assert measured == "final_loss = 6.7e-6 , initial_loss = 0.5279"
    assert verdict == "✓ passed"
    assert not soup.select("ul.checks"), "no list of badges any more"


def test_an_element_read_by_index_is_shown_as_that_element(soup: BeautifulSoup) -> None:
    assert _cells(soup)[1][1] == "errors[0] = 1 , errors[1] = 0.01 , errors[-1] = 1e-5"


def test_a_whole_list_is_shortened_and_numbers_keep_four_digits(soup: BeautifulSoup) -> None:
    measured = _cells(soup)[4][1]
    assert measured == "errors = [1, 0.01, 1e-4, …, 8e-6, 1e-5] (8 values) , n_params = 123456"


def test_a_failed_check_is_marked_in_the_error_colour_and_in_words(soup: BeautifulSoup) -> None:
    row = soup.select("table.checks tr.check")[2]
    assert row["class"] == ["check", "failed"]
    assert row.select_one(".check-verdict").get_text(" ", strip=True) == "✗ failed"
    assert _cells(soup)[2][1] == "accuracy = 0.9912"
    css = soup.find("style").get_text()
    assert "tr.failed .check-verdict { color: var(--error-color)" in css
    passed = [r for r in soup.select("table.checks tr.check") if "passed" in r["class"]]
    assert len(passed) == 4


def test_a_check_may_say_what_it_shows(soup: BeautifulSoup) -> None:
    assert _cells(soup)[3][1] == "0.5279 → 6.7e-06"


def test_the_expression_is_on_hover_and_not_printed(soup: BeautifulSoup, built: tuple) -> None:
    row = soup.select("table.checks tr.check")[0]
    assert row["title"] == "results.final_loss < 0.1 * results.initial_loss"
    assert ".check-expr { display: none;" in soup.find("style").get_text()
    assert not soup.select("section.check-expressions")
    pdf = " ".join(p.extract_text() for p in PdfReader(built[0] / "build/probe.pdf").pages)
    # (the claim wraps beside its values, which text extraction interleaves: no "of ten")
    assert "lowers the loss by more than a factor of" in pdf and "initial_loss = 0.5279" in pdf
    assert "results.final_loss" not in pdf
    assert "failed" in pdf


def test_a_percent_sign_stays_with_its_number(soup: BeautifulSoup) -> None:
    claim = soup.select("table.checks tr.check")[2].select_one("td.check-claim")
    assert "99.5\u00a0%" in claim.get_text()


def test_strict_still_fails_on_the_failed_check(built: tuple[Path, str]) -> None:
    root, stderr = built
    assert "check failed: The accuracy is above 99.5" in stderr
    done = labreport(root, "build", "probe", "--strict")
    assert done.returncode != 0
    assert "1 check(s) failed under --strict" in done.stderr


def test_a_theme_can_print_the_expressions_in_an_appendix(tmp_path: Path) -> None:
    root = copy_project("mini", tmp_path / "lab")
    _make(root, SPEC)
    theme = root / "templates" / "classic"
    theme.mkdir(parents=True)
    (theme / "theme.toml").write_text(
        'shows = ["checks", "theory", "result"]\ncheck_expressions = "appendix"\n'
    )
    done = labreport(root, "build", "probe")
    assert done.returncode == 0, done.stderr
    soup = BeautifulSoup((root / "build/probe.html").read_text(), "html.parser")
    items = soup.select("section.check-expressions li")
    assert [li.select_one("code").get_text() for li in items][:2] == [
        "results.final_loss < 0.1 * results.initial_loss",
        "50 < results.errors[0] / results.errors[1] < 200 and results.errors[-1] > 0",
    ]
    pdf = " ".join(p.extract_text() for p in PdfReader(root / "build/probe.pdf").pages)
    assert "results.final_loss < 0.1" in pdf


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.52791234, "0.5279"), (6.7e-06, "6.7e-6"), (1.5e12, "1.5e12"), (12345.0, "12345"),
        (-0.000123456, "-1.235e-4"), (0.0, "0.0"), (True, "true"), (3, "3"),
        ([1, 2, 3], "[1, 2, 3]"), ("x" * 50, repr("x" * 39 + "…")),
        (list(range(10)), "[0, 1, 2, …, 8, 9] (10 values)"),
    ],
)  # fmt: skip
def test_values_are_formatted_compactly(value: object, shown: str) -> None:
    assert format_value(value) == shown


def test_values_are_listed_once_in_reading_order() -> None:
    results = {"a": 1, "b": [5, 6], "c": 2}
    expr = 'results.c > results["a"] and results.b[1] > results.c and results.b | max > 0'
    assert measured_values(expr, results) == [("c", 2), ("a", 1), ("b[1]", 6), ("b", [5, 6])]
    assert measured_values("results.b[7] > 0 or true", results) == []
    deep = "results.a " + "+ 1 " * 3000 + "> 0"
    assert measured_values(deep, results) == [("a", 1)]
