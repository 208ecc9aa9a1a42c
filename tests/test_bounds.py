"""Issue #15: what a spec's prose, its formulas, a long printed line and a link may cost a build.

docs/robustness.md, rows 23 to 26. Each attack is tried on a real project through the installed
``labreport`` script, and its parts on the functions that bound it.
"""

from __future__ import annotations

import io
import re
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader
from test_console import labreport
from test_exit_codes import errors

from labreport import bounded, formulas
from labreport.errors import RenderError
from labreport.longlines import CONTINUED, MAX_LINE, cut_long_lines, cut_long_tokens
from labreport.pdf import render_pdf
from labreport.prose import ProseRenderer

from conftest import copy_project

SPEC = "experiments/probe/experiment.yaml"
NESTED_LOOPS = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    """A copy of the mini project, to which each test adds the experiment ``probe``."""
    return copy_project("mini", tmp_path / "lab")


def add_probe(root: Path, spec: str, program: str = 'print("measured")\n') -> Path:
    """The experiment ``probe``: ``spec`` (without its program) and a program ``probe.py``."""
    folder = root / "experiments" / "probe"
    folder.mkdir()
    (folder / "probe.py").write_text(program, encoding="utf-8")
    head = "number: 9\ntitle: Probe\naim: To probe.\nprograms:\n  - code: probe.py\n"
    (folder / "experiment.yaml").write_text(head + spec, encoding="utf-8")
    return folder


def prose(folder: Path = Path("."), title: str = "Attack") -> ProseRenderer:
    """The prose of one record, with a spec of ``title``."""
    spec = {"title": title, "number": 9, "tools": ["NumPy"]}
    return ProseRenderer(Path(SPEC), spec, folder)


def refused(render: Any, *args: Any) -> str:
    """The one-line message of the RenderError ``render(*args)`` raises."""
    with pytest.raises(RenderError) as caught:
        render(*args)
    message = caught.value.format_message()
    assert "\n" not in message and message.startswith(SPEC), message
    return message


# ----------------------------------------------------------------- 23: prose computes in bounds


def test_nested_loops_in_prose_stop_the_build_with_one_line_naming_file_and_field(
    lab: Path,
) -> None:
    add_probe(lab, f'theory: "{NESTED_LOOPS}"\n')
    done = labreport(lab, "build", "probe", "--format", "html")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert errors(done) == [
        f"Error: {SPEC}: theory: the prose does too much work: more than "
        f"{bounded.MAX_STEPS:,} loop turns, calls and operations in all the prose of this record "
        "(loop over fewer values, or compute the result in the program and record() it)"
    ]
    checked = labreport(lab, "validate", "probe")  # it evaluates no prose: nothing to hang on
    assert checked.returncode == 0, checked.stderr


