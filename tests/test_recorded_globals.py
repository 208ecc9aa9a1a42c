"""A program's recorded values can be its own global variables, named by the spec's ``record:``,
so a course program needs no labreport import (#16). Built through the installed ``labreport``
script, as a teacher builds, with the records parsed from the HTML; one project is built once
for the runs that succeed, and each failure or rebuild has a project of its own."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from labreport.errors import SpecError
from labreport.protocol import RunRequest
from labreport.runner import run_program
from labreport.spec import parse_spec

SCRIPT = Path(sys.executable).with_name("labreport")

# Each experiment: its program, its record: entry and its result prose (the classic theme shows
# the experiment's result in section.result).
PLAIN = (
    """\
    import numpy as np

    test_mse = np.float32(0.25)  # converted as record() converts it
    EPOCHS = 7
    curve = np.array([1.0, 0.5])
    print("trained")
    """,
    "[test_mse, epochs: EPOCHS, curve]",
    "mse={{ results.test_mse }} epochs={{ results.epochs }} curve={{ results.curve }}",
)
MIXED = (
    """\
    from labreport.record import record


    def mean(values):
        result = sum(values) / len(values)
        record("inner_mean", result)  # computed in a function: record() stays
        return result


    total = 3 * mean([1, 2, 3])
    """,
    "[total]",
    "total={{ results.total }} mean={{ results.inner_mean }}",
)
EXITS = (
    """\
    import sys

    answer = 42


    def finish():
        sys.exit(0)


    finish()
    answer = 0  # never reached
    """,
    "[answer]",
    "answer={{ results.answer }}",
)


def _spec(record: str, result: str, extra: str = "") -> str:
    return (
        "number: 1\ntitle: Globals\naim: To record globals.\nprograms:\n  - code: prog.py\n"
        f"    record: {record}\n{extra}result: '{result}'\n"
    )


def _experiment(root: Path, exp: str, program: str, record: str, result: str) -> None:
    folder = root / "experiments" / exp
    folder.mkdir(parents=True)
    (folder / "prog.py").write_text(textwrap.dedent(program), encoding="utf-8")
    (folder / "experiment.yaml").write_text(_spec(record, result), encoding="utf-8")


def _project(root: Path, **experiments: tuple[str, str, str]) -> Path:
    root.mkdir(parents=True)
    (root / "labreport.toml").write_text('[course]\ntitle = "T"\n', encoding="utf-8")
    for exp, (program, record, result) in experiments.items():
        _experiment(root, exp, program, record, result)
    return root


def labreport(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, timeout=300,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _result(root: Path, exp: str) -> str:
    """The text of the record's Result section, without its label."""
    soup = BeautifulSoup((root / "build" / f"{exp}.html").read_text(), "html.parser")
    section = soup.select_one("section.result")
    section.select_one(".label").decompose()
    return " ".join(section.get_text(" ").split())


def _error_line(done: subprocess.CompletedProcess[str]) -> str:
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, done.stderr
    return errors[0]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = _project(
        tmp_path_factory.mktemp("globals") / "lab", plain=PLAIN, mixed=MIXED, exits=EXITS
    )
    done = labreport(root, "build", "plain", "mixed", "exits", "--format", "html")
    assert done.returncode == 0, done.stderr
    return root


def test_module_level_values_named_in_the_spec_are_in_the_record(built: Path) -> None:
    assert _result(built, "plain") == "mse=0.25 epochs=7 curve=[1.0, 0.5]"


def test_named_globals_and_record_calls_in_one_program(built: Path) -> None:
    assert _result(built, "mixed") == "total=6.0 mean=2.0"


def test_sys_exit_0_still_records_the_globals_of_that_moment(built: Path) -> None:
    assert _result(built, "exits") == "answer=42"


def test_validate_counts_the_named_globals_as_recorded(built: Path) -> None:
    assert labreport(built, "validate", "plain", "mixed", "exits").returncode == 0
    spec = built / "experiments" / "plain" / "experiment.yaml"
    spec.write_text(spec.read_text().replace("results.curve", "results.curv"))
    done = labreport(built, "validate", "plain")
    assert done.returncode != 0
    assert "uses results.curv, which no program recorded (recorded: curve, epochs, test_mse)" in (
        done.stderr + done.stdout
    )


def test_a_missing_global_fails_the_build_with_one_line(tmp_path: Path) -> None:
    program = "test_mse = 0.5\n"
    root = _project(tmp_path / "lab", missing=(program, "[test_mse, epochs: EPOCHS]", "x"))
    done = labreport(root, "build", "missing", "--format", "html")
    assert done.returncode == 1
    assert _error_line(done).startswith(
        "Error: missing: prog.py failed: record: no global variable 'EPOCHS' at the end of "
        "prog.py; define it at module level, or record it with record() instead"
    )
    assert not (root / "build" / "missing.html").exists()


