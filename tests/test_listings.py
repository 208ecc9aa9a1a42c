"""Listings typeset like a book (labreport/listing.py): wrapping at a token boundary with a
hanging ↪, line numbers, lines kept together across pages, and the spec's ``show:``; the last
through real builds of a tiny project by the installed script."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pypdf
import pytest
from bs4 import BeautifulSoup
from test_console import labreport

from labreport.listing import (
    KEEP,
    MARK,
    ListingOptions,
    ShowError,
    listing_html,
    read_options,
    regions,
    shown_lines,
    split_lines,
    wrap_line,
)
from labreport.render import program_listing

from conftest import copy_project

LONG_CALL = [
    ("", "    "), ("", "result"), ("", " "), ("o", "="), ("", " "), ("", "compute"), ("", "("),
    ("s2", '"a string token"'), ("", ","), ("", " "), ("", "other_argument"), ("", ","),
    ("", " "), ("mi", "12345678"), ("", ")"),
]  # fmt: skip


def texts(rows: list[list[tuple[str, str]]]) -> list[str]:
    return ["".join(t for _, t in row) for row in rows]


def test_a_short_line_is_left_alone() -> None:
    assert wrap_line(LONG_CALL, 200) == [LONG_CALL]


@pytest.mark.parametrize("columns", range(24, 64))
def test_wrapping_breaks_between_tokens_with_a_hanging_mark(columns: int) -> None:
    rows = texts(wrap_line(LONG_CALL, columns))
    assert len(rows) > 1
    # a row may end in the blanks of its break, which take no room on the page
    assert all(len(row.rstrip()) <= columns for row in rows)
    for row in rows[1:]:  # the line's indentation (4), the mark, then the text at 4 + 2
        assert row.startswith("    " + MARK + " ") and row[6] != " "
    body = [rows[0], *(row[6:] for row in rows[1:])]
    assert "".join(body) == "".join(t for _, t in LONG_CALL)  # the source, every blank kept
    for token in ("result", "compute", '"a string token"', "other_argument", "12345678"):
        assert any(token in piece for piece in body), (token, rows)


def test_a_token_wider_than_a_line_is_cut_and_comments_break_at_spaces() -> None:
    rows = texts(wrap_line([("s1", "'" + "x" * 70 + "'")], 30))
    assert all(len(row) <= 30 for row in rows) and len(rows) == 3
    comment = [("", "x = 1"), ("", "  "), ("c1", "# " + "word " * 12)]
    rows = texts(wrap_line(comment, 30))
    assert all(len(row.rstrip()) <= 30 for row in rows)
    assert all(not re.search(r"wor$|^\W*ord", row.strip()) for row in rows), rows


def test_a_huge_line_is_wrapped_quickly_and_bounded() -> None:
    rows = wrap_line([("s2", '"' + "y" * 200_000 + '"')], 90)
    assert all(len("".join(t for _, t in row)) <= 90 for row in rows)


def test_ranges_regions_and_their_errors() -> None:
    lines = [f"x{i} = {i}" for i in range(1, 11)]
    assert shown_lines(lines, "2-3, 9", None) == [2, 3, 9]
    with pytest.raises(ShowError, match="line 11 is past the end: the program has 10 lines"):
        shown_lines(lines, "1-11", None)
    marked = ["a = 1", "# region train", "b = 2", "# region inner", "c = 3", "# endregion",
              "d = 4", "# endregion", "e = 5"]  # fmt: skip
    assert regions(marked) == {"inner": (5, 5), "train": (3, 7)}
    assert shown_lines(marked, None, "train") == [3, 5, 7]  # no marker line printed
    with pytest.raises(ShowError, match=r"no region 'tests' in the program \(regions: inner, "):
        shown_lines(marked, None, "tests")


def test_elided_lines_numbers_and_kept_ends() -> None:
    source = split_lines([("", "\n".join(f"v{i} = {i}" for i in range(1, 31)) + "\n")])
    shown = [*range(3, 6), *range(10, 30)]
    html = listing_html(source, shown, ListingOptions(line_numbers=True))
    soup = BeautifulSoup(html, "html.parser")
    elided = [s.get_text() for s in soup.select(".elided")]
    assert elided == ["⋮ (lines 1–2 not shown)", "⋮ (lines 6–9 not shown)", "⋮ (line 30 not shown)"]
    numbers = [int(s["data-n"]) for s in soup.select(".line[data-n]")]
    assert numbers == shown
    assert soup.select_one("pre.listing.numbered") is not None
    kept = soup.select(".keep")
    assert [len(k.select(".line")) for k in kept] == [KEEP, KEEP]
    plain = BeautifulSoup(listing_html(source, shown, ListingOptions()), "html.parser")
    assert plain.select_one("pre.listing.numbered") is None


def test_theme_options_are_checked() -> None:
    assert read_options("shows = []\n[listing]\ncolumns = 60\nline_numbers = true\n") == (
        ListingOptions(60, True)
    )
    assert read_options("shows = []\n") == ListingOptions()
    for bad, said in [("columns = 5", "not between"), ("line_numbers = 1", "true or false"),
                      ("colums = 80", "listing.colums: unknown")]:  # fmt: skip
        with pytest.raises(ValueError, match=said):
            read_options(f"[listing]\n{bad}\n")


# ----------------------------------------------------------------------------- real builds

BODY = "".join(f"value_{i} = {i}  # line {i + 1}\n" for i in range(1, 200))
PROGRAM = (
    '"""A program listed in parts."""\n'  # line 1
    + BODY  # lines 2..200
    + "# region report\n"  # 201
    + 'print("total", value_1 + value_2)\n'  # 202
    + "# endregion\n"  # 203
)
SPEC = """\
number: 9
title: Listings
aim: To list programs in parts.
programs:
  - code: whole.py
  - code: part.py
    show: {lines: "1-3, 150-152"}
  - code: part.py
    show: {region: report}
  - code: part.py
    show: appendix
  - code: part.py
    show: none
