"""Issue 15.3: no input crashes the batch.

Whatever a spec's prose, formulas and checks say, whatever a program records and whatever sits in
the run cache, the worst that can happen is a one-line error for that experiment: its build fails
with exit 1 (2 for a spec error), the experiments beside it are still built, ``validate`` lists a
problem, and no traceback reaches the terminal (exit 70, "internal error", means a bug).

The pure stages -- prose, checks, formulas, the runner's readers, the run cache -- are fuzzed with
many examples; a handful of real builds through the installed console script show the promise
end to end.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from labreport.cache import RunCache
from labreport.capture import read_records as _read_records
from labreport.checks import evaluate_checks
from labreport.errors import RenderError
from labreport.formulas import FormulaError, render_formula
from labreport.prose import ProseRenderer
from labreport.protocol import RECORDS_FILE
from labreport.results import CapturedFigure, CapturedFile, RunResult

from conftest import REPO, copy_project, json_paths, mutated

FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCRIPT = Path(sys.executable).with_name("labreport")
SPEC = Path("experiments/bad/experiment.yaml")

RECORDED = ["x", "name", "items"]  # what the fuzzed runs record
USED = [*RECORDED, "nope"]  # what the fuzzed prose uses: nope is never recorded
_surrogates = st.sampled_from(["\udce9", "\ud800", "a\udcffb", "\udce9\udca9.txt"])
_strings = (
    st.text(max_size=10)
    | _surrogates
    | st.sampled_from(["a*b", "$x$", "{{ 7*7 }}", "<b>", "%00", "}}", "\\frac{"])
)  # fmt: skip
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _strings,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_strings, inner, max_size=3),
    max_leaves=8,
)
_records = st.dictionaries(st.sampled_from(RECORDED), _json, max_size=3)

# --------------------------------------------------------------------------- check expressions

_FILTERS = [
    "round(2)", "int", "float", "abs", "length", "first", "last", "join(', ')", "dictsort",
    "sum", "min", "max", "unique | list", "list", "string", "upper", "tojson", "format(1)",
    "wordwrap(0)", "truncate(3)", "batch(0) | list", "slice(0) | list", "attr('x')",
    "map(attribute='x') | list", "sort(attribute='x')", "groupby('x')", "xmlattr", "default(1)",
    "center(5)", "indent", "replace('a', 'b')", "trim", "urlize", "items", "reverse", "random",
    "filesizeformat", "pprint", "striptags", "title", "wordcount", "select | list", "count",
    "center(10 ** 13)",
]  # fmt: skip
_OPERATORS = [
    "+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", ">", "<=", ">=", "and", "or",
    "in", "not in",
]  # fmt: skip
_atoms = st.sampled_from(
    [f"results.{name}" for name in USED]
    + ["results", "spec.title", "spec", "0", "1", "9", "-2", "0.5", "'a'", "''", "[]", "[1, 2]",
       "{}", "none", "true", "false", "results['x']", "results.items[0]", "results.name.x",
       "range(3)", "lipsum", "99999999", "'a' * 3"]
)  # fmt: skip


def _combine(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return (
        st.tuples(inner, st.sampled_from(_OPERATORS), inner).map(" ".join)
        | inner.map(lambda e: f"({e})")
        | inner.map(lambda e: f"not {e}")
        | st.tuples(inner, st.sampled_from(_FILTERS)).map(" | ".join)
        | st.tuples(inner, st.sampled_from(["defined", "number", "string", "odd"])).map(
            " is ".join
        )
        | inner.map(lambda e: f"{e}[0]")
        | inner.map(lambda e: f"{e}.real")
    )  # fmt: skip


_expressions = st.recursive(_atoms, _combine, max_leaves=6) | st.sampled_from(
    ["(" * 300 + "1" + ")" * 300, "results.x " + "+ 1 " * 2000, "[" * 100 + "]" * 100]
)


def _check_source(expr: str) -> Any:
    """What evaluate_checks reads of an ExperimentSource: the spec's checks."""
    check = SimpleNamespace(claim="The claim about {{ results.x }}.", expr=expr, shows=None)
    return SimpleNamespace(spec=SimpleNamespace(checks=[check]))


