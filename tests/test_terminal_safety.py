"""Issue 15: text from a program or a spec never reaches the terminal raw. Window-title (OSC 0)
and clipboard (OSC 52) sequences, a screen clear, C1 codes, bidi controls and newlines in an
exception message, a title or a claim are printed as visible escapes, on the line they belong
to. Everything runs through the installed ``labreport`` script, as a user's terminal sees it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from labreport.console import terminal_line, terminal_lines

from conftest import copy_project

SCRIPT = Path(sys.executable).with_name("labreport")
# What the red team sent: set the window title, write the clipboard, clear the screen, a C1
# CSI, then a newline and a line that looks like labreport's own.
ATTACK = "\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\x1b[2J\x9b31m"
SHOWN = r"\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\x1b[2J\x9b31m"


def labreport(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, timeout=300,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def no_raw_controls(text: str) -> None:
    """Only newlines between lines: no ESC, BEL, CR, C1 code or bidi control anywhere."""
    found = re.findall("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text)
    assert found == [], text


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project("mini", tmp_path_factory.mktemp("terminal") / "mini")
    evil = root / "experiments" / "evil"
    evil.mkdir()
    (evil / "prog.py").write_text(
        f"raise ValueError({ATTACK + chr(10) + 'evil: built in 0.1 s (1 run, 0 from cache)'!r})\n"
    )
    # YAML's double-quoted escapes give a title and a claim with ESC, BEL and a newline.
    (evil / "experiment.yaml").write_text(
        'number: 3\ntitle: "Evil\\e]0;title\\a\\nfake: built"\naim: To attack.\n'
        "programs:\n  - code: prog.py\n"
    )
    claim = root / "experiments" / "claim"
    claim.mkdir()
    (claim / "prog.py").write_text('from labreport.record import record\nrecord("x", 1)\n')
    (claim / "experiment.yaml").write_text(
        "number: 4\ntitle: Claims\naim: To claim.\nprograms:\n  - code: prog.py\n"
        'checks:\n  - claim: "x is two\\e]52;c;ZXZpbA==\\a\\u202e"\n    expr: results.x == 2\n'
    )
    return root


def test_a_programs_exception_message_is_shown_escaped_on_its_own_error_line(
    hostile: Path,
) -> None:
    built = labreport(hostile, "build", "evil", "--format", "html")
    assert built.returncode == 1, built.stderr
    no_raw_controls(built.stdout + built.stderr)
    message = f"ValueError: {SHOWN} evil: built in 0.1 s (1 run, 0 from cache)"
    errors = [line for line in built.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [
        f"Error: evil: prog.py failed at line 1: {message} (fix the program, or set "
        "allow_errors: true to render the failure)"
    ]
    progress = [line for line in built.stderr.splitlines() if line.startswith("evil: prog.py:")]
    assert len(progress) == 1 and re.fullmatch(
        rf"evil: prog\.py: error: {re.escape(message)} in \d+\.\d s", progress[0]
    ), progress
    assert not any(line.startswith("evil: built") for line in built.stderr.splitlines())


def test_a_claim_in_a_failed_check_warning_is_shown_escaped(hostile: Path) -> None:
    built = labreport(hostile, "build", "claim", "--format", "html")
    assert built.returncode == 0, built.stderr
    no_raw_controls(built.stdout + built.stderr)
    assert (
        r"Warning: claim: check failed: x is two\x1b]52;c;ZXZpbA==\x07\u202e (results.x == 2) "
        "(the record marks it failed; --strict makes this an error)"
    ) in built.stderr.splitlines()


def test_list_shows_a_title_with_escapes_on_one_row(hostile: Path) -> None:
    listed = labreport(hostile, "list")
    assert listed.returncode == 0, listed.stderr
    no_raw_controls(listed.stdout + listed.stderr)
    rows = listed.stdout.splitlines()
    assert [row.split()[0] for row in rows] == ["ID", "alpha", "beta", "claim", "evil"]
    title = r"Evil\x1b]0;title\x07\nfake: built"
    assert rows[4] == f"evil   3    {title}  classic"


def test_a_broken_spec_in_list_and_validate_is_escaped(tmp_path: Path) -> None:
    """A key YAML reads from a double-quoted string: every command's error shows it escaped."""
    root = copy_project("mini", tmp_path / "mini")
    spec = root / "experiments" / "alpha" / "experiment.yaml"
    spec.write_text(spec.read_text() + '"bad\\e[2J\\nkey": 1\n')
    for args in (("list",), ("validate", "alpha"), ("build", "alpha", "--format", "html")):
        done = labreport(root, *args)
        assert done.returncode in (1, 2), done.stderr
        no_raw_controls(done.stdout + done.stderr)
        errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
        assert errors and r"bad\x1b[2J\nkey" in errors[0], done.stderr
        assert not any(line.startswith("key") for line in done.stderr.splitlines())


