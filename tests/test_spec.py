"""Spec validation: valid specs load; every kind of mistake names the file, the field, the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from labreport.errors import SpecError
from labreport.spec import load_experiment, parse_spec

from conftest import REPO

MINIMAL = """\
number: 1
title: T
aim: To test.
programs:
  - code: prog.py
"""


def make_experiment(tmp_path: Path, spec: str, files: tuple[str, ...] = ("prog.py",)) -> Path:
    folder = tmp_path / "experiments" / "exp1"
    folder.mkdir(parents=True)
    (folder / "experiment.yaml").write_text(spec)
    for name in files:
        (folder / name).write_text("print('hi')\n")
    return folder


def test_exp5_spec_is_valid() -> None:
    source = load_experiment(REPO / "experiments" / "exp5", display_root=REPO)
    spec = source.spec
    assert spec.number == 5
    assert spec.theme == "classic"
    assert spec.aim == "To implement sequence prediction using RNN."
    assert [p.code for p in spec.programs] == ["rnn_numpy.py"]
    assert [r.criterion for r in spec.rubric] == [
        "Concept (A)",
        "Implementation (B)",
        "Performance (C)",
    ]


def test_defaults_of_a_minimal_spec() -> None:
    spec = parse_spec(MINIMAL, Path("x.yaml"))
    program = spec.programs[0]
    assert (program.timeout, program.seed, program.allow_errors, program.part) == (
        600.0, 0, False, "in-lab",
    )  # fmt: skip
    assert spec.tools == [] and spec.prelab == [] and spec.viva == []
    assert len(spec.rubric) == 3


def test_tools_may_be_a_single_string() -> None:
    spec = parse_spec(MINIMAL + "tools: Python\n", Path("x.yaml"))
    assert spec.tools == ["Python"]


def test_yaml_syntax_error_names_file_line_and_column() -> None:
    text = MINIMAL + "theory: [unclosed\n"
    with pytest.raises(SpecError) as info:
        parse_spec(text, Path("experiments/exp1/experiment.yaml"))
    message = info.value.message
    assert message.startswith("experiments/exp1/experiment.yaml:")
    assert "YAML syntax error" in message
    line = int(message.split(":")[1])
    assert line >= 6


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            MINIMAL.replace("title: T", "title T"),
            "e.yaml:2:6: YAML syntax error: missing ':' after the key 'title' (write title: T)",
            id="missing-colon",
        ),
        pytest.param(  # PyYAML: "mapping values are not allowed here" at line 7
            MINIMAL.replace("prog.py", "prog.py\n    timeout 5\n    seed: 3").replace(
                "- code: prog.py", "- code prog.py"
            ),
            "e.yaml:5:9: YAML syntax error: missing ':' after the key 'code' "
            "(write - code: prog.py)",
            id="missing-colon-two-lines-before-pyyaml-noticed",
        ),
        pytest.param(
            "number 1\n" + MINIMAL.split("\n", 1)[1],
            "e.yaml:1:7: YAML syntax error: missing ':' after the key 'number' (write number: 1)",
            id="missing-colon-on-the-first-line",
        ),
        pytest.param(
            MINIMAL + "theory\n  A paragraph\n  of theory.\nresult: r\n",
            "e.yaml:6:7: YAML syntax error: missing ':' after the key 'theory' (write theory:)",
            id="missing-colon-before-a-block",
        ),
        pytest.param(
            MINIMAL.replace("  - code", "\t- code"),
            "e.yaml:5:1: YAML syntax error: a tab used for indentation (YAML indents with spaces "
            "only: replace the tab with spaces)",
            id="tab-indent",
        ),
        pytest.param(
            MINIMAL.replace("title: T", "title: RNN: a study"),
            "e.yaml:2:11: YAML syntax error: ': ' inside an unquoted value (quote the value: "
            "title: 'RNN: a study')",
            id="colon-in-value",
        ),
        pytest.param(
            MINIMAL + '    task: Say "hi": twice  # comment\n',
            "e.yaml:6:19: YAML syntax error: ': ' inside an unquoted value (quote the value: "
            "task: 'Say \"hi\": twice')",
            id="colon-in-nested-value",
        ),
        pytest.param(
            MINIMAL + "theory: An RNN\n  in the sense of: Elman\n",
            "e.yaml:7:18: YAML syntax error: ': ' inside an unquoted value that begins on line 6 "
            "(quote the value, or write it as a block: theory: |, then the text on the lines "
            "below)",
            id="colon-in-multi-line-value",
        ),
        pytest.param(
            MINIMAL.replace("aim: To test.", "aim: To test.\n  theory: Text."),
            "e.yaml:4:9: YAML syntax error: ': ' inside an unquoted value that begins on line 3 "
            "(if theory: is a key, indent it like aim:; else quote the value)",
            id="key-indented-under-a-value",
        ),
    ],
)
def test_yaml_slips_are_named_at_their_line_with_the_fix(text: str, expected: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(text, Path("e.yaml"))
    assert info.value.message == expected


@pytest.mark.parametrize(
    ("line", "field", "expected"),
    [
        ("title: No", "title", "got False (YAML reads No without quotes as false: quote it, 'No')"),
        ("tools: [Python, on]", "tools[1]", "got True (YAML reads on without quotes as true: "
         "quote it, 'on')"),
        ("tools: [Python, Off]", "tools[1]", "got False (YAML reads Off without quotes as false: "
         "quote it, 'Off')"),
        ("title: Yes", "title", "got True (YAML reads Yes without quotes as true: quote it, "
         "'Yes')"),
        ("title: 2025", "title", "got 2025 (YAML reads 2025 without quotes as a number: quote "
         "it, '2025')"),
        ("title:", "title", "got None (give it a value after the ':')"),
    ],
)  # fmt: skip
def test_a_word_yaml_reads_as_no_string_says_to_quote_it(
    line: str, field: str, expected: str
) -> None:
    text = MINIMAL.replace("title: T", line) if field == "title" else MINIMAL + line + "\n"
    with pytest.raises(SpecError) as info:
        parse_spec(text, Path("e.yaml"))
    number = 2 if field == "title" else 6
    assert info.value.message == (
        f"e.yaml:{number}: {field}: input should be a valid string, {expected}"
    )


def test_the_quoted_word_is_the_string() -> None:
    spec = parse_spec(MINIMAL.replace("title: T", "title: 'No'") + "tools: ['on']\n", Path("e"))
    assert (spec.title, spec.tools) == ("No", ["on"])


def test_unknown_key_names_line_and_suggests_the_nearest_field() -> None:
    text = MINIMAL.replace("  - code: prog.py\n", "  - code: prog.py\n    sede: 3\n")
    with pytest.raises(SpecError) as info:
        parse_spec(text, Path("e.yaml"))
    assert info.value.message == "e.yaml:6: programs[0].sede: unknown key; did you mean 'seed'?"


def test_unknown_top_level_key() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(MINIMAL + "therory: text\n", Path("e.yaml"))
    assert info.value.message == "e.yaml:6: therory: unknown key; did you mean 'theory'?"


def test_wrong_type_says_what_is_expected_and_what_was_given() -> None:
    text = MINIMAL + "    seed: zero\n"
    with pytest.raises(SpecError) as info:
        parse_spec(text, Path("e.yaml"))
    message = info.value.message
    assert message.startswith("e.yaml:6: programs[0].seed: ")
    assert "integer" in message and "'zero'" in message


def test_missing_required_field() -> None:
    text = MINIMAL.replace("aim: To test.\n", "")
    with pytest.raises(SpecError) as info:
        parse_spec(text, Path("e.yaml"))
    assert info.value.message == "e.yaml:1: aim: required field is missing"


def test_all_errors_are_reported_at_once() -> None:
    text = "number: five\ntitle: T\nprograms: []\n"
    with pytest.raises(SpecError) as info:
        parse_spec(text, Path("e.yaml"))
    lines = info.value.message.splitlines()
    assert any(line.startswith("e.yaml:1: number:") for line in lines)
    assert any("aim: required field is missing" in line for line in lines)
    assert any(line.startswith("e.yaml:3: programs:") for line in lines)
    # The same problems as data, for validate and anyone else who lists them.
    found = {(p.where, p.field): p for p in info.value.problems}
    assert set(found) == {("e.yaml:1", "number"), ("e.yaml:1", "aim"), ("e.yaml:3", "programs")}
    assert found[("e.yaml:1", "aim")].what == "required field is missing"
    assert {p.exit_code for p in info.value.problems} == {2}
    assert lines == [str(p) for p in info.value.problems]


def test_duplicate_key_is_an_error() -> None:
    with pytest.raises(SpecError, match=r"e.yaml:6: aim: duplicate key"):
        parse_spec(MINIMAL + "aim: again\n", Path("e.yaml"))


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(SpecError, match="top level must be a mapping"):
        parse_spec("- a\n- b\n", Path("e.yaml"))


def test_empty_file() -> None:
    with pytest.raises(SpecError, match="empty file"):
        parse_spec("", Path("e.yaml"))


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 10):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    # Refused by name, before any expansion (which would not finish: 9**10 strings).
    with pytest.raises(SpecError, match="alias bomb"):
        parse_spec("\n".join(lines) + "\n", Path("bomb.yaml"))


def test_missing_code_file(tmp_path: Path) -> None:
    folder = make_experiment(tmp_path, MINIMAL, files=())
    with pytest.raises(SpecError) as info:
        load_experiment(folder, display_root=tmp_path)
    assert info.value.message == (
        "experiments/exp1/experiment.yaml: programs[0].code: no such file 'prog.py' in exp1/"
    )


@pytest.mark.parametrize(
    ("code", "files", "hint"),
    [
        ("gru_sin.py", ("gru_sine.py", "data.csv"), "; did you mean 'gru_sine.py'?"),
        ("src/gru_sin.py", ("src/gru_sine.py", "gru.py"), "; did you mean 'src/gru_sine.py'?"),
        ("train.py", ("gru_sine.py", "data.csv"), ""),
        ("gru_sine", ("gru_sine.csv", "gru_sine.py"), "; did you mean 'gru_sine.py'?"),
        ("gru_sin.py", ("gru_sine.csv",), ""),
        ("gru_sin.py", (".hidden/gru_sine.py",), ""),
    ],
)
def test_a_mistyped_program_path_suggests_the_nearest_file(
    tmp_path: Path, code: str, files: tuple[str, ...], hint: str
) -> None:
    folder = make_experiment(tmp_path, MINIMAL.replace("prog.py", code), files=())
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("print('hi')\n")
    with pytest.raises(SpecError) as info:
        load_experiment(folder, display_root=tmp_path)
    assert info.value.message == (
        f"experiments/exp1/experiment.yaml: programs[0].code: no such file '{code}' in exp1/{hint}"
    )


@pytest.mark.parametrize("code", ["../outside.py", "/etc/passwd"])
def test_code_path_outside_the_experiment_is_refused(tmp_path: Path, code: str) -> None:
    folder = make_experiment(tmp_path, MINIMAL.replace("prog.py", code))
    with pytest.raises(SpecError, match="must be a path inside the experiment folder"):
        load_experiment(folder, display_root=tmp_path)


def test_symlink_pointing_outside_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("print('x')\n")
    folder = make_experiment(tmp_path, MINIMAL.replace("prog.py", "link.py"), files=())
    (folder / "link.py").symlink_to(outside)
    with pytest.raises(SpecError, match="points outside the experiment folder"):
        load_experiment(folder, display_root=tmp_path)


def test_missing_spec_file(tmp_path: Path) -> None:
    folder = tmp_path / "experiments" / "exp1"
    folder.mkdir(parents=True)
    with pytest.raises(SpecError, match="not found"):
        load_experiment(folder, display_root=tmp_path)
