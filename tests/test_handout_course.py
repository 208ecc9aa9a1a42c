"""No answer leaks into a handout: every shipped experiment's handout, built in a private copy
of the course (HTML for all, and one PDF), holds every question of its spec and no text of any
answer, result, analysis, check or caption. A handout runs no program, so this costs no run.

Text is compared with whitespace normalised and Markdown's markers dropped, whole and in
distinctive fragments (runs of :data:`WINDOW` words); a fragment that the handout may show
anyway (it is in the theory or a question too) is not held against it. A formula of an answer
is looked for in the HTML's source, where a formula's TeX could hide in an attribute.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from pypdf import PdfReader

from labreport.cli import cli
from labreport.ids import discover
from labreport.spec import Experiment, load_experiment

from conftest import REPO, copy_course, working_directory

COURSE = discover(REPO / "experiments")
PDF_EXPERIMENT = "exp10"  # worksheet, nine questions
WINDOW = 6  # words in a fragment of an answer
_MATH = re.compile(r"\$\$?(.+?)\$\$?", re.S)
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


def _plain(text: str) -> str:
    """Markdown source or page text, compared alike: no formulas, placeholders, emphasis,
    code marks or list markers; whitespace normalised."""
    text = _JINJA.sub(" ", _MATH.sub(" ", text))
    text = re.sub(r"(?m)^\s*(?:[-+]|\d+\.)\s+", " ", text)
    text = re.sub(r"[*`_\\]", "", text)
    return " ".join(text.split())


def _shown(spec: Experiment) -> str:
    """What the handout may show: the spec's text that is not an answer or a result."""
    parts = [spec.title, spec.aim, spec.theory or "", spec.description or ""]
    parts += spec.prerequisites + [q.question for q in (*spec.prelab, *spec.viva)]
    parts += [p.task or "" for p in spec.programs]
    return _plain("\n".join(parts))


def _secrets(spec: Experiment) -> Iterator[tuple[str, str]]:
    """``(field, text)`` of everything a handout must not show."""
    for group in ("prelab", "viva"):
        for i, qa in enumerate(getattr(spec, group)):
            yield f"{group}[{i}].answer", qa.answer
    yield "result", spec.result or ""
    for i, program in enumerate(spec.programs):
        for name in ("data", "result", "analysis", "inferences"):
            yield f"programs[{i}].{name}", getattr(program, name) or ""
        for j, caption in enumerate(program.figures):
            yield f"programs[{i}].figures[{j}]", caption
    for i, check in enumerate(spec.checks):
        yield f"checks[{i}].claim", check.claim
        yield f"checks[{i}].shows", check.shows or ""


def _fragments(text: str) -> list[str]:
    words = _plain(text).split()
    if len(words) <= WINDOW:
        return [" ".join(words)] if words else []
    return [" ".join(words[i : i + WINDOW]) for i in range(len(words) - WINDOW + 1)]


def _assert_nothing_leaks(spec: Experiment, text: str, source: str | None = None) -> None:
    page = _plain(text)
    allowed = _shown(spec)
    for field, secret in _secrets(spec):
        if not secret.strip():
            continue
        whole = _plain(secret)
        if whole and whole not in allowed:
            assert whole not in page, field
        checked = [f for f in _fragments(secret) if f not in allowed]
        for fragment in checked:
            assert fragment not in page, f"{field}: {fragment!r}"
        if field.endswith(".answer"):
            assert checked, f"{field}: no distinctive fragment to look for"
        if source is not None:
            for tex in _MATH.findall(secret):
                if tex.strip() and tex not in (spec.theory or "") + (spec.description or ""):
                    assert html.escape(tex.strip()) not in source, f"{field}: ${tex}$"


def _assert_every_question(spec: Experiment, text: str) -> None:
    page = _plain(text)
    questions = [qa.question for qa in (*spec.prelab, *spec.viva)]
    for question in questions:
        assert _plain(question) in page, question


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_course(tmp_path_factory.mktemp("handouts") / "course", *COURSE)
    with working_directory(root):
        result = CliRunner().invoke(cli, ["build", "--all", "--handout", "--format", "html"])
        assert result.exit_code == 0, result.output
        result = CliRunner().invoke(cli, ["build", PDF_EXPERIMENT, "--handout", "--format", "pdf"])
        assert result.exit_code == 0, result.output
    assert "Warning" not in result.output  # the handout's pages break well too
    return root


def test_the_course_has_experiments_with_questions() -> None:
    specs = [load_experiment(REPO / "experiments" / exp).spec for exp in COURSE]
    assert len(COURSE) >= 6
    assert sum(len(s.prelab) + len(s.viva) for s in specs) >= 30


@pytest.mark.parametrize("exp_id", COURSE)
def test_a_handout_has_every_question_and_no_answer_or_run(course: Path, exp_id: str) -> None:
    spec = load_experiment(course / "experiments" / exp_id).spec
    source = (course / "build" / f"{exp_id}.handout.html").read_text(encoding="utf-8")
    page = BeautifulSoup(source, "html.parser")
    text = page.get_text(" ")
    _assert_every_question(spec, text)
    _assert_nothing_leaks(spec, text, source)
    for run_part in ("pre.output", "figure", "table.checks", ".provenance", ".run-error",
                     ".check-expressions", ".no-output"):  # fmt: skip
        assert not page.select(run_part), run_part
    # Each question has its ruled space, with no answer in it.
    items = page.select("ol.questions > li")
    assert len(items) == len(spec.prelab) + len(spec.viva)
    for item, qa in zip(items, (*spec.prelab, *spec.viva), strict=True):
        space = item.select_one(".ruled.answer")
        assert space is not None and int(space["data-lines"]) == qa.lines
        assert not space.get_text().strip()
    # The course marks no listing for its handouts: no solution is given away.
    assert not page.select(".code-listing")


def test_the_pdf_handout_has_every_question_and_no_answer(course: Path) -> None:
    spec = load_experiment(course / "experiments" / PDF_EXPERIMENT).spec
    reader = PdfReader(course / "build" / f"{PDF_EXPERIMENT}.handout.pdf")
    text = "\n".join(page.extract_text() for page in reader.pages)
    _assert_every_question(spec, text)
    _assert_nothing_leaks(spec, text)
    assert "Handout:" in text and "Student Name" in text
