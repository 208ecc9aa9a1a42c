"""The runner on small fixture programs: streams, figures, failures, timeouts, seeds, records."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from labreport.results import RunLimits
from labreport.runner import run_program

from conftest import PROGRAMS


def test_stdout_and_stderr_are_interleaved_in_write_order() -> None:
    result = run_program(PROGRAMS, "streams.py")
    assert result.ok and result.exit_code == 0
    assert result.output == "out 1\nerr 1\nout 2\nerr 2\n"
    assert result.duration > 0


def test_every_figure_once_in_creation_order() -> None:
    result = run_program(PROGRAMS, "figures.py")
    assert result.ok, result.output
    assert [f.title for f in result.figures] == ["one", "two", "three", "four"]
    assert [f.number for f in result.figures] == [1, 2, 3, 4]
    for figure in result.figures:
        assert figure.svg.lstrip().startswith("<?xml") and "<svg" in figure.svg


def test_figures_are_byte_identical_across_runs() -> None:
    first = run_program(PROGRAMS, "figures.py")
    second = run_program(PROGRAMS, "figures.py")
    assert [f.svg for f in first.figures] == [f.svg for f in second.figures]


def test_exception_gives_the_users_traceback() -> None:
    result = run_program(PROGRAMS, "crash.py")
    assert result.status == "error" and result.exit_code == 1
    assert result.error == "ZeroDivisionError: division by zero"
    assert result.traceback is not None
    assert 'File "crash.py", line 6, in <module>' in result.traceback
    assert 'File "crash.py", line 2, in divide' in result.traceback
    assert result.line == 2  # where it was raised, in the program's own file
    assert "runpy" not in result.traceback and "harness" not in result.traceback
    # The traceback is also in the output, after what the program printed first.
    assert result.output.startswith("before the crash\nTraceback (most recent call last):")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes; look at its state.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_timeout_kills_the_program_and_its_children() -> None:
    result = run_program(PROGRAMS, "forever.py", limits=RunLimits(timeout=3))
    assert result.status == "timeout"
    assert result.error == "timed out after 3 s"
    match = re.search(r"grandchild pid (\d+)", result.output)
    assert match, result.output
    pid = int(match.group(1))
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def test_seeds_fixed_and_numpy_program_does_not_import_torch() -> None:
    first = run_program(PROGRAMS, "seeds.py", seed=0)
    second = run_program(PROGRAMS, "seeds.py", seed=0)
    other = run_program(PROGRAMS, "seeds.py", seed=1)
    assert first.ok, first.output
    assert first.output == second.output
    assert first.output != other.output
    assert first.output.strip().endswith("torch imported: False")


def test_torch_is_seeded_when_imported() -> None:
    first = run_program(PROGRAMS, "torch_seed.py", seed=7)
    second = run_program(PROGRAMS, "torch_seed.py", seed=7)
    other = run_program(PROGRAMS, "torch_seed.py", seed=8)
    assert first.ok, first.output
    assert first.output == second.output != other.output


def test_recorded_values() -> None:
    result = run_program(PROGRAMS, "records.py")
    assert result.ok, result.output
    assert result.records == {"mse": 0.25, "epochs": 10, "name": "lstm"}
    assert result.output == "done\n"  # recorded values are not printed under labreport


@pytest.mark.parametrize(
    ("mode", "status", "error"),
    [
        ("exit0", "ok", None),
        ("os_exit", "error", "exited with status 3"),
        ("signal", "killed", "killed by SIGKILL"),
    ],
)
def test_exits_are_reported_as_what_they_are(mode: str, status: str, error: str | None) -> None:
    result = run_program(PROGRAMS, "exits.py", args=[mode])
    assert result.status == status
    assert result.error == error
    assert "not reached" not in result.output


def test_reading_stdin_gets_end_of_file_not_a_hang() -> None:
    result = run_program(PROGRAMS, "exits.py", args=["stdin"], limits=RunLimits(timeout=20))
    assert result.status == "error"
    assert "read: ''" in result.output
    assert result.error is not None and result.error.startswith("EOFError")


def test_messy_terminal_output_is_made_readable() -> None:
    result = run_program(PROGRAMS, "messy_output.py")
    assert result.ok
    assert result.output == "bad byte \ufffd here\nnulbyte\nred text\nprogress 3/3\n"


def test_output_is_capped() -> None:
    result = run_program(PROGRAMS, "streams.py", limits=RunLimits(output_limit=8))
    assert result.output.startswith("out 1\ner")
    assert result.output_truncated_bytes == len("out 1\nerr 1\nout 2\nerr 2\n") - 8
    assert "[output truncated:" in result.output


def test_program_runs_in_a_scratch_copy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "data.txt").write_text("42\n")
    (tmp_path / "prog.py").write_text(
        "print(open('data.txt').read().strip())\nopen('litter.txt', 'w').write('x')\n"
    )
    result = run_program(tmp_path, "prog.py")
    assert result.ok and result.output == "42\n"
    assert not (tmp_path / "litter.txt").exists()


def test_an_error_message_with_newlines_is_folded_to_one_line(tmp_path: Path) -> None:
    (tmp_path / "multi.py").write_text("raise ValueError('first line\\n  second line\\n')\n")
    result = run_program(tmp_path, "multi.py")
    assert result.error == "ValueError: first line second line"
    assert result.line == 1