def test_several_missing_globals_are_named_together(tmp_path: Path) -> None:
    root = _project(tmp_path / "lab", missing=("pass\n", "[a, b]", "x"))
    done = labreport(root, "build", "missing", "--format", "html")
    assert done.returncode == 1
    assert "record: no global variables 'a', 'b' at the end of prog.py; define them at " in (
        _error_line(done)
    )


def test_a_global_that_cannot_be_recorded_fails_the_build(tmp_path: Path) -> None:
    root = _project(tmp_path / "lab", unrecordable=("import sys\n", "[sys]", "x"))
    done = labreport(root, "build", "unrecordable", "--format", "html")
    assert done.returncode == 1
    assert (
        "record: the global variable 'sys' of prog.py cannot be recorded: record(module): only "
        "numbers, strings, booleans and lists/dicts of them can be recorded"
    ) in _error_line(done)


def test_a_failed_program_records_no_globals(tmp_path: Path) -> None:
    """A crash is the program's error, not a missing global's."""
    program = "value = 1\nraise RuntimeError('broken')\n"
    root = _project(tmp_path / "lab", crash=(program, "[value, never]", "x"))
    done = labreport(root, "build", "crash", "--format", "html")
    assert done.returncode == 1
    line = _error_line(done)
    assert "RuntimeError: broken" in line and "global variable" not in line


def test_the_record_list_is_part_of_the_run_cache_key(tmp_path: Path) -> None:
    program = "first = 1\nsecond = 2\n"
    root = _project(tmp_path / "lab", cached=(program, "[first]", "first={{ results.first }}"))
    spec = root / "experiments" / "cached" / "experiment.yaml"
    assert labreport(root, "build", "cached", "--format", "html").returncode == 0
    # Prose only: the run comes from the cache (so the next step can tell a rerun).
    spec.write_text(spec.read_text().replace("first={{", "First={{"))
    done = labreport(root, "build", "cached", "--format", "html")
    assert "(0 runs, 1 from cache)" in done.stderr, done.stderr
    spec.write_text(
        spec.read_text()
        .replace("[first]", "[first, second]")
        .replace("'First=", "'second={{ results.second }} First=")
    )  # fmt: skip
    done = labreport(root, "build", "cached", "--format", "html")
    assert done.returncode == 0, done.stderr
    assert "(1 run, 0 from cache)" in done.stderr
    assert _result(root, "cached") == "second=2 First=1"


def test_a_run_without_the_warm_interpreter_records_them_too(tmp_path: Path) -> None:
    folder = tmp_path / "exp"
    folder.mkdir()
    (folder / "prog.py").write_text(textwrap.dedent(EXITS[0]), encoding="utf-8")
    result = run_program(folder, "prog.py", recorded_globals=[("the_answer", "answer")])
    assert result.status == "ok", result.output
    assert result.records == {"the_answer": 42}


# ---- the spec field and the request, without running anything


def test_the_request_carries_the_pairs_and_reads_old_and_short_forms() -> None:
    request = RunRequest("prog.py", recorded_globals=(("epochs", "EPOCHS"),))
    assert RunRequest.from_json(request.to_json()) == request
    assert RunRequest.from_dict({"program": "p.py"}).recorded_globals == ()
    short = RunRequest.from_dict({"program": "p.py", "recorded_globals": ["loss"]})
    assert short.recorded_globals == (("loss", "loss"),)


def test_the_spec_reads_names_and_name_variable_pairs() -> None:
    spec = parse_spec(_spec("[test_mse, epochs: EPOCHS]", "x"), Path("e.yaml"))
    assert spec.programs[0].recorded_globals == (("test_mse", "test_mse"), ("epochs", "EPOCHS"))
    assert parse_spec(_spec("loss", "x"), Path("e.yaml")).programs[0].record == ["loss"]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ("[test-mse]", "the entry 'test-mse' is not a variable name: list the program's global "
         "variables by name, e.g. [test_mse, epochs: EPOCHS]"),
        ("[class]", "the entry 'class' is not a variable name"),
        ("[epochs: 10]", "the entry 10 is not a variable name"),
        ("[{a: A, b: B}]", "the entry {'a': 'A', 'b': 'B'} gives 2 names: write each "
         "name: VARIABLE as an entry of its own"),
        ("[loss, loss: LOSS]", "the name loss is recorded twice: name it once"),
    ],
)  # fmt: skip
def test_a_wrong_entry_is_an_error_of_the_field(record: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(_spec(record, "x"), Path("e.yaml"))
    assert caught.value.format_message().startswith(f"e.yaml:6: programs[0].record: {message}")


def test_a_misspelt_key_suggests_record() -> None:
    text = _spec("[a]", "x").replace("record:", "recrod:")
    with pytest.raises(
        SpecError, match=r"programs\[0\]\.recrod: unknown key; did you mean 'record'"
    ):
        parse_spec(text, Path("e.yaml"))