def _prose(folder: Path = Path(".")) -> ProseRenderer:
    return ProseRenderer(SPEC, {"title": "T", "number": 1}, folder)  # type: ignore[arg-type]


def _one_line_error(exc: RenderError) -> None:
    message = exc.format_message()
    assert message and "\n" not in message, message
    assert message.startswith(str(SPEC)), message
    message.encode("utf-8")  # the CLI can print it


@FUZZ
@given(_expressions, _records)
def test_a_check_is_true_false_or_a_render_error(expr: str, records: dict[str, Any]) -> None:
    try:
        (view,) = evaluate_checks(_check_source(expr), _prose(), records)
    except RenderError as exc:
        _one_line_error(exc)
        return
    assert view.passed is True or view.passed is False
    str(view.claim).encode("utf-8")


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("results.nope", "uses results.nope, which no program recorded (recorded: items, name"),
        ("results.name", "the expression gives '\ufffd' (a str), not true or false"),
        ("results.items", "the expression gives [1, 2] (a list), not true or false"),
        ("results.none", "the expression gives None (a NoneType), not true or false"),
        ("results.x", "the expression gives 3 (a int), not true or false"),
        ("results.x | string", "the expression gives '3' (a str), not true or false"),
        ("(" * 500 + "1" + ")" * 500, "nested too deeply"),
        ("results.items | dictsort", "AttributeError"),
        ("99999999 ** 99999999", "OverflowError: 99999999 ** 99999999 is too large to compute"),
        ("'a' | center(10 ** 13) == 'a'", "too large to compute"),
    ],
)
def test_checks_that_are_no_verdict_name_their_field(expr: str, message: str) -> None:
    records = {"x": 3, "name": "\ufffd", "items": [1, 2], "none": None}
    with pytest.raises(RenderError) as caught:
        evaluate_checks(_check_source(expr), _prose(), records)
    _one_line_error(caught.value)
    assert f"{SPEC}: checks[0].expr: {message}" in caught.value.format_message()


# --------------------------------------------------------------------------- prose and formulas


def _formula(depth: int) -> str:
    return "$" + "\\frac{" * depth + "x" + "}{2}" * depth + "$"


_pieces = st.sampled_from(
    [" ", "\n\n", "text", "*em*", "`code`", "# Head\n", "- item\n", "| a | b |\n|---|---|\n",
     "> quote\n", "[link](http://x)", "![pic](pic.png)", "![pic](%00.png)", "![pic](../up.png)",
     "![pic](.)", "$x^2$", "$$\\sum_i x_i$$", "$\\frac{a}{b}$", "$\\unknowncommand$", "$x_$",
     "{{ 7*7 }}", "{% include 'x' %}", "{{ spec.title }}", "{% raw %}{{ x }}{% endraw %}",
     "{{", "}}", "{%", "{#", "#}", "$", "\\", "<script>", "&amp;",
     "{% if results.x > 0 %}up{% else %}down{% endif %}",
     "{% for v in results.items %}{{ v }}{% endfor %}", "{% for v in results.x %}{% endfor %}",
     "$x = {{ results.name }}$", _formula(40), "[" * 60 + "]" * 60, "*" * 80]
)  # fmt: skip
_placeholders = _expressions.map(lambda e: "{{ " + e + " }}")
# A spec's own text is valid Unicode (the loader refuses a lone surrogate); a recorded value
# need not be.
_texts = st.lists(_pieces | _placeholders | st.text(max_size=10), max_size=8).map("".join)


@FUZZ
@given(_texts, _records, st.booleans())
def test_prose_is_html_or_a_render_error(text: str, records: dict[str, Any], inline: bool) -> None:
    prose = _prose(REPO / "tests" / "projects" / "mini" / "experiments" / "alpha")
    render = prose.inline if inline else prose.block
    try:
        html = render(text, "aim", records)
    except RenderError as exc:
        _one_line_error(exc)
        return
    assert isinstance(html, Markup)
    html.encode("utf-8")  # the record can be written, and laid out as a PDF


