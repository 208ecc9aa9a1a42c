"""``labreport build --handout``: what a student gets before the lab, from the record's spec.

One tiny project (tests/projects/handout), built once: ``cl`` (classic, standard-library programs)
as a record and as a handout, ``ws`` (worksheet) as a handout only, since its programs import a
module that is not installed: a handout runs nothing, so it is made all the same. The shipped
course's handouts are checked for leaked answers in tests/test_handout_course.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from labreport.cli import cli
from labreport.skeleton import SkeletonError, hidden_regions, skeleton_source

from conftest import copy_project, working_directory

SCRIPT = Path(sys.executable).with_name("labreport")


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user runs it."""
    return subprocess.run(
        [str(SCRIPT), *args], cwd=root, capture_output=True, text=True, timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip


def _invoke(root: Path, *args: str) -> tuple[int, str]:
    with working_directory(root):
        result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def _cache_entries(root: Path) -> list[Path]:
    cache = root / ".labreport" / "cache"
    return sorted(p for p in cache.rglob("*") if p.is_file()) if cache.is_dir() else []


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = copy_project("handout", tmp_path_factory.mktemp("handout") / "project")
    record = _invoke(root, "build", "cl", "--format", "html", "-q")
    cached = _cache_entries(root)
    handouts = _run(root, "build", "--all", "--handout", "--format", "html")  # as a user does
    failing = _invoke(root, "build", "ws", "--format", "html", "--fresh", "-q")
    return {
        "root": root, "record": record, "handouts": handouts, "failing": failing,
        "cached_before": cached, "cached_after": _cache_entries(root),
    }  # fmt: skip


def _page(built: dict[str, object], name: str) -> BeautifulSoup:
    root = built["root"]
    assert isinstance(root, Path)
    return BeautifulSoup((root / "build" / name).read_text(encoding="utf-8"), "html.parser")


def _text(page: BeautifulSoup) -> str:
    return " ".join(page.get_text(" ").split())


def test_a_handout_runs_nothing_where_the_programs_cannot_run(built: dict[str, object]) -> None:
    handouts, (code, output) = built["handouts"], built["failing"]  # type: ignore[misc]
    assert isinstance(handouts, subprocess.CompletedProcess)
    assert handouts.returncode == 0, handouts.stderr
    assert "Traceback" not in handouts.stderr
    assert "running" not in handouts.stderr  # no program started
    written = handouts.stdout.split()
    assert written == ["build/cl.handout.html", "build/ws.handout.html"]
    # The same programs fail as soon as a record's build runs them: the module is missing.
    assert code == 1
    assert "ModuleNotFoundError" in output
    assert "handout_test_module_that_is_not_installed" in output
    # Nor did the handout read or fill the run cache.
    assert built["cached_after"] == built["cached_before"]


def test_the_record_and_the_handout_sit_side_by_side(built: dict[str, object]) -> None:
    assert built["record"] == (0, "build/cl.html\n")
    root = built["root"]
    assert isinstance(root, Path)
    assert sorted(p.name for p in (root / "build").iterdir()) == [
        "cl.handout.html", "cl.html", "ws.handout.html",
    ]  # fmt: skip
    assert "PRODUCT=6170" in _text(_page(built, "cl.html"))  # what the run printed


def test_the_classic_handout_shows_no_output_result_check_or_mark(
    built: dict[str, object],
) -> None:
    page = _page(built, "cl.handout.html")
    text = _text(page)
    assert page.title is not None and page.title.text == "Experiment 4: Products (handout)"
    assert "Handout:" in text and "Multiplication is repeated addition." in text
    for leaked in ("PRODUCT=6170", "6170", "CL-RESULT-PROSE", "CL-CHECK-CLAIM", "CL-COMMENT",
                   "7.5", "CL-HELPER-PRINTED", "CL-HELPER-SOURCE"):  # fmt: skip
        assert leaked not in text, leaked
    for absent in ("pre.output", "figure", "table.checks", ".provenance", ".run-error"):
        assert not page.select(absent), absent
    # handout: listing lists the program; skeleton: FILE lists that file in its place
    listings = page.select(".code-listing")
    assert [div["data-program"] for div in listings] == ["product.py", "helper.py"]
    assert "product = 1234 * 5" in " ".join(listings[0].get_text().split())
    assert "CL-HELPER-START: print the two words" in listings[1].get_text()
    assert [int(r["data-lines"]) for r in page.select(".ruled")] == [6, 6, 3]
    assessment = page.select_one("table.assessment")
    assert assessment is not None and "Concept (A)" in assessment.get_text()


def test_the_worksheet_handout_has_questions_with_space_and_no_answers(
    built: dict[str, object],
) -> None:
    page = _page(built, "ws.handout.html")
    text = _text(page)
    leaks = ("WS-PRELAB", "pi times four", "The number pi", "WS-VIVA", "WS-DATA", "WS-RESULT",
             "WS-ANALYSIS", "WS-INFERENCES", "WS-FIGURE", "WS-CHECK", "AREA=12", "12.566",
             "WS-SOLUTION", "WS-POST-SOLUTION", "# handout:")  # fmt: skip
    for leaked in leaks:
        assert leaked not in text, leaked
    questions = [" ".join(q.get_text().split()) for q in page.select("ol.questions .question")]
    assert questions == [
        "What is the area of a circle of radius 2?", "Which constant appears in it?",
        "Why does the area grow with the square of the radius?",
    ]  # fmt: skip
    # each question with ruled space as long as its spec's lines: (4 by default)
    spaces = [li.select_one(".ruled.answer") for li in page.select("ol.questions > li")]
    assert [int(s["data-lines"]) for s in spaces if s is not None] == [4, 2, 6]
    assert all(not s.select(".answer p") for s in spaces if s is not None)
    # the page furniture of the record: the student's details
    header = page.select_one(".page-header")
    assert header is not None and "Test Student" in header.get_text()
    assert page.select_one("section.closing") is not None  # the evaluator's block
    for absent in ("pre.output", "figure", "section.checks", ".provenance"):
        assert not page.select(absent), absent
    # handout: none (the default) lists nothing of extra.py, and leaves space to write it
    assert "WS-EXTRA-SOURCE" not in text
    extra = page.select("article.program")[1]
    assert "Print something extra." in extra.get_text()
    procedure = extra.select_one(".procedure")
    assert procedure is not None and not procedure.select(".code-listing")
    assert procedure.select_one(".ruled")["data-lines"] == "8"  # type: ignore[index]


def test_a_skeleton_replaces_the_marked_region_or_lists_its_own_file(
    built: dict[str, object],
) -> None:
    page = _page(built, "ws.handout.html")
    solve, post = (" ".join(div.get_text().split()) for div in page.select(".code-listing"))
    assert "def area(r): ... # compute the area from r area_value = area(2)" in solve
    assert "squared" not in solve
    assert "WS-SKELETON-FILE: four thirds pi r cubed" in post
    assert "volume" in post and "4 / 3" not in post


def test_handout_and_record_are_up_to_date_each_on_its_own(built: dict[str, object]) -> None:
    root = built["root"]
    assert isinstance(root, Path)
    code, output = _invoke(root, "build", "cl", "--handout", "--format", "html")
    assert code == 0 and "up to date" in output
    code, output = _invoke(root, "build", "cl", "--format", "html")
    assert code == 0 and "up to date" in output  # the handout's build left the record alone
    # A skeleton file is no input of any run: editing it re-renders, re-runs nothing.
    (root / "experiments" / "cl" / "helper_start.py").write_text("# CL-HELPER-START, edited\n")
    code, output = _invoke(root, "build", "cl", "--format", "html")
    assert code == 0 and "built in" in output and "(0 runs, 2 from cache)" in output, output
    code, output = _invoke(root, "build", "cl", "--handout", "--format", "html")
    assert code == 0 and "built in" in output, output
    assert "CL-HELPER-START, edited" in _text(_page(built, "cl.handout.html"))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ((("    handout: skeleton\n", "    handout: skeleton\n    skeleton: gone.py\n"),),
         "programs[0].skeleton: no such file 'gone.py'"),
        ((("    skeleton: post_skeleton.py\n",
           "    skeleton: post_skeleton.py\n    handout: listing\n"),),
         "programs[2].skeleton: a skeleton file is listed only with handout: skeleton"),
        ((("    handout: skeleton\n", "    handout: listing\n    show: none\n"),),
         "programs[0].handout: listing, but show: none lists no line"),
        ((("    handout: skeleton\n", "    handout: sketch\n"),),
         "programs[0].handout: input should be 'listing', 'skeleton' or 'none'"),
    ],
)  # fmt: skip
def test_validate_checks_the_handout_fields(
    tmp_path: Path, edit: tuple[tuple[str, str], ...], message: str
) -> None:
    root = copy_project("handout", tmp_path / "project")
    spec = root / "experiments" / "ws" / "experiment.yaml"
    text = spec.read_text(encoding="utf-8")
    for old, new in edit:
        assert old in text
        text = text.replace(old, new)
    spec.write_text(text, encoding="utf-8")
    code, output = _invoke(root, "validate", "ws")
    assert code == 2, output
    assert message in output