def test_a_check_that_would_make_a_huge_text_is_refused_before_it_is_made() -> None:
    tracemalloc.start()
    try:
        message = refused(
            prose().expression, "(spec.title * 30000000) | length > 0", "checks[0].expr", {}
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert message == (
        f"{SPEC}: checks[0].expr: too large to compute: a text or list of more than "
        f"{bounded.MAX_SIZE:,} characters or items (compute it in the program and record() a "
        "smaller value)"
    )
    assert peak < 16 * 1024 * 1024  # the text would be 180 MB


@pytest.mark.parametrize(
    "text",
    [
        "{{ spec.title * 1000000 }}",
        "{{ [spec.title] * 1000000 }}",
        "{{ spec.title | center(100000000) }}",
        "{{ spec.title.center(100000000) }}",
        "{{ spec.title.zfill(100000000) }}",
        "{{ spec.title | indent(100000000) }}",
        "{{ spec.title | replace('', spec.title * 100000) }}",
        "{{ spec.title.replace('', spec.title * 100000) }}",
        "{{ '%0999999999d' | format(spec.number) }}",
        "{{ '%0999999999d' % spec.number }}",
        "{{ '{:>999999999}'.format(spec.number) }}",
        "{{ '{:>{}}'.format(spec.number, '999999999') }}",
        "{{ range(100000) | join(spec.title * 1000) }}",
        "{{ (spec.title * 1000).join(range(100000) | map('string')) }}",
        "{{ spec.tools | batch(100000000, spec.title) | list }}",
        "{{ spec.tools | slice(100000000, spec.title) | list }}",
        "{{ spec | tojson(indent=100000000) }}",
        "{{ spec.title | wordwrap(1, wrapstring=spec.title * 300000) }}",
        # each level doubles what a literal holds: 2 ** 19 titles at the end
        "{% for a in [[spec.title]] %}"
        + "".join(
            f"{{% for a{i} in [[a{i - 1 if i else ''}, a{i - 1 if i else ''}]] %}}"
            for i in range(18)
        )
        + "{{ a17 | string | length }}"
        + "{% endfor %}" * 19,
    ],
)
def test_prose_cannot_make_a_value_larger_than_a_spec_may_be(text: str) -> None:
    message = refused(prose().block, text, "theory", {})
    assert message.startswith(f"{SPEC}: theory: too large to compute"), message


def test_prose_cannot_print_more_than_a_field_may_hold() -> None:
    text = "{% for i in range(100000) %}{{ spec.title * 100 }}{% endfor %}"
    assert refused(prose().block, text, "theory", {}) == (
        f"{SPEC}: theory: the text it makes is longer than {bounded.MAX_OUTPUT:,} characters "
        "(print less: loop over fewer values, or show a summary the program records)"
    )


def test_comparing_large_values_over_and_over_runs_out_of_budget() -> None:
    text = "{% for s in [spec.title * 100000] %}{% for i in range(100000) %}{{ 'x' in s }}"
    message = refused(prose().block, text + "{% endfor %}{% endfor %}", "theory", {})
    assert f"it handles more than {bounded.MAX_WORK:,} characters and items" in message


def test_every_field_of_a_record_draws_on_one_budget() -> None:
    """A thousand fields of a loop each would otherwise take a thousand times as long."""
    record = prose()
    loop = "{% for i in range(600) %}{% for j in range(1000) %}{% endfor %}{% endfor %}"
    loop += "{{ spec.number }}"
    assert record.block(loop, "theory", {}) == "<p>9</p>\n"
    message = refused(record.block, loop, "prelab[0].answer", {})
    assert message.startswith(f"{SPEC}: prelab[0].answer: the prose does too much work")
    assert prose().block(loop, "prelab[0].answer", {}) == "<p>9</p>\n"  # another record


def test_prose_cannot_change_what_it_reads_nor_make_text_out_of_nothing() -> None:
    doubling = "{% for i in range(40) %}{{ spec.tools.extend(spec.tools) }}{% endfor %}"
    assert "unsafe" in refused(prose().block, doubling, "theory", {})
    assert "'lipsum' is undefined" in refused(prose().block, "{{ spec ~ lipsum(9) }}", "aim", {})


def test_ordinary_prose_computes_as_before_within_a_small_part_of_the_budget() -> None:
    record = prose()
    text = (
        "{{ spec.title | upper }}: {{ '%.2f' | format(results.loss) }}, "
        "{{ results.losses | join(', ') }}; best {{ results.losses | min }}; "
        "{% for v in results.losses %}{{ loop.index }}={{ v * 2 }}{{ ', ' if not loop.last }}"
        "{% endfor %}; {{ spec.tools | map('lower') | join }} {{ (results.losses | sum) > 1 }} "
        "{{ '{:.1f}'.format(results.loss) ~ '!' }} {{ [spec.number] + [3] }} {{ 2 ** spec.number }}"
    )
    results = {"loss": 0.123456, "losses": [3, 2, 1]}
    assert record.block(text, "result", results) == (
        "<p>ATTACK: 0.12, 3, 2, 1; best 1; 1=6, 2=4, 3=2; numpy True 0.1! [9, 3] 512</p>\n"
    )
    assert record.expression("results.losses[-1] < results.losses[0]", "checks[0].expr", results)
    assert record.budget.steps < 100 and record.budget.work < 1000


def test_prose_nested_deeper_than_python_compiles_is_an_error_not_a_crash(lab: Path) -> None:
    """Python compiles at most 20 nested blocks; 21 nested loops were an internal error."""
    nested = "{% for a in spec.tools %}" * 21 + "x" + "{% endfor %}" * 21
    add_probe(lab, f'theory: "{nested}"\n')
    done = labreport(lab, "build", "probe", "--format", "html")
    assert done.returncode == 1, done.stderr
    assert errors(done) == [
        f"Error: {SPEC}: theory: nested too deeply "
        "(use fewer levels of parentheses, brackets and tags)"
    ]


# ----------------------------------------------------------------- 24: formulas per record


def test_formulas_past_the_records_limit_are_an_error_of_the_field_that_crosses_it() -> None:
    record = prose()
    few = " ".join(["$x^2$"] * (formulas.MAX_FORMULAS - 10))  # the same formula: drawn once
    assert record.block(few, "theory", {}).count("<img") == formulas.MAX_FORMULAS - 10
    assert refused(record.block, " ".join(["$y$"] * 11), "prelab[2].answer", {}) == (
        f"{SPEC}: prelab[2].answer: more than {formulas.MAX_FORMULAS:,} formulas in the record: "
        f"this field brings them to {formulas.MAX_FORMULAS + 1:,} (each is drawn as a picture) "
        "(write simple symbols as text, or split the experiment in two)"
    )


def test_too_many_characters_of_formulas_are_refused_before_any_is_drawn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def never(tex: str, display: bool) -> formulas.Formula:
        raise AssertionError("drawn")

    monkeypatch.setattr(formulas, "_draw", never)
    long = "$" + "+".join(["x"] * (formulas.MAX_FORMULA_CHARS // 2 + 1)) + "$"
    message = refused(prose().block, long, "theory", {})
    assert message.startswith(
        f"{SPEC}: theory: more than {formulas.MAX_FORMULA_CHARS:,} characters of formulas in the "
        f"record: this field brings them to {formulas.MAX_FORMULA_CHARS + 1:,}"
    )


def test_build_and_validate_refuse_a_record_of_too_many_formulas(lab: Path) -> None:
    many = " ".join(f"$a_{{{i}}}$" for i in range(formulas.MAX_FORMULAS + 1))
    add_probe(lab, f'theory: "{many}"\n')
    limit = f"more than {formulas.MAX_FORMULAS:,} formulas in the record"
    built = labreport(lab, "build", "probe", "--format", "html")
    assert built.returncode == 1, built.stderr
    assert errors(built)[0].startswith(f"Error: {SPEC}: theory: {limit}"), built.stderr
    checked = labreport(lab, "validate", "probe")
    assert checked.returncode == 1, checked.stderr
    assert errors(checked)[0].startswith(f"Error: {SPEC}: theory: {limit}"), checked.stderr


# ----------------------------------------------------------------- 25: long lines cut for layout


def test_a_long_line_is_cut_every_max_line_characters_and_each_cut_is_marked() -> None:
    line = "0123456789" * (MAX_LINE // 4)
    cut = cut_long_lines(f"before\n{line}\nafter")
    lines = cut.split("\n")
    assert lines[0] == "before" and lines[-1] == "after"
    assert [len(piece) for piece in lines[1:-1]] == [
        MAX_LINE, len(CONTINUED) + MAX_LINE, len(CONTINUED) + len(line) - 2 * MAX_LINE
    ]  # fmt: skip
    assert "".join(piece.removeprefix(CONTINUED) for piece in lines[1:-1]) == line
    assert cut_long_lines("short\nlines\n") == "short\nlines\n"


def test_a_long_token_of_a_listing_is_cut_and_keeps_its_colour() -> None:
    tokens = [("name", "x = "), ("string", "'" + "s" * (MAX_LINE + 10) + "'"), ("name", "\ny")]
    cut = list(cut_long_tokens(tokens, "mark"))
    assert "".join(text for _, text in cut) == cut_long_lines("".join(t for _, t in tokens))
    assert ("mark", CONTINUED) in cut
    assert [kind for kind, text in cut if "s" in text] == ["string", "string"]


def pdf_text(path: Path) -> str:
    return "".join(page.extract_text() for page in PdfReader(path).pages)


def test_a_long_printed_line_is_cut_in_the_html_and_the_pdf(lab: Path) -> None:
    """Every pre-formatted text of a record: output, a shown file, the listing, a code block."""
    width = 20 * MAX_LINE + 500  # unbroken, this took 2.5 s to lay out; 100,000 about 60 s
    program = (
        f"print('x' * {width})\n"
        f"open('wide.txt', 'w').write('w' * {width})\n"
        f"LONG = '{'c' * width}'\n"
    )
    fence = "```\\n" + "f" * width + "\\n```"
    add_probe(lab, f'theory: "{fence}"\n', program)
    spec = lab / SPEC
    spec.write_text(
        spec.read_text().replace("probe.py\n", "probe.py\n    show_files: [wide.txt]\n")
    )
    done = labreport(lab, "build", "probe")
    assert done.returncode == 0, done.stderr
    soup = BeautifulSoup((lab / "build/probe.html").read_text(), "html.parser")
    shown = {
        "output": soup.select_one("pre.output[data-program]").get_text(),
        "file": soup.select_one('figure.run-file[data-file="wide.txt"] pre').get_text(),
        "listing": soup.select_one(".code-listing").get_text(),
        "prose": soup.select_one("section.theory pre").get_text(),
    }
    for name, char in zip(shown, "xwcf", strict=True):
        lines = shown[name].split("\n")
        assert max(len(line) for line in lines) <= len(CONTINUED) + MAX_LINE, name
        continued = shown[name].count("\n" + CONTINUED)
        # a listing wraps at its theme's columns, fewer than MAX_LINE: more continuations
        assert (
            continued >= width // MAX_LINE if name == "listing" else continued == width // MAX_LINE
        ), name
        assert shown[name].count(char) >= width, name  # nothing left out
    text = pdf_text(lab / "build/probe.pdf")
    assert text.count(CONTINUED.strip()) >= 4 * (width // MAX_LINE)
    assert text.count("x") >= width


# ----------------------------------------------------------------- 26: links in the prose


def pdf_bytes(path: Path) -> bytes:
    """The PDF's bytes with every compressed stream expanded, where a path could hide."""
    raw = path.read_bytes()
    expanded = [raw]
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", raw, re.S):
        try:
            expanded.append(zlib.decompress(match.group(1)))
        except zlib.error:
            continue
    return b"".join(expanded)


def link_targets(path: Path) -> list[str]:
    targets = []
    for page in PdfReader(path).pages:
        for annotation in page.get("/Annots") or []:
            action = annotation.get_object().get("/A") or {}
            targets.append(str(action.get("/URI", "")))
    return targets


def test_a_linked_file_travels_in_the_record_and_no_path_of_the_builder_does(
    lab: Path, tmp_path: Path
) -> None:
    folder = add_probe(
        lab,
        "theory: See [the data](data.csv), [the notes](notes/a%20b.txt), "
        "[the course](https://example.org/) and [the aim](#aim).\n",
    )
    (folder / "data.csv").write_text("x,y\n1,2\n")
    (folder / "notes").mkdir()
    (folder / "notes/a b.txt").write_text("notes")
    done = labreport(lab, "build", "probe")
    assert done.returncode == 0, done.stderr
    html = (lab / "build/probe.html").read_text()
    links = {a.get_text(): a for a in BeautifulSoup(html, "html.parser").select("section a")}
    assert links["the data"]["href"] == "data:text/csv;base64,eCx5CjEsMgo="
    assert links["the data"]["download"] == "data.csv"
    assert links["the notes"]["download"] == "a b.txt"
    assert links["the course"]["href"] == "https://example.org/"
    assert links["the aim"]["href"] == "#aim"
    assert str(tmp_path) not in html
    pdf = lab / "build/probe.pdf"
    assert str(tmp_path).encode() not in pdf_bytes(pdf)
    targets = link_targets(pdf)
    assert "https://example.org/" in targets
    assert "data:text/csv;base64,eCx5CjEsMgo=" in targets
    assert not [target for target in targets if target.startswith("file:")]


@pytest.mark.parametrize("href", ["../../secret", "../alpha/points.txt", "/etc/passwd"])
def test_a_link_out_of_the_experiment_folder_is_an_error_naming_the_field(
    lab: Path, href: str
) -> None:
    add_probe(lab, f"result: The secret is [here]({href}).\n")
    done = labreport(lab, "build", "probe", "--format", "html")
    assert done.returncode == 1, done.stderr
    assert errors(done) == [
        f"Error: {SPEC}: result: link '{href}' is outside the experiment folder "
        "(copy it into probe/ and write its path relative to it)"
    ]


def test_a_templates_relative_link_leaves_no_path_of_the_builder_in_the_pdf(
    tmp_path: Path,
) -> None:
    html = '<p><a href="notes/x.csv">notes</a> <a href="https://example.org/">web</a></p>'
    pdf = tmp_path / "record.pdf"
    pdf.write_bytes(render_pdf(html, root=tmp_path))
    assert link_targets(pdf) == ["https://example.org/"]
    assert str(tmp_path).encode() not in pdf_bytes(pdf)
    assert "notes" in PdfReader(io.BytesIO(pdf.read_bytes())).pages[0].extract_text()
