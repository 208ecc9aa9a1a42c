"""The command line: help, version, listing, and the one-line errors with their exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from labreport import __version__
from labreport.cli import cli

from conftest import REPO, copy_project


def invoke(*args: str) -> tuple[int, str]:
    """Exit code, and stdout for success or stderr for failure (progress goes to stderr)."""
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout if result.exit_code == 0 else result.stderr


@pytest.mark.parametrize("command", [[], ["build"], ["list"], ["verify"]])
def test_help_explains_every_command(command: list[str]) -> None:
    code, output = invoke(*command, "--help")
    assert code == 0
    target = cli.commands[command[0]] if command else cli
    # The usage line, the first line of the docstring and every option or subcommand.
    assert output.startswith("Usage: ") and " ".join(command) in output.splitlines()[0]
    assert (target.help or "").splitlines()[0][:40] in " ".join(output.split())
    names = [p.opts[-1] for p in target.params if p.opts and p.opts[-1].startswith("-")]
    names += list(getattr(target, "commands", {}))
    assert all(name in output for name in names), names


def test_version() -> None:
    code, output = invoke("--version")
    assert code == 0 and output.strip() == f"labreport, version {__version__}"


def test_unknown_experiment_lists_the_known_ones(in_repo: Path) -> None:
    code, output = invoke("build", "exp55")
    assert code == 2
    assert output.strip().splitlines() == [
        "Error: unknown experiment 'exp55' (did you mean 'exp5'?); known experiments: "
        + ", ".join(p.parent.name for p in sorted((REPO / "experiments").glob("*/experiment.yaml"),
                                                  key=lambda p: int(p.parent.name[3:])))
    ]  # fmt: skip


def test_list_shows_id_number_title_and_format(in_repo: Path) -> None:
    code, output = invoke("list")
    assert code == 0
    row = next(line for line in output.splitlines() if line.startswith("exp5 "))
    assert row.split() == ["exp5", "5", "Sequence", "prediction", "using", "RNN", "classic"]


def test_outside_a_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = invoke("list")
    assert code == 2
    assert output.startswith("Error: no labreport.toml in ") and len(output.splitlines()) == 1


def test_build_needs_an_experiment(in_repo: Path) -> None:
    code, output = invoke("build")
    assert code == 2 and "name at least one experiment" in output


def test_failing_program_fails_the_build_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(copy_project("faulty", tmp_path / "faulty"))
    out = tmp_path / "out"
    code, output = invoke("build", "crash", "--out", str(out))
    assert code == 1
    error_lines = [line for line in output.splitlines() if line.startswith("Error:")]
    assert error_lines == [
        "Error: crash: boom.py failed at line 2: ValueError: the data file is empty "
        "(fix the program, or set allow_errors: true to render the failure)"
    ]
    assert "Traceback" not in output
    assert not out.exists() or not list(out.iterdir()), "nothing is written for a failed build"


def test_allowed_error_is_rendered_and_marked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(copy_project("faulty", tmp_path / "faulty"))
    code, output = invoke("build", "allowed", "--format", "html", "--out", str(tmp_path))
    assert code == 0, output
    soup = BeautifulSoup((tmp_path / "allowed.html").read_text(), "html.parser")
    block = soup.select_one("pre.output.output-error").get_text()
    assert block.startswith("about to fail\nTraceback (most recent call last):")
    assert 'File "boom.py", line 2' in block
    banner = soup.select_one(".run-error").get_text(" ", strip=True)
    assert banner == "Error: boom.py failed at line 2: ValueError: the data file is empty"


def test_prose_using_an_unrecorded_value_names_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(copy_project("faulty", tmp_path / "faulty"))
    code, output = invoke("build", "undefined", "--format", "html", "--out", str(tmp_path))
    assert code == 1
    assert output.strip().splitlines()[-1] == (
        "Error: experiments/undefined/experiment.yaml: result: uses results.test_mse, "
        "which no program recorded (recorded: train_mse)"
    )


def test_spec_error_is_one_line_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "labreport.toml").write_text("")
    folder = tmp_path / "experiments" / "bad"
    folder.mkdir(parents=True)
    (folder / "experiment.yaml").write_text("number: 1\ntitle: [oops\n")
    monkeypatch.chdir(tmp_path)
    code, output = invoke("build", "bad")
    assert code == 2
    assert output.startswith("Error: experiments/bad/experiment.yaml:")
    assert "YAML syntax error" in output


def test_python_dash_m_smoke() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "labreport", "list"], cwd=REPO, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "exp5" in done.stdout


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "labreport", "--debug", "list"], cwd=tmp_path,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback (most recent call last)" in done.stderr
    assert "Error: no labreport.toml" in done.stderr