def test_unpaired_markers_are_named_by_file_and_line(tmp_path: Path) -> None:
    root = copy_project("handout", tmp_path / "project")
    program = root / "experiments" / "ws" / "solve.py"
    program.write_text(program.read_text().replace("    # handout: end\n", ""), encoding="utf-8")
    code, output = _invoke(root, "build", "ws", "--handout")
    assert code == 2
    assert output.strip().splitlines()[-1] == (
        "Error: experiments/ws/solve.py:5: programs[0].handout: the region opened at line 5 "
        "is never closed (mark each part to leave out with a line '# handout: hide' before it "
        "and '# handout: end' after it)"
    )
    assert not (root / "build").exists()


def test_a_recorded_value_in_the_theory_cannot_be_in_a_handout(tmp_path: Path) -> None:
    root = copy_project("handout", tmp_path / "project")
    spec = root / "experiments" / "ws" / "experiment.yaml"
    text = spec.read_text(encoding="utf-8")
    text = text.replace("theory: The area", "theory: >-\n  {{ results.area_value }} The area")
    spec.write_text(text, encoding="utf-8")
    code, output = _invoke(root, "build", "ws", "--handout", "--format", "html")
    assert code == 1
    assert output.strip().splitlines()[-1] == (
        "Error: experiments/ws/experiment.yaml: theory: uses results.area_value: a handout is "
        "made before any program runs, so it has no recorded values (write the value into the "
        "text, or move the sentence to result:, or a program's data: or analysis:, which the "
        "handout leaves out)"
    )