_tex = st.lists(
    st.sampled_from(
        ["\\frac{", "}", "{", "x", "^", "_", "\\sqrt", "[", "]", "\\left(", "\\right)", "\\sum",
         "\\mathrm{", "\\hat", " ", "\\", "é", "\udce9", "%", "&", "#", "\\begin", "'"]
    ),
    max_size=10,
).map("".join)  # fmt: skip


@FUZZ
@given(_tex | st.integers(0, 60).map(lambda depth: _formula(depth)[1:-1]))
def test_a_formula_is_drawn_or_a_formula_error(tex: str) -> None:
    try:
        formula = render_formula(tex)
    except FormulaError as exc:
        assert "\n" not in str(exc)
        str(exc).encode("utf-8")
        return
    formula.svg.decode("utf-8")
    formula.img(True, tex).encode("utf-8", "surrogatepass")  # alt text is the TeX as written


def test_a_formula_nested_forty_deep_is_an_error_of_its_field() -> None:
    with pytest.raises(RenderError) as caught:
        _prose().block(f"The ratio {_formula(40)}.", "theory", {})
    _one_line_error(caught.value)
    assert "theory: cannot typeset" in caught.value.format_message()
    assert "nested too deeply (at most 12 levels of braces)" in caught.value.format_message()
    assert "<img" in _prose().block(f"Still drawn: {_formula(3)}", "theory", {})


# --------------------------------------------------------------------------- the runner's reader

_lines = st.lists(
    st.builds(lambda name, value: json.dumps({"name": name, "value": value}), _strings, _json)
    | st.sampled_from(['{"name": "x"', "[1, 2]", '"text"', "{}", '{"value": 1}', "\x00", "["])
    | st.sampled_from(["[" * 5000 + "]" * 5000]),
    max_size=5,
)


def _valid_unicode(value: Any) -> None:
    json.dumps(value, ensure_ascii=False, allow_nan=True).encode("utf-8")


