"""Nothing the author writes is lost: pictures in the prose are embedded (or an error names the
field), and a field the theme has no place for is a warning from validate and build."""

from __future__ import annotations

import base64
import subprocess
import tomllib
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader
from test_console import SCRIPT

from conftest import copy_project

# A 2x2 PNG, red and blue: small enough to read here, real enough for WeasyPrint to draw.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAAmHgIBVVwS"
    "UQAAAABJRU5ErkJggg=="
)


def labreport(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], cwd=root, capture_output=True, text=True, timeout=300
    )


def with_theory(root: Path, theory: str) -> None:
    spec = root / "experiments/alpha/experiment.yaml"
    text = spec.read_text().replace(
        "theory: A straight line has a constant slope.", f"theory: {theory}"
    )
    spec.write_text(text)


@pytest.fixture(scope="module")
def pictured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project("mini", tmp_path_factory.mktemp("pictures") / "mini")
    (root / "experiments/alpha/cell.png").write_bytes(PNG)
    with_theory(root, "'A cell: ![An RNN cell](cell.png)'")
    built = labreport(root, "build", "alpha")
    assert built.returncode == 0, built.stderr
    return root


def test_a_picture_in_the_theory_is_embedded_in_the_html_and_drawn_in_the_pdf(
    pictured: Path,
) -> None:
    soup = BeautifulSoup((pictured / "build/alpha.html").read_text(), "html.parser")
    img = soup.select_one("section.theory img")
    assert img is not None and img["alt"] == "An RNN cell"
    assert img["src"] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    (page,) = PdfReader(pictured / "build/alpha.pdf").pages[:1]
    assert len(page.images) == 1  # the picture, drawn from the embedded bytes


@pytest.mark.parametrize(
    ("src", "what", "fix"),
    [
        ("gru.png", "picture 'gru.png' not found in alpha/", "put the file in alpha/, or correct"),
        ("../../labreport.toml", "picture '../../labreport.toml' is outside the experiment "
         "folder", "copy it into alpha/"),
    ],
)  # fmt: skip
def test_a_missing_or_outside_picture_is_the_same_error_in_validate_and_build(
    pictured: Path, tmp_path: Path, src: str, what: str, fix: str
) -> None:
    root = copy_project("mini", tmp_path / "mini")
    with_theory(root, f"'![A GRU cell]({src})'")
    expected = f"experiments/alpha/experiment.yaml: theory: {what} ({fix}"
    checked = labreport(root, "validate", "alpha")
    assert checked.returncode == 1
    assert checked.stderr.splitlines()[0].startswith(f"Error: {expected}"), checked.stderr
    built = labreport(root, "build", "alpha", "--format", "html")
    assert built.returncode == 1
    errors = [line for line in built.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [checked.stderr.splitlines()[0]]  # the same words, the same place
    assert not (root / "build/alpha.html").exists()


def test_a_picture_from_the_web_is_left_as_a_link(tmp_path: Path) -> None:
    root = copy_project("mini", tmp_path / "mini")
    with_theory(root, "'![A cell](https://example.org/cell.png)'")
    built = labreport(root, "build", "alpha", "--format", "html")
    assert built.returncode == 0, built.stderr
    soup = BeautifulSoup((root / "build/alpha.html").read_text(), "html.parser")
    assert soup.select_one("section.theory img")["src"] == "https://example.org/cell.png"


VIVA = """viva:
  - question: Why does the slope stay constant?
    answer: Because the points lie on a line.
"""


def test_a_field_the_theme_does_not_show_is_a_warning_in_validate_and_build(
    tmp_path: Path,
) -> None:
    root = copy_project("mini", tmp_path / "mini")
    spec = root / "experiments/alpha/experiment.yaml"  # classic: FORMAT §1 has no viva
    spec.write_text(spec.read_text() + VIVA)
    warning = (
        "experiments/alpha/experiment.yaml: viva: the classic theme has no place for it, so "
        "the record does not show it (choose a theme that shows it, or remove it)"
    )
    checked = labreport(root, "validate", "alpha")
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.splitlines() == [f"Warning: {warning}"]
    built = labreport(root, "build", "alpha", "--format", "html")
    assert built.returncode == 0, built.stderr
    assert f"alpha: warning: {warning}" in built.stderr.splitlines()
    # The worksheet has a place for the viva (the answer is in the record), but none for the
    # experiment's result: sentence, which the classic theme showed.
    themed = labreport(root, "build", "alpha", "--format", "html", "--theme", "worksheet")
    assert themed.returncode == 0, themed.stderr
    assert [line for line in themed.stderr.splitlines() if "warning" in line] == [
        "alpha: warning: experiments/alpha/experiment.yaml: result: the worksheet theme has no "
        "place for it, so the record does not show it (choose a theme that shows it, or remove it)"
    ]
    assert "Because the points lie on a line." in (root / "build/alpha.html").read_text()


def test_every_themed_field_is_claimed_truthfully_by_the_built_in_themes(tmp_path: Path) -> None:
    """Fill every optional field with a marker; each theme must show exactly the markers of
    the fields its theme.toml says it shows."""
    from labreport.spec import THEMED_FIELDS
    from labreport.themes import builtin_templates_dir

    root = copy_project("mini", tmp_path / "mini")
    spec = root / "experiments/alpha/experiment.yaml"
    spec.write_text(FULL_SPEC)
    for theme in ("classic", "worksheet"):
        shows = tomllib.loads((builtin_templates_dir() / theme / "theme.toml").read_text())
        built = labreport(root, "build", "alpha", "--format", "html", "--theme", theme)
        assert built.returncode == 0, built.stderr
        page = (root / "build/alpha.html").read_text()
        for field in THEMED_FIELDS:
            marker = "M" + field.replace("programs.", "P").upper()
            marker = "4242" if field == "marks_out_of" else marker
            assert (marker in page) == (field in shows["shows"]), (theme, field)


FULL_SPEC = """number: 1
title: Every field
aim: To show every field.
tools: [MTOOLS]
theory: MTHEORY
description: MDESCRIPTION
prerequisites: [MPREREQUISITES]
prelab:
  - question: MPRELAB?
    answer: "yes"
viva:
  - question: MVIVA?
    answer: "yes"
result: MRESULT
checks:
  - claim: MCHECKS
    expr: results.slope > 0
rubric:
  - criterion: MRUBRIC
date: MDATE
course:
  title: MCOURSE
marks_out_of: 4242
programs:
  - code: line.py
    task: MPTASK
    data: MPDATA
    result: MPRESULT
    analysis: MPANALYSIS
    inferences: MPINFERENCES
"""
