"""Every row of the exit-status table, through the installed ``labreport`` script and
``python -m labreport`` in a subprocess: what a shell, a CI job or a Makefile sees.

``CliRunner`` runs click in standalone mode, so it cannot see what the console script's own
``main()`` does with a failure; a failed build once exited 0 for a whole round because of that.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labreport.errors import EXIT_CODES

from conftest import REPO, copy_project

SCRIPT = Path(sys.executable).with_name("labreport")
ENTRY_POINTS = {
    "script": [str(SCRIPT)],
    "module": [sys.executable, "-m", "labreport"],
}

_CHECKED = """\
number: 9
title: A claim the run does not bear out
aim: To check --strict.
programs:
  - code: measure.py
checks:
  - claim: The error is tiny.
    expr: results.train_mse < 0.01
"""

_SLEEPER = """\
import time
print("sleeping", flush=True)
time.sleep(120)
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The faulty project (crash, allowed, undefined) plus a spec typo and a failing check."""
    root = copy_project("faulty", tmp_path_factory.mktemp("exit") / "faulty")
    experiments = root / "experiments"
    typo = experiments / "typo"
    shutil.copytree(experiments / "undefined", typo)
    spec = (typo / "experiment.yaml").read_text(encoding="utf-8")
    (typo / "experiment.yaml").write_text(spec.replace("  - code:", "  - cod:"), encoding="utf-8")
    checked = experiments / "checked"
    shutil.copytree(experiments / "undefined", checked)
    (checked / "experiment.yaml").write_text(_CHECKED, encoding="utf-8")
    return root


def labreport(
    cwd: Path, *args: str, entry: str = "script", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ENTRY_POINTS[entry], *args], cwd=cwd, capture_output=True, text=True, timeout=300,
        env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


def test_the_console_script_is_installed() -> None:
    assert SCRIPT.is_file(), f"no labreport script beside {sys.executable}"


# ---------------------------------------------------------------------------- 0: all built


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_a_good_build_exits_0_and_a_failed_check_alone_only_warns(
    project: Path, tmp_path: Path, entry: str
) -> None:
    out = tmp_path / "out"
    result = labreport(project, "build", "checked", "--format", "html", "--out", str(out),
                       entry=entry)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (out / "checked.html").is_file()
    assert "Warning: checked: check failed: The error is tiny." in result.stderr
    again = labreport(project, "build", "checked", "--format", "html", "--out", str(out),
                      entry=entry)  # fmt: skip
    assert again.returncode == 0 and "checked: up to date" in again.stderr


# ---------------------------------------------------------------------------- 1: failures


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_a_failing_program_exits_1(project: Path, tmp_path: Path, entry: str) -> None:
    result = labreport(project, "build", "crash", "--out", str(tmp_path), entry=entry)
    assert result.returncode == 1, result.stderr
    assert errors(result) == [
        "Error: crash: boom.py failed at line 2: ValueError: the data file is empty "
        "(fix the program, or set allow_errors: true to render the failure)"
    ]
    assert "Traceback" not in result.stderr


def test_debug_shows_the_programs_own_traceback(project: Path, tmp_path: Path) -> None:
    result = labreport(project, "build", "crash", "--out", str(tmp_path), "--debug")
    assert result.returncode == 1, result.stderr
    shown = result.stderr[result.stderr.index("Traceback (most recent call last):") :]
    assert 'File "boom.py", line 2, in <module>' in shown
    assert "runpy" not in shown and "labreport" not in shown.split("Error:")[0]
    assert shown.rstrip().splitlines()[-1].startswith("Error: crash: boom.py failed at line 2")


def test_prose_that_cannot_be_rendered_exits_1(project: Path, tmp_path: Path) -> None:
    result = labreport(project, "build", "undefined", "--format", "html", "--out", str(tmp_path))
    assert result.returncode == 1, result.stderr
    [line] = errors(result)
    assert line.startswith("Error: experiments/undefined/experiment.yaml: result:")
    assert "test_mse" in line


def test_a_failed_check_under_strict_exits_1(project: Path, tmp_path: Path) -> None:
    result = labreport(
        project, "build", "checked", "--strict", "--format", "html", "--out", str(tmp_path)
    )
    assert result.returncode == 1, result.stderr
    [line] = errors(result)
    assert "1 check(s) failed under --strict: The error is tiny." in line
    assert not (tmp_path / "checked.html").exists()


def test_one_failure_in_a_batch_exits_1_and_the_others_are_built(
    project: Path, tmp_path: Path
) -> None:
    result = labreport(
        project, "build", "allowed", "crash", "--format", "html", "--out", str(tmp_path)
    )
    assert result.returncode == 1, result.stderr
    assert (tmp_path / "allowed.html").is_file()
    assert "1 built" in result.stderr and "1 failed" in result.stderr


def test_validate_exits_1_for_what_would_fail_the_build(project: Path) -> None:
    result = labreport(project, "validate", "undefined")
    assert result.returncode == 1, result.stderr
    assert "uses results.test_mse, which no program recorded" in result.stderr


def test_a_book_whose_experiment_fails_exits_1(tmp_path: Path) -> None:
    root = copy_project("faulty", tmp_path / "faulty")
    shutil.rmtree(root / "experiments" / "undefined")
    result = labreport(root, "book", "--out", str(tmp_path / "out"))
    assert result.returncode == 1, result.stderr
    assert "Error: crash: boom.py failed" in result.stderr
    assert not (tmp_path / "out" / "lab-record.pdf").exists()


def test_list_shows_the_good_experiments_marks_a_broken_one_and_exits_1(project: Path) -> None:
    result = labreport(project, "list")
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        "ID         NO.  TITLE                                    THEME",
        "allowed    2    A crash that is part of the lesson       classic",
        "checked    9    A claim the run does not bear out        classic",
        "crash      1    A program that crashes                   classic",
        "typo       (broken: programs[0].code: required field is missing; and 1 more problem(s))",
        "undefined  3    Prose that uses a value nobody recorded  classic",
    ]
    assert errors(result) == [
        "Error: experiments/typo/experiment.yaml:5: programs[0].code: required field is missing",
        "Error: experiments/typo/experiment.yaml:5: programs[0].cod: unknown key; did you mean "
        "'code'?",
    ]


# ---------------------------------------------------------------------------- 2: bad input


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_a_spec_typo_exits_2(project: Path, tmp_path: Path, entry: str) -> None:
    result = labreport(project, "build", "typo", "--out", str(tmp_path), entry=entry)
    assert result.returncode == 2, result.stderr
    lines = errors(result)  # each problem its own Error: line, as `list` and `validate` show them
    assert len(lines) == 2, result.stderr
    for line in lines:
        assert re.match(r"Error: experiments/typo/experiment.yaml:\d+: programs\[0\]", line), line


def test_validate_exits_2_for_a_spec_typo(project: Path) -> None:
    result = labreport(project, "validate", "typo")
    assert result.returncode == 2, result.stderr
    assert "experiments/typo/experiment.yaml" in result.stderr


def test_a_mistyped_theme_exits_2_and_suggests_the_nearest(tmp_path: Path) -> None:
    root = copy_project("faulty", tmp_path / "faulty")
    spec = root / "experiments" / "crash" / "experiment.yaml"
    spec.write_text(spec.read_text(encoding="utf-8") + "theme: clasic\n", encoding="utf-8")
    expected = (
        "Error: experiments/crash/experiment.yaml: theme: unknown theme 'clasic'; "
        "did you mean 'classic'?"
    )
    for command in (["build", "crash"], ["validate", "crash"]):
        result = labreport(root, *command)
        assert result.returncode == 2, result.stderr
        assert errors(result)[0] == expected, command
    option = labreport(root, "build", "allowed", "--theme", "worksheeet")
    assert option.returncode == 2, option.stderr
    assert errors(option) == [
        "Error: --theme: unknown theme 'worksheeet'; did you mean 'worksheet'?"
    ]
    assert not (root / "build").exists(), "found before anything ran"


def test_a_book_with_a_broken_spec_exits_2(project: Path, tmp_path: Path) -> None:
    result = labreport(project, "book", "--out", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert any("experiments/typo/experiment.yaml" in line for line in errors(result))


def test_an_unknown_experiment_exits_2(project: Path) -> None:
    result = labreport(project, "build", "crsh")
    assert result.returncode == 2
    assert errors(result)[0].startswith("Error: unknown experiment 'crsh' (did you mean 'crash'?)")


def test_a_bad_project_file_exits_2(tmp_path: Path) -> None:
    root = copy_project("faulty", tmp_path / "faulty")
    (root / "labreport.toml").write_text("[course\n", encoding="utf-8")
    result = labreport(root, "list")
    assert result.returncode == 2, result.stderr
    [line] = errors(result)
    assert re.match(r"Error: .*labreport.toml: invalid TOML: ", line), line


def test_outside_any_project_exits_2(tmp_path: Path) -> None:
    result = labreport(tmp_path, "build", "exp5")
    assert result.returncode == 2
    assert errors(result)[0].startswith("Error: no labreport.toml in ")


@pytest.mark.parametrize(
    "args", [["build", "crash", "--format", "epub"], ["build"], ["buidl"], ["build", "--jobs", "0"]]
)
def test_a_wrong_option_or_command_exits_2(project: Path, args: list[str]) -> None:
    result = labreport(project, *args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------------- 70: a bug

_BUG = """\
import labreport.build

