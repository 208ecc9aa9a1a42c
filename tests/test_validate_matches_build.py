"""`labreport validate` finds every authoring mistake that `build` would reject, and says it in
the same words: the file (and line where there is one), the field and the fix. Each row below is
mistake, each in its own experiment (a copy of the mini project's alpha) of one project, so that
one validate and one build cover them all; validate runs nothing, build runs the programs."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from test_console import SCRIPT

from conftest import copy_project

Mistake = Callable[[Path, str], None]  # applied to the project, for experiment ``exp``


def spec_of(exp: str) -> str:
    return f"experiments/{exp}/experiment.yaml"


def theme_of(exp: str) -> str:
    return f"templates/{exp}-theme/record.html"


def edit(old: str, new: str) -> Mistake:
    def apply(root: Path, exp: str) -> None:
        file = root / spec_of(exp)
        text = file.read_text()
        assert old in text, (old, exp)
        file.write_text(text.replace(old, new, 1))

    return apply


def append(text: str) -> Mistake:
    def apply(root: Path, exp: str) -> None:
        file = root / spec_of(exp)
        file.write_text(file.read_text() + text)

    return apply


def themed(body: str) -> Mistake:
    """A theme of the experiment's own that overrides the aim block with ``body``."""

    def apply(root: Path, exp: str) -> None:
        file = root / theme_of(exp)
        file.parent.mkdir(parents=True)
        file.write_text('{% extends "builtin/classic/record.html" %}\n' + body + "\n")
        append(f"theme: {exp}-theme\n")(root, exp)

    return apply


# (name, mistake, what both must say, given the experiment's id)
MISTAKES: list[tuple[str, Mistake, Callable[[str], str]]] = [
    ("yaml syntax", edit("aim: To draw a line.", "aim: [To draw a line."),
     lambda e: f"{spec_of(e)}:"),
    ("unknown key", edit("theory:", "theroy:"),
     lambda e: f"{spec_of(e)}:4: theroy: unknown key; did you mean"),
    ("wrong type", edit("number: 1", "number: one"), lambda e: f"{spec_of(e)}:1: number: "),
    ("missing field", edit("aim: To draw a line.\n", ""),
     lambda e: f"{spec_of(e)}:1: aim: required field"),
    ("missing program", edit("code: line.py", "code: lines.py"),
     lambda e: f"{spec_of(e)}: programs[0].code: no such file 'lines.py' in {e}/"),
    ("program outside", edit("code: line.py", "code: ../beta/x.py"),
     lambda e: f"{spec_of(e)}: programs[0].code: '../beta/x.py' must be a path inside"),
    ("unknown theme", append("theme: fancy\n"),
     lambda e: f"{spec_of(e)}: theme: unknown theme 'fancy'"),
    ("prose syntax", edit("The slope is {{ results.slope }}.", "The slope is {{ results.slope ."),
     lambda e: f"{spec_of(e)}: result: line 1 of the text: "),
    ("unrecorded value", edit("{{ results.slope }}", "{{ results.slop }}"),
     lambda e: f"{spec_of(e)}: result: uses results.slop, which no program recorded"),
    ("unrecorded value through round", edit("{{ results.slope }}", "{{ results.mae | round(4) }}"),
     lambda e: f"{spec_of(e)}: result: uses results.mae, which no program recorded"),
    ("check syntax", append("checks:\n  - claim: Rises.\n    expr: (results.slope > 0\n"),
     lambda e: f"{spec_of(e)}: checks[0].expr: "),
    ("check over an unrecorded value",
     append("checks:\n  - claim: Rises.\n    expr: results.rise > 0\n"),
     lambda e: f"{spec_of(e)}: checks[0].expr: uses results.rise, which no program recorded"),
    ("bad formula", edit("A straight line has a constant slope.", r"'Slope: $\frac{1}{$.'"),
     lambda e: f"{spec_of(e)}: theory: "),
    ("missing picture", edit("A straight line has a constant slope.", "'![A line](line.png)'"),
     lambda e: f"{spec_of(e)}: theory: picture 'line.png' not found in {e}/"),
    ("link outside", edit("A straight line has a constant slope.", "'[the key](../../key)'"),
     lambda e: f"{spec_of(e)}: theory: link '../../key' is outside the experiment folder"),
    ("template syntax", themed("{% block aim %}{{ aim }{% endblock %}"),
     lambda e: f"{theme_of(e)}:2: template syntax error: unexpected '}}'"),
    ("missing include", themed('{% block aim %}{% include "classic/logo.html" %}{% endblock %}'),
     lambda e: f"{theme_of(e)}:2: template not found: classic/logo.html"),
    ("missing asset",
     themed("{% block aim %}<img src=\"{{ asset('classic/logo.png') }}\">{% endblock %}"),
     lambda e: f"{theme_of(e)}:2: asset 'classic/logo.png' not found"),
]  # fmt: skip
IDS = [f"m{i:02d}" for i in range(len(MISTAKES))]


def labreport(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], cwd=root, capture_output=True, text=True, timeout=300
    )


def errors(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in done.stderr, done.stderr
    return [line.removeprefix("Error: ") for line in done.stderr.splitlines()
            if line.startswith("Error: ")]  # fmt: skip


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], list[str]]:
    """One project with one experiment per mistake: what validate and build each said."""
    root = copy_project("mini", tmp_path_factory.mktemp("mistakes") / "mini")
    experiments = root / "experiments"
    for exp, (_, mistake, _) in zip(IDS, MISTAKES, strict=True):
        shutil.copytree(experiments / "alpha", experiments / exp)
        mistake(root, exp)
    checked = labreport(root, "validate", *IDS)
    assert checked.returncode == 2, checked.stderr  # the worst of them: spec errors
    built = labreport(root, "build", *IDS, "--format", "html", "-j", "2")
    assert built.returncode == 2, built.stderr
    assert not list((root / "build").glob("m*.html")), "every one of them was rejected"
    return errors(checked), errors(built)


CASES = [(exp, said(exp)) for exp, (_, _, said) in zip(IDS, MISTAKES, strict=True)]


@pytest.mark.parametrize(("exp", "said"), CASES, ids=[name for name, *_ in MISTAKES])
def test_validate_reports_what_build_rejects_in_the_same_words(
    reports: tuple[list[str], list[str]], exp: str, said: str
) -> None:
    checked, built = reports
    found = [line for line in checked if line.startswith(said)]
    assert found, (said, checked)
    # The build names the experiment first where the file does not already say it.
    assert any(found[0] in line for line in built), (found[0], built)


def test_the_table_covers_at_least_fifteen_mistakes() -> None:
    assert len({name for name, *_ in MISTAKES}) >= 15