def test_a_theme_without_a_handout_says_how_to_add_one(tmp_path: Path) -> None:
    root = copy_project("handout", tmp_path / "project")
    mine = root / "templates" / "mine"
    mine.mkdir(parents=True)
    (mine / "record.html").write_text('{% extends "builtin/classic/record.html" %}\n')
    code, output = _invoke(root, "build", "cl", "--handout", "--theme", "mine", "-q")
    assert code == 1
    assert "the theme 'mine' has no handout.html" in output
    assert '{% extends "builtin/classic/handout.html" %}' in output
    # one line added makes it, in the look of the theme's own record.html
    (mine / "record.html").write_text(
        '{% extends "builtin/classic/record.html" %}\n'
        "{% block after_record %}<p class=mine>MINE-FOOTER</p>{% endblock %}\n"
    )
    (mine / "handout.html").write_text('{% extends "builtin/classic/handout.html" %}\n')
    code, output = _invoke(root, "build", "cl", "--handout", "--theme", "mine", "--format", "html")
    assert code == 0, output
    page = BeautifulSoup((root / "build" / "cl.handout.html").read_text(), "html.parser")
    assert "MINE-FOOTER" in page.get_text() and not page.select("pre.output")


def test_the_schema_describes_the_handout_fields(tmp_path: Path) -> None:
    root = copy_project("handout", tmp_path / "project")
    code, output = _invoke(root, "schema")
    assert code == 0
    defs = json.loads(output)["$defs"]
    handout = defs["Program"]["properties"]["handout"]
    assert {"listing", "skeleton", "none"} <= set(re.findall(r"\w+", json.dumps(handout)))
    assert "skeleton" in defs["Program"]["properties"]
    assert defs["QA"]["properties"]["lines"]["default"] == 4


# ------------------------------------------------------------------ the skeleton, as text

_SOLUTION = """\
def f(x):
    # handout: hide
    y = x + 1
    return y
    # handout: end

class A:
        # handout: hide the constructor
        def __init__(self): pass
        # handout: end
"""


def test_each_region_becomes_one_line_at_its_indentation() -> None:
    skeleton = skeleton_source(_SOLUTION)
    assert skeleton == (
        "def f(x):\n    ...  # your code here\n\nclass A:\n        ...  # the constructor\n"
    )
    compile(skeleton, "skeleton", "exec")  # still Python


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("# handout: end\n", 1, "'# handout: end' without a '# handout: hide' before it"),
        ("# handout: hide\n# handout: hide\n", 2, "inside the region opened at line 1"),
        ("x = 1\n# handout: hide\n", 2, "the region opened at line 2 is never closed"),
        ("# handout: hidden\n", 1, "is not a handout marker"),
    ],
)
def test_markers_that_do_not_pair_up_are_refused(text: str, line: int, what: str) -> None:
    with pytest.raises(SkeletonError) as caught:
        hidden_regions(text)
    assert caught.value.line == line
    assert what in caught.value.what