def broken(self, exp_id):
    raise RuntimeError("a bug planted by the test")

labreport.build.Builder.build = broken
"""


def test_an_internal_error_exits_70_in_one_line(project: Path, tmp_path: Path) -> None:
    """A bug, planted through ``sitecustomize`` (the product has no hook for it): one line that
    says to report it, exit 70; ``--debug`` shows the traceback."""
    (tmp_path / "sitecustomize.py").write_text(_BUG, encoding="utf-8")
    paths = [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    result = labreport(project, "build", "crash", "--out", str(tmp_path), env=env)
    assert result.returncode == 70, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: internal error in labreport: RuntimeError: a bug planted by the test "
        "(run again with --debug for the traceback, and please report it)"
    )
    for args in (["--debug", "build", "crash"], ["build", "crash", "--debug"]):
        debug = labreport(project, *args, "--out", str(tmp_path), env=env)
        assert debug.returncode != 0, args
        assert "Traceback (most recent call last)" in debug.stderr, args
        assert "RuntimeError: a bug planted by the test" in debug.stderr, args


@pytest.mark.parametrize(
    "args",
    [["--debug", "build", "crsh"], ["build", "crsh", "--debug"], ["build", "--debug", "crsh"]],
)
def test_debug_before_or_after_the_command_shows_the_traceback_of_a_user_error(
    project: Path, args: list[str]
) -> None:
    result = labreport(project, *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("Traceback (most recent call last):\n"), result.stderr
    assert "labreport.errors.UnknownExperimentError: unknown experiment 'crsh'" in result.stderr
    assert errors(result)[-1].startswith("Error: unknown experiment 'crsh' (did you mean")
    plain = labreport(project, "build", "crsh")
    assert "Traceback" not in plain.stderr, "without --debug, one line"


# ---------------------------------------------------------------------------- 130: Ctrl-C


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_build_exits_130(tmp_path: Path, signum: int) -> None:
    (tmp_path / "labreport.toml").write_text("", encoding="utf-8")
    sleeper = tmp_path / "experiments" / "sleeper"
    sleeper.mkdir(parents=True)
    (sleeper / "experiment.yaml").write_text(
        "number: 1\ntitle: Sleeps\naim: To be interrupted.\nprograms:\n  - code: sleep.py\n",
        encoding="utf-8",
    )
    (sleeper / "sleep.py").write_text(_SLEEPER, encoding="utf-8")
    command = [str(SCRIPT), "build", "sleeper", "--format", "html"]
    proc = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stderr is not None
    started, seen = False, []
    deadline = time.monotonic() + 120  # a bound on a hang, not a measurement
    while not started and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        started = "running sleep.py" in line
    assert started, f"the program never started: {seen}"
    time.sleep(0.5)  # let it reach its sleep; the interrupt must work at any point anyway
    proc.send_signal(signum)
    _, rest = proc.communicate(timeout=60)
    assert proc.returncode == 130, rest
    assert "Traceback" not in rest
    assert not (tmp_path / "build" / "sleeper.html").exists()


# ---------------------------------------------------------------------------- the table


def test_readme_and_help_show_the_same_table() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    shown = subprocess.run(
        [str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    help_text = " ".join(shown.split())
    for code, meaning in EXIT_CODES:
        assert f"| {code} | {meaning} |" in readme, f"README lacks the row for {code}"
        assert f"{code} {meaning}" in help_text, f"--help lacks the row for {code}"