def test_several_problems_are_each_an_error_line(tmp_path: Path) -> None:
    root = copy_project("mini", tmp_path / "mini")
    spec = root / "experiments" / "alpha" / "experiment.yaml"
    spec.write_text(spec.read_text() + "sede: 1\nnumbr: 2\n")
    built = labreport(root, "build", "alpha", "--format", "html")
    assert built.returncode == 2, built.stderr
    checked = labreport(root, "validate", "alpha")
    lines = [line for line in built.stderr.splitlines() if "unknown key" in line]
    assert len(lines) == 2 and all(line.startswith("Error: ") for line in lines), built.stderr
    assert lines == [line for line in checked.stderr.splitlines() if "unknown key" in line]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain text, ünïcode ✓", "plain text, ünïcode ✓"),
        (ATTACK, SHOWN),
        ("a\nb\r\nc\td", r"a\nb\r\nc\td"),
        ("\x00\x7f\x85\u2028\u2029", r"\x00\x7f\x85\u2028\u2029"),
        ("if x\u202e\u2066y\u2069\u200e\u200f\u061c", r"if x\u202e\u2066y\u2069\u200e\u200f\u061c"),
    ],
)
def test_terminal_line_shows_every_control_as_an_escape(text: str, shown: str) -> None:
    assert terminal_line(text) == shown


def test_terminal_lines_keeps_the_lines_and_escapes_within_each() -> None:
    assert terminal_lines("first\x1b[2J\nsecond\rthird\n") == [
        r"first\x1b[2J",
        r"second\rthird",
        "",
    ]


TROJAN = (
    'access = "user"\n'
    'if access != "none\u202e \u2066# admin\u2069 \u2066":  # \u200f\n'
    '    print("ok")\n'
)


def test_bidi_controls_in_a_listing_are_shown_as_markers(tmp_path: Path) -> None:
    """Trojan Source: the listing shows each bidi control as a visible marker, none raw."""
    from bs4 import BeautifulSoup

    root = copy_project("mini", tmp_path / "mini")
    folder = root / "experiments" / "trojan"
    folder.mkdir()
    (folder / "prog.py").write_text(TROJAN)
    (folder / "experiment.yaml").write_text(
        "number: 3\ntitle: Trojan\naim: To hide.\nprograms:\n  - code: prog.py\n"
    )
    built = labreport(root, "build", "trojan", "--format", "html")
    assert built.returncode == 0, built.stderr
    page = BeautifulSoup((root / "build" / "trojan.html").read_text(), "html.parser")
    (listing,) = page.select(".highlight")
    assert re.findall("[\u200e\u200f\u202a-\u202e\u2066-\u2069]", listing.get_text()) == []
    markers = [span.get_text() for span in listing.select("span.bidi-control")]
    assert markers == ["⟪U+202E⟫", "⟪U+2066⟫", "⟪U+2069⟫", "⟪U+2066⟫", "⟪U+200F⟫"]
    assert listing.get_text().startswith('access = "user"\nif access != "none⟪U+202E⟫ ⟪U+2066⟫#')