"""
WHOLE = "".join(
    f"total_{i} = sum(range({i}))  # a comment that makes this line long enough to wrap: "
    "the final one, and so on\n"
    for i in range(1, 120)
)


def make_lab(root: Path, spec: str = SPEC) -> Path:
    lab = copy_project("mini", root)
    folder = lab / "experiments" / "listing"
    folder.mkdir()
    (folder / "part.py").write_text(PROGRAM, encoding="utf-8")
    (folder / "whole.py").write_text(WHOLE, encoding="utf-8")
    (folder / "experiment.yaml").write_text(spec, encoding="utf-8")
    return lab


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lab = make_lab(tmp_path_factory.mktemp("listings") / "lab")
    done = labreport(lab, "build", "listing", "--format", "all")
    assert done.returncode == 0, done.stderr
    return lab / "build"


@pytest.fixture(scope="module")
def soup(built: Path) -> BeautifulSoup:
    return BeautifulSoup((built / "listing.html").read_text(encoding="utf-8"), "html.parser")


def program(soup: BeautifulSoup, number: int) -> BeautifulSoup:
    found = soup.select_one(f"#program-{number}")
    assert found is not None
    return found


def test_lines_show_what_the_spec_lists_with_gaps_marked(soup: BeautifulSoup) -> None:
    part = program(soup, 2)
    numbers = [int(s["data-n"]) for s in part.select(".line[data-n]")]
    assert numbers == [1, 2, 3, 150, 151, 152]
    elided = [s.get_text() for s in part.select(".elided")]
    assert elided == ["⋮ (lines 4–149 not shown)", "⋮ (lines 153–203 not shown)"]
    text = part.get_text()  # line n is value_{n-1}
    assert "value_149 = 149" in text and "value_148 " not in text and "value_152 " not in text


def test_a_region_shows_its_code_without_the_markers(soup: BeautifulSoup) -> None:
    part = program(soup, 3)
    numbers = [int(s["data-n"]) for s in part.select(".line[data-n]")]
    assert numbers == [202]
    assert "# region" not in part.get_text() and "# endregion" not in part.get_text()


def test_appendix_and_none(soup: BeautifulSoup) -> None:
    moved = program(soup, 4)
    assert moved.select_one(".code-listing") is None
    pointer = moved.select_one(".listing-pointer a")
    assert pointer is not None and pointer.get_text() == "(listing in the appendix)"
    appendix = soup.select_one("section.appendix")
    assert appendix is not None and "Appendix: program listings" in appendix.get_text()
    target = appendix.select_one(pointer["href"])
    assert target is not None and "part.py" in target.get_text()
    assert len(appendix.select(".code-listing .line[data-n]")) == 203
    hidden = program(soup, 5)
    assert (
        hidden.select_one(".code-listing") is None and hidden.select_one(".listing-pointer") is None
    )
    assert "total 3" in hidden.get_text()  # the output still shows: the whole program ran
    assert "total 3" in program(soup, 2).get_text()


def test_long_lines_wrap_with_a_mark_in_the_html(soup: BeautifulSoup) -> None:
    whole = program(soup, 1)
    lines = whole.select(".line")
    assert len(lines) > 119
    continued = {i - 1 for i, line in enumerate(lines) if "cont-line" in line["class"]}
    assert all(lines[i].get("data-n") for i in continued)  # every source line wrapped
    assert len(continued) == 119
    for line in whole.select(".cont-line"):
        assert line.get_text().startswith(MARK + " ")
        assert len(line.get_text()) <= 92  # the classic theme's columns


def test_pdf_pages_never_hold_fewer_than_five_lines_of_a_listing(built: Path) -> None:
    reader = pypdf.PdfReader(built / "listing.pdf")
    counts = [
        sum(bool(re.match(r"total_\d+ = |↪ ", line.strip()))
            for line in (page.extract_text() or "").splitlines())
        for page in reader.pages
    ]  # fmt: skip
    assert sum(counts) >= 2 * 119  # every line and its continuation
    assert len([c for c in counts if c]) >= 2  # the listing straddles a page break
    assert all(c == 0 or c >= KEEP for c in counts), counts
    text = "".join(page.extract_text() or "" for page in reader.pages)
    assert "enoug\nh" not in text and "total_\n" not in text


def test_line_numbers_are_a_theme_option(tmp_path: Path) -> None:
    lab = make_lab(tmp_path / "lab")
    theme = lab / "templates" / "classic"
    theme.mkdir(parents=True)
    builtin = Path(__file__).resolve().parent.parent / "templates" / "classic" / "theme.toml"
    text = builtin.read_text(encoding="utf-8").replace(
        "line_numbers = false", "line_numbers = true"
    )
    (theme / "theme.toml").write_text(text, encoding="utf-8")
    done = labreport(lab, "build", "listing")
    assert done.returncode == 0, done.stderr
    page = (lab / "build" / "listing.html").read_text(encoding="utf-8")
    html = BeautifulSoup(page, "html.parser")
    assert len(html.select("pre.listing.numbered")) == 4
    assert html.select_one("#program-3 .line[data-n]")["data-n"] == "202"


@pytest.mark.parametrize(
    ("show", "said"),
    [
        ('{lines: "1-300"}', "programs[1].show: part.py: line 300 is past the end: the program "
         "has 203 lines (give lines between 1 and 203)"),
        ("{region: training}", "programs[1].show: part.py: no region 'training' in the program "
         "(regions: report) (mark it with '# region training' and '# endregion'"),
        ('{lines: "5-2"}', "programs[1].show: lines: '5-2': a range goes from line 1"),
        ("everything", "programs[1].show: 'everything' is not a way to show a listing"),
    ],
)  # fmt: skip
def test_a_bad_show_is_a_spec_error_in_build_and_validate(
    tmp_path: Path, show: str, said: str
) -> None:
    spec = SPEC.replace('show: {lines: "1-3, 150-152"}', f"show: {show}")
    lab = make_lab(tmp_path / "lab", spec)
    for command in (["build", "listing"], ["validate", "listing"]):
        done = labreport(lab, *command)
        assert done.returncode == 2, (command, done.stderr)
        assert "experiments/listing/experiment.yaml" in done.stderr
        assert said in done.stderr, done.stderr


def test_show_does_not_change_the_run_cache_key(tmp_path: Path) -> None:
    lab = make_lab(tmp_path / "lab")
    assert labreport(lab, "build", "listing").returncode == 0
    spec = lab / "experiments" / "listing" / "experiment.yaml"
    spec.write_text(SPEC.replace("show: none", 'show: {lines: "1-2"}'), encoding="utf-8")
    again = labreport(lab, "build", "listing")
    assert again.returncode == 0, again.stderr
    assert "5 from cache" in again.stderr, again.stderr


F_STRINGS = [
    '    assert max_rel < 1e-6, f"BPTT gradients disagree with finite differences '
    '(rel. error {max_rel:.1e})"\n',
    # exp5's: the whole call one character too wide for a continuation, which then broke
    # after the field's ":" as a "better" break point
    'print(f"Gradient check (BPTT vs centred finite differences): max relative error = '
    '{max_rel:.1e}")\n',
]


@pytest.mark.parametrize("source", F_STRINGS)
@pytest.mark.parametrize("columns", [*range(40, 100, 3), 92])
def test_an_f_string_breaks_only_at_a_space_of_its_text(source: str, columns: int) -> None:
    """exp5 printed `{max_rel:.` / `1e}")`: inside a string literal a line breaks only where
    the whole literal does not fit on a line of its own, and then at a space of its text, never
    next to a field's `{`, `:` or `}`."""
    (line,) = program_listing(source).lines
    rows = texts(wrap_line(line, columns))
    hang = len(source) - len(source.lstrip(" ")) + len(MARK) + 1
    assert "".join([rows[0], *(row[hang:] for row in rows[1:])]) == source.rstrip("\n")
    for before, after in itertools.pairwise(rows):
        head = after[hang:]
        assert not before.endswith(("{", ":", ":.")), rows
        assert not head.startswith(("}", ":", "1e", ".1e", "max_rel")), rows
        if '"' in before and before.count('"') % 2 == 1:  # the break falls inside the literal
            assert before.endswith(" "), rows
