"""`labreport validate` finds every authoring mistake that `build` would reject, and says it in
the same words: the file (and line where there is one), the field and the fix. Each row below is
one mistake made in a copy of the mini project; validate runs nothing, build runs the program."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from test_console import SCRIPT

from conftest import copy_project

SPEC = "experiments/alpha/experiment.yaml"
Mistake = Callable[[Path], None]


def edit(old: str, new: str, path: str = SPEC) -> Mistake:
    def apply(root: Path) -> None:
        file = root / path
        text = file.read_text()
        assert old in text, (old, path)
        file.write_text(text.replace(old, new, 1))

    return apply


def append(text: str, path: str = SPEC) -> Mistake:
    def apply(root: Path) -> None:
        file = root / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text((file.read_text() if file.exists() else "") + text)

    return apply


THEME = "templates/classic/record.html"
OVERRIDE = '{% extends "builtin/classic/record.html" %}\n'

# (name, mistake, what both must say, exit status)
MISTAKES: list[tuple[str, Mistake, str, int]] = [
    ("yaml syntax", edit("aim: To draw a line.", "aim: [To draw a line."),
     f"{SPEC}:", 2),
    ("unknown key", edit("theory:", "theroy:"), f"{SPEC}:4: theroy: unknown key; did you mean", 2),
    ("wrong type", edit("number: 1", "number: one"), f"{SPEC}:1: number: ", 2),
    ("missing field", edit("aim: To draw a line.\n", ""), f"{SPEC}:1: aim: required field", 2),
    ("missing program", edit("code: line.py", "code: lines.py"),
     f"{SPEC}: programs[0].code: no such file 'lines.py' in alpha/", 2),
    ("program outside", edit("code: line.py", "code: ../beta/x.py"),
     f"{SPEC}: programs[0].code: '../beta/x.py' must be a path inside", 2),
    ("unknown theme", append("theme: fancy\n"), f"{SPEC}: theme: unknown theme 'fancy'", 2),
    ("prose syntax", edit("The slope is {{ results.slope }}.", "The slope is {{ results.slope ."),
     f"{SPEC}: result: line 1 of the text: ", 1),
    ("unrecorded value", edit("{{ results.slope }}", "{{ results.slop }}"),
     f"{SPEC}: result: uses results.slop, which no program record", 1),
    ("unrecorded value through round", edit("{{ results.slope }}", "{{ results.mae | round(4) }}"),
     f"{SPEC}: result: uses results.mae, which no program record", 1),
    ("check syntax", append("checks:\n  - claim: Rises.\n    expr: (results.slope > 0\n"),
     f"{SPEC}: checks[0].expr: ", 1),
    ("check over an unrecorded value",
     append("checks:\n  - claim: Rises.\n    expr: results.rise > 0\n"),
     f"{SPEC}: checks[0].expr: uses results.rise, which no program record", 1),
    ("bad formula", edit("A straight line has a constant slope.", r"'Slope: $\frac{1}{$.'"),
     f"{SPEC}: theory: ", 1),
    ("missing picture", edit("A straight line has a constant slope.", "'![A line](line.png)'"),
     f"{SPEC}: theory: picture 'line.png' not found in alpha/", 1),
    ("template syntax", append(OVERRIDE + "{% block aim %}{{ aim }{% endblock %}\n", THEME),
     f"{THEME}:2: template syntax error: unexpected '}}'", 1),
    ("missing include",
     append(OVERRIDE + '{% block aim %}{% include "classic/logo.html" %}{% endblock %}\n', THEME),
     f"{THEME}:2: template not found: classic/logo.html", 1),
    ("missing asset",
     append(OVERRIDE + '{% block aim %}<img src="{{ asset(\'classic/logo.png\') }}">'
            "{% endblock %}\n", THEME),
     f"{THEME}:2: asset 'classic/logo.png' not found", 1),
]  # fmt: skip


def labreport(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], cwd=root, capture_output=True, text=True, timeout=300
    )


def errors(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in done.stderr, done.stderr
    return [line.removeprefix("Error: ") for line in done.stderr.splitlines()
            if line.startswith("Error: ")]  # fmt: skip


@pytest.mark.parametrize(
    ("mistake", "said", "status"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES]
)
def test_validate_reports_what_build_rejects_in_the_same_words(
    tmp_path: Path, mistake: Mistake, said: str, status: int
) -> None:
    root = copy_project("mini", tmp_path / "mini")
    mistake(root)
    checked = labreport(root, "validate", "alpha")
    assert checked.returncode == status, checked.stderr
    found = [line for line in errors(checked) if line.startswith(said)]
    assert found, (said, checked.stderr)
    built = labreport(root, "build", "alpha", "--format", "html")
    assert built.returncode == status, built.stderr
    # The build names the experiment first where the file does not already say it.
    assert any(found[0] in line for line in errors(built)), (found[0], built.stderr)
    assert not (root / "build/alpha.html").exists()


def test_the_table_covers_at_least_fifteen_mistakes() -> None:
    assert len({name for name, *_ in MISTAKES}) >= 15
