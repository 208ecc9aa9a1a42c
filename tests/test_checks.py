"""Issue 8: claims checked by the run, and LaTeX formulas in the prose."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner, Result
from pypdf import PdfReader

from labreport import formulas
from labreport.cli import cli

from conftest import copy_project


@pytest.fixture
def mini(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = copy_project("mini", tmp_path / "mini")
    monkeypatch.chdir(root)
    return root


def build(*args: str) -> Result:
    return CliRunner().invoke(cli, ["build", *args])


def add_to_alpha(root: Path, text: str) -> None:
    spec = root / "experiments/alpha/experiment.yaml"
    spec.write_text(spec.read_text() + text)


CHECKS = """checks:
  - claim: The slope is positive.
    expr: results.slope > 0
  - claim: The slope is *huge*.
    expr: results.slope > 1000
"""


def test_checks_are_shown_passed_or_failed_and_summarised(mini: Path) -> None:
    add_to_alpha(mini, CHECKS)
    result = build("alpha", "beta")
    assert result.exit_code == 0, result.output
    soup = BeautifulSoup((mini / "build/alpha.html").read_text(), "html.parser")
    checks = [(tr["class"], tr.get_text(" ", strip=True)) for tr in soup.select("tr.check")]
    assert checks == [
        (["check", "passed"], "The slope is positive. results.slope > 0 slope = 2 ✓ passed"),
        (["check", "failed"], "The slope is huge . results.slope > 1000 slope = 2 ✗ failed"),
    ]
    assert soup.select_one("tr.failed em").get_text() == "huge", "claims are Markdown"
    assert "1 check(s) failed" in result.stderr
    assert (
        "Warning: alpha: check failed: The slope is huge. (results.slope > 1000)" in result.stderr
    )
    pdf = " ".join(p.extract_text() for p in PdfReader(mini / "build/alpha.pdf").pages)
    assert "✓" in pdf and "passed" in pdf and "✗" in pdf and "failed" in pdf


def test_failed_checks_are_reported_again_while_the_record_is_up_to_date(mini: Path) -> None:
    add_to_alpha(mini, CHECKS)
    assert "1 check(s) failed" in build("alpha", "beta").stderr
    again = build("alpha", "beta")
    assert again.exit_code == 0
    assert "2 up to date, 0 failed, 1 check(s) failed" in again.stderr
    assert "Warning: alpha: check failed: The slope is huge. (results.slope > 1000)" in (
        again.stderr
    )
    spec = mini / "experiments/alpha/experiment.yaml"
    spec.write_text(spec.read_text().replace("results.slope > 1000", "results.slope > 0.5"))
    fixed = build("alpha", "beta")
    assert fixed.exit_code == 0 and "check failed" not in fixed.stderr


def test_strict_makes_a_failed_check_fail_the_build(mini: Path) -> None:
    assert build("alpha").exit_code == 0
    before = (mini / "build/alpha.html").read_bytes()
    add_to_alpha(mini, CHECKS)
    result = build("alpha", "--strict")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: alpha: 1 check(s) failed under --strict: The slope is huge. "
        "(results.slope > 1000) (fix the program or the claim in checks:, or build without "
        "--strict)"
    )
    assert (mini / "build/alpha.html").read_bytes() == before, "the last good record stays"
    assert build("alpha", "--strict").exit_code == 1, "strict is not fooled by up-to-date"


def test_strict_fails_an_up_to_date_record_that_owes_checks_without_rebuilding_it(
    mini: Path,
) -> None:
    """--strict is not an input of the record: toggling it rebuilds nothing, yet an up-to-date
    record whose checks failed still fails a --strict build, from the remembered checks."""
    add_to_alpha(mini, CHECKS)
    assert build("alpha", "beta").exit_code == 0
    outputs = sorted((mini / "build").iterdir())
    before = {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in outputs}
    strict = build("alpha", "beta", "--strict")
    assert strict.exit_code == 1
    lines = strict.stderr.strip().splitlines()
    assert re.fullmatch(
        r"Summary: 0 built \(0 program\(s\) run, 0 from cache\), 1 up to date, 1 failed, in "
        r"\d+\.\d s",
        lines[-2],
    ), lines
    assert lines[-1] == (
        "Error: alpha: 1 check(s) failed under --strict: The slope is huge. "
        "(results.slope > 1000) (fix the program or the claim in checks:, or build without "
        "--strict)"
    )
    after = {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in outputs}
    assert after == before, "nothing was rebuilt or rewritten"
    again = build("alpha", "beta")
    assert again.exit_code == 0
    assert "2 up to date, 0 failed, 1 check(s) failed" in again.stderr


def test_toggling_strict_leaves_a_record_whose_checks_hold_up_to_date(mini: Path) -> None:
    add_to_alpha(mini, "checks:\n  - claim: The slope is positive.\n    expr: results.slope > 0\n")
    assert build("alpha", "beta", "--strict").exit_code == 0
    for args in (("alpha", "beta"), ("alpha", "beta", "--strict")):
        result = build(*args)
        assert result.exit_code == 0, result.output
        assert "0 built (0 program(s) run, 0 from cache), 2 up to date, 0 failed" in (
            result.stderr
        ), args


def test_check_using_an_unrecorded_value_is_an_error_naming_it(mini: Path) -> None:
    add_to_alpha(mini, "checks:\n  - claim: x\n    expr: results.slop > 0\n")
    result = build("alpha", "--format", "html")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: experiments/alpha/experiment.yaml: checks[0].expr: uses results.slop, which no "
        "program recorded (recorded: slope)"
    )


def test_formulas_are_drawn_in_html_and_pdf(mini: Path) -> None:
    spec = mini / "experiments/alpha/experiment.yaml"
    spec.write_text(
        spec.read_text().replace(
            "theory: A straight line has a constant slope.",
            "theory: |\n  A line $y = a x + b$ has slope $a$, not $5 or $10:\n\n"
            "  $$a = \\frac{\\partial y}{\\partial x}$$\n",
        )
    )
    result = build("alpha")
    assert result.exit_code == 0, result.output
    soup = BeautifulSoup((mini / "build/alpha.html").read_text(), "html.parser")
    inline = soup.select("section.theory img.math-inline")
    assert [img["alt"] for img in inline] == ["y = a x + b", "a"]
    [display] = soup.select("section.theory img.math-display")
    assert display["alt"] == "a = \\frac{\\partial y}{\\partial x}"
    assert all(img["src"].startswith("data:image/svg+xml;base64,") for img in [*inline, display])
    assert "not $5 or $10" in soup.select_one("section.theory").get_text()
    text = " ".join(p.extract_text() for p in PdfReader(mini / "build/alpha.pdf").pages)
    assert "not $5 or $10" in text and "\\frac" not in text and "$y" not in text


def test_drawn_formulas_are_kept_and_reused_across_builds(
    mini: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = mini / "experiments/alpha/experiment.yaml"
    spec.write_text(
        spec.read_text().replace(
            "theory: A straight line has a constant slope.",
            "theory: A line $y = a x + b$ has slope $a$.",
        )
    )
    assert build("alpha", "--format", "html").exit_code == 0
    first = (mini / "build/alpha.html").read_text()
    entries = sorted((mini / ".labreport/formulas").glob("*.json"))
    assert len(entries) == 2  # one per distinct formula
    entries[0].write_text("{cut short")  # a damaged entry is drawn again, never shown

    # The next build draws only the damaged one, though the in-memory cache is empty.
    drawn: list[str] = []
    real = formulas._draw.__wrapped__
    monkeypatch.setattr(formulas, "_draw", lambda tex, d: drawn.append(tex) or real(tex, d))
    spec.write_text(spec.read_text().replace("has slope", "has the slope"))
    assert build("alpha", "--format", "html").exit_code == 0
    assert len(drawn) == 1
    second = (mini / "build/alpha.html").read_text()
    pattern = re.compile(r'<img class="math-inline"[^>]*>')
    assert pattern.findall(second) == pattern.findall(first), "same drawings, cached or not"


def test_malformed_formula_names_the_field(mini: Path) -> None:
    spec = mini / "experiments/alpha/experiment.yaml"
    spec.write_text(spec.read_text().replace("constant slope.", "slope $\\frac{a$."))
    result = build("alpha", "--format", "html")
    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert re.match(
        r"Error: experiments/alpha/experiment\.yaml: theory: cannot typeset \$\\frac\{a\$: ", last
    ), last