@FUZZ
@given(_lines)
def test_recorded_values_come_back_as_valid_unicode(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str]
) -> None:
    folder = tmp_path_factory.mktemp("results")
    (folder / RECORDS_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    records = _read_records(folder)
    _valid_unicode(records)
    # ... and they survive the run cache as they are.
    cache = RunCache(folder / "cache")
    cache.put("k" * 64, RunResult("p.py", "ok", "", records=records))
    again = cache.get("k" * 64)
    assert again is not None and again.records == records


def test_a_lone_surrogate_is_shown_as_a_replacement_character(tmp_path: Path) -> None:
    (tmp_path / RECORDS_FILE).write_text(
        json.dumps({"name": "name", "value": "caf\udce9"}) + "\n"
        + json.dumps({"name": "files", "value": {"\udce9": ["\ud800"]}}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    assert _read_records(tmp_path) == {"name": "caf\ufffd", "files": {"\ufffd": ["\ufffd"]}}


# --------------------------------------------------------------------------- the run cache


def _result() -> RunResult:
    return RunResult(
        "p.py", "ok", "out\n", figures=(CapturedFigure(1, "<svg/>", "t"),),
        records={"x": 1, "name": "n"}, exit_code=0, duration=0.5, environment={"threads": "1"},
        files=(CapturedFile("a.csv", "text/csv", "a,b\n"),), line=None,
    )  # fmt: skip


_PAYLOAD = json.loads(json.dumps({k: v for k, v in asdict(_result()).items() if k != "cached"}))
_PAYLOAD_PATHS = json_paths(_PAYLOAD)


def _write_entry(cache: RunCache, key: str, payload: Any) -> Path:
    """An entry with a valid checksum, whatever its payload."""
    body = json.dumps(payload, sort_keys=True)
    entry = {"sha256": hashlib.sha256(body.encode()).hexdigest(), "payload": payload}
    path = cache.root / key[:2] / f"{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entry), encoding="utf-8")
    return path


def _well_typed(result: RunResult) -> None:
    for figure in result.figures:
        assert isinstance(figure, CapturedFigure) and isinstance(figure.svg, str)
        assert isinstance(figure.number, int) and isinstance(figure.title, str)
    for file in result.files:
        assert isinstance(file, CapturedFile) and isinstance(file.data, str)
        assert isinstance(file.binary, bool) and isinstance(file.name, str)
    assert isinstance(result.records, dict) and isinstance(result.output, str)
    assert all(isinstance(v, str) for v in result.environment.values())
    assert result.status in ("ok", "error", "timeout", "memory", "killed")
    _valid_unicode(asdict(result))


@FUZZ
@given(st.sampled_from(_PAYLOAD_PATHS), _json, st.booleans())
def test_a_cache_entry_of_another_shape_is_run_again(
    tmp_path_factory: pytest.TempPathFactory, path: tuple[Any, ...], value: Any, delete: bool
) -> None:
    payload = mutated(json.loads(json.dumps(_PAYLOAD)), path, value, delete)
    cache = RunCache(tmp_path_factory.mktemp("cache"))
    entry = _write_entry(cache, "ab" * 32, payload)
    result = cache.get("ab" * 32)
    if result is None:
        assert not entry.exists(), "a corrupted entry is removed"
    else:
        _well_typed(result)
        assert result.cached


@pytest.mark.parametrize(
    "payload",
    [
        {k: v for k, v in _PAYLOAD.items() if k != "records"},
        {**_PAYLOAD, "figures": ["<svg/>"]},
        {**_PAYLOAD, "figures": [{"number": "1", "svg": "<svg/>", "title": ""}]},
        {**_PAYLOAD, "records": [1, 2]},
        {**_PAYLOAD, "status": "fine"},
        {**_PAYLOAD, "duration": "fast"},
        {**_PAYLOAD, "environment": {"threads": 1}},
        {**_PAYLOAD, "records": {"name": "\udce9"}},
        {**_PAYLOAD, "extra": 1},
        [],
        "payload",
    ],
    ids=["missing-key", "figure-not-a-dict", "figure-number-text", "records-list", "status",
         "duration-text", "environment-number", "surrogate", "extra-key", "list", "string"],
)  # fmt: skip
def test_a_wrong_shape_with_a_valid_checksum_is_corrupted(tmp_path: Path, payload: Any) -> None:
    cache = RunCache(tmp_path)
    entry = _write_entry(cache, "cd" * 32, payload)
    assert cache.get("cd" * 32) is None
    assert not entry.exists()
    cache.put("cd" * 32, _result())
    assert cache.get("cd" * 32) == replace(_result(), cached=True)


# --------------------------------------------------------------------------- real builds

BUILDS = settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
_PROGRAM = """\
import json
from labreport.record import record

for name, value in json.load(open("values.json", encoding="utf-8")).items():
    record(name, value)
print("recorded")
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mini's ``alpha`` (the good neighbour) and an experiment ``bad`` that each test rewrites."""
    root = copy_project("mini", tmp_path_factory.mktemp("crash") / "mini")
    shutil.rmtree(root / "experiments" / "beta")
    (root / "experiments" / "bad").mkdir()
    (root / "experiments" / "bad" / "prog.py").write_text(_PROGRAM, encoding="utf-8")
    return root


def labreport(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    paths = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]  # this checkout's code
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.run(
        [str(SCRIPT), *args], cwd=root, capture_output=True, text=True, timeout=300, env=env,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def write_bad(root: Path, values: dict[str, Any], **fields: Any) -> None:
    folder = root / "experiments" / "bad"
    spec = {"number": 9, "title": "Bad", "aim": "To break.", "programs": [{"code": "prog.py"}]}
    (folder / "experiment.yaml").write_text(json.dumps({**spec, **fields}), encoding="utf-8")
    (folder / "values.json").write_text(json.dumps(values), encoding="utf-8")


def build_both(root: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """``build bad alpha``, with alpha's record removed so that it has to be written again."""
    for old in (root / "build").glob("alpha.*"):
        old.unlink()
    result = labreport(root, "build", "bad", "alpha", *options)
    shown = result.stdout + result.stderr
    assert "Traceback" not in shown and "internal error" not in shown, shown
    assert result.returncode != 70, shown
    assert (root / "build" / "alpha.html").is_file(), f"the neighbour was not built:\n{shown}"
    return result


def validate_quietly(root: Path) -> subprocess.CompletedProcess[str]:
    result = labreport(root, "validate")
    shown = result.stdout + result.stderr
    assert result.returncode in (0, 1, 2), shown
    assert "Traceback" not in shown and "internal error" not in shown, shown
    return result


def errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


CASES = {
    "formula-40-deep": (
        {"x": 1}, {"theory": f"The ratio {_formula(40)} is drawn."}, 1,
        "theory: cannot typeset $\\frac{",
    ),
    "bare-unrecorded-check": (
        {"x": 1}, {"checks": [{"claim": "Bare.", "expr": "results.nope"}]}, 1,
        "checks[0].expr: uses results.nope, which no program recorded (recorded: x)",
    ),
    "string-check": (
        {"name": "adam"}, {"checks": [{"claim": "Named.", "expr": "results.name"}]}, 1,
        "checks[0].expr: the expression gives 'adam' (a str), not true or false",
    ),
    "nested-placeholder": (
        {"x": 1}, {"result": "{{ " + "(" * 400 + "results.x" + ")" * 400 + " }}"}, 1,
        "result: nested too deeply",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_a_bad_experiment_fails_alone(project: Path, case: str) -> None:
    values, fields, code, message = CASES[case]
    write_bad(project, values, **fields)
    result = build_both(project, "--format", "html")
    assert result.returncode == code, result.stderr
    (error,) = errors(result)
    assert message in error, error
    validate_quietly(project)


def test_a_recorded_lone_surrogate_is_shown_and_laid_out(project: Path) -> None:
    """``os.listdir`` gives "\\udce9" for a file named in Latin-1: recorded, cached, shown in
    prose, a formula and a check, in the HTML and the PDF."""
    values = {"name": "caf\udce9.txt", "files": {"\udce9": ["\ud800"]}}
    write_bad(
        project, values, result="Read {{ results.name }}, $f = {{ results.name }}$.",
        checks=[{"claim": "Named {{ results.files }}.", "expr": "results.name != ''"}],
    )  # fmt: skip
    for _ in range(2):  # run, then from the run cache
        result = build_both(project)
        assert result.returncode == 0, result.stderr
        html = (project / "build" / "bad.html").read_text(encoding="utf-8")
        assert "caf\ufffd.txt" in html
        assert (project / "build" / "bad.pdf").read_bytes().startswith(b"%PDF")
    assert "from cache" in result.stderr


def test_a_cache_entry_of_a_wrong_shape_is_run_again_in_a_build(project: Path) -> None:
    write_bad(project, {"x": 1}, result="x is {{ results.x }}.")
    assert build_both(project, "--format", "html").returncode == 0
    entries = list((project / ".labreport" / "cache").rglob("*.json"))
    runs = [path for path in entries if "payload" in path.read_text(encoding="utf-8")]
    assert len(runs) >= 2  # bad's and alpha's (and the earlier tests' runs of bad)
    for path in runs:  # every run's entry: a valid checksum over a payload of another shape
        payload = json.loads(path.read_text(encoding="utf-8"))["payload"]
        payload["figures"], payload["records"] = ["not a figure"], None
        body = json.dumps(payload, sort_keys=True)
        entry = {"sha256": hashlib.sha256(body.encode()).hexdigest(), "payload": payload}
        path.write_text(json.dumps(entry), encoding="utf-8")
    (project / "build" / "bad.html").unlink()  # so that bad is built again, from the cache
    result = build_both(project, "--format", "html")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("is corrupted") == 2, result.stderr
    assert "x is 1." in (project / "build" / "bad.html").read_text(encoding="utf-8")


@BUILDS
@given(_texts, _expressions, _records)
def test_random_prose_checks_and_values_fail_one_experiment_at_most(
    project: Path, text: str, expr: str, values: dict[str, Any]
) -> None:
    write_bad(project, values, result=text, checks=[{"claim": "Claimed.", "expr": expr}])
    result = build_both(project, "--format", "html")
    assert result.returncode in (0, 1, 2), result.stderr
    assert len(errors(result)) == (result.returncode != 0), result.stderr
    validate_quietly(project)
