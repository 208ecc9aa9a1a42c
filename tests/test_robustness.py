"""Issue 6, hostile inputs and faults: each case of docs/robustness.md, on real files and processes.

Programs that misbehave on purpose live in tests/projects/hostile/; every test builds a temporary
copy, so nothing is left in the fixture. Limits and timeouts are tiny to keep each test fast.
"""

from __future__ import annotations

import errno
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

import labreport.output
from labreport.build import Builder, BuildOptions
from labreport.cache import RunCache
from labreport.cli import cli
from labreport.console import terminal_text
from labreport.errors import OutputError, SpecError
from labreport.project import load_project
from labreport.results import DEFAULT_FIGURE_LIMIT, DEFAULT_OUTPUT_LIMIT, RunLimits
from labreport.runner import run_program
from labreport.spec import load_experiment, parse_spec

from conftest import PROJECTS, Channel, wait_gone

HOSTILE = PROJECTS / "hostile"
MiB = 1024 * 1024


# ------------------------------------------------------------------------------ helpers


def copy_project(tmp_path: Path, name: str = "hostile") -> Path:
    root = tmp_path / name
    shutil.copytree(PROJECTS / name, root, ignore=shutil.ignore_patterns(".labreport", "build"))
    return root


def build(root: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.chdir(root)
    return CliRunner().invoke(cli, ["build", *args])


def errors(result: Result) -> list[str]:
    """The error lines a build printed; a traceback would fail the caller's checks."""
    assert "Traceback" not in result.output + result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


def html_of(root: Path, exp_id: str) -> BeautifulSoup:
    return BeautifulSoup((root / "build" / f"{exp_id}.html").read_text(), "html.parser")


def leftovers(root: Path) -> list[Path]:
    """Temporary files of interrupted writes anywhere in the project."""
    return [p for p in root.rglob("*") if p.name.endswith((".tmp", ".partial"))]


def write_spec(folder: Path, body: str, program: str = "print('hi')\n") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "experiment.yaml").write_text(body)
    (folder / "prog.py").write_text(program)


SPEC = """\
number: 1
title: T
aim: To test.
programs:
  - code: prog.py
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project with one valid experiment, ``ok``."""
    (tmp_path / "labreport.toml").write_text("")
    write_spec(tmp_path / "experiments" / "ok", SPEC)
    return tmp_path


# ------------------------------------------------------------------------------ 1, 2: spec errors


def test_yaml_syntax_error_names_file_line_column_exit_2(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_spec(project / "experiments" / "bad", SPEC + "   seed: 1\n")
    result = build(project, monkeypatch, "bad")
    assert result.exit_code == 2
    (line,) = errors(result)
    assert re.fullmatch(
        r"Error: experiments/bad/experiment.yaml:6:\d+: YAML syntax error: .*expected.*", line
    ), line


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("    sede: 3\n", ":6: programs[0].sede: unknown key; did you mean 'seed'?"),
        ("    seed: zero\n", ":6: programs[0].seed: expected a whole number (integer)"),
        ("    memory_limit: lots\n", ":6: programs[0].memory_limit: expected a size such as"),
        ("tools: {a: 1}\n", ":6: tools: input should be a valid list"),
    ],
)
def test_spec_mistakes_name_the_field_and_what_is_expected_exit_2(
    project: Path, monkeypatch: pytest.MonkeyPatch, extra: str, expected: str
) -> None:
    write_spec(project / "experiments" / "bad", SPEC + extra)
    result = build(project, monkeypatch, "bad")
    assert result.exit_code == 2
    (line,) = errors(result)
    assert line.startswith("Error: experiments/bad/experiment.yaml" + expected), line


def test_missing_required_field_exit_2(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_spec(project / "experiments" / "bad", SPEC.replace("aim: To test.\n", ""))
    result = build(project, monkeypatch, "bad")
    assert result.exit_code == 2
    assert errors(result) == [
        "Error: experiments/bad/experiment.yaml:1: aim: required field is missing"
    ]


# ------------------------------------------------------------------------------ 3: alias bombs


def _laughs(levels: int = 9) -> list[str]:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    return lines


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("\n".join(_laughs()) + "\n", "alias bomb"),  # 9**9 strings if expanded
        ("\n".join(_laughs()) + "\n? *a8\n: 1\n", "a key must be a plain word"),
        ("loop: &loop [*loop, *loop]\n", "nested too deeply"),  # a recursive alias
        ("a: " + "[" * 500_000 + "]" * 500_000 + "\n", "brackets nested more than 32 levels"),
        ("a:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 200)), "nested too deeply"),
    ],
    ids=["billion-laughs", "bomb-as-key", "recursive-alias", "deep-brackets", "deep-indents"],
)
def test_alias_bombs_are_refused_in_bounded_memory(text: str, message: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(SpecError, match=message):
            parse_spec(text, Path("bomb.yaml"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * MiB  # an expansion of 9**9 nodes would need tens of GB


def test_oversized_spec_is_refused_before_parsing(tmp_path: Path) -> None:
    folder = tmp_path / "experiments" / "big"
    write_spec(folder, SPEC + "theory: |\n" + "  words\n" * 200_000)
    with pytest.raises(SpecError, match=r"too large for a spec .*keep data in files beside it"):
        load_experiment(folder, display_root=tmp_path)


# ------------------------------------------------------------------------------ 4: escapes


@pytest.mark.parametrize("exp_id", ["../hostile", "/etc", "exp5/../../x", "."])
def test_experiment_id_that_is_a_path_is_refused(
    project: Path, monkeypatch: pytest.MonkeyPatch, exp_id: str
) -> None:
    result = build(project, monkeypatch, exp_id)
    assert result.exit_code == 2
    (line,) = errors(result)
    assert line == (
        f"Error: {exp_id!r} is not an experiment id: an id is the name of a folder under "
        "experiments/ (letters, digits, '-' and '_'), never a path; see `labreport list`"
    )


def test_experiment_folder_symlinked_outside_is_refused_others_built(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "elsewhere"
    write_spec(outside, SPEC)
    (project / "experiments" / "evil").symlink_to(outside)
    result = build(project, monkeypatch, "--all", "--format", "html")
    assert result.exit_code == 2
    (line,) = errors(result)
    assert line == (
        "Error: experiments/evil/experiment.yaml: the experiment folder evil/ is a symlink to "
        f"{outside.resolve()}, outside experiments/: move the experiment into the project"
    )
    assert (project / "build" / "ok.html").is_file()
    assert not (project / "build" / "evil.html").exists()


@pytest.mark.parametrize("code", ['"sub/../../outside.py"', '"prog\\0.py"', '""'])
def test_code_path_escaping_or_invalid_is_refused(tmp_path: Path, code: str) -> None:
    folder = tmp_path / "experiments" / "exp1"
    write_spec(folder, SPEC.replace("prog.py", code))
    with pytest.raises(SpecError, match=r"must be a path inside the experiment folder"):
        load_experiment(folder, display_root=tmp_path)


# ------------------------------------------------------------------------------ 5: project, theme


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("[course\ntitle = 1\n", r"labreport.toml: invalid TOML: .*\(at line 1, column 8\)"),
        ("[limits]\nmemory = 'lots'\n", r"labreport.toml: limits.memory: expected a size such as"),
        (
            "[student]\nnmae = 'x'\n",
            r"labreport.toml: student.nmae: unknown key \(known keys: name, id, section, seeds\)",
        ),
    ],
)
def test_broken_labreport_toml_is_one_line_exit_2(
    project: Path, monkeypatch: pytest.MonkeyPatch, config: str, expected: str
) -> None:
    (project / "labreport.toml").write_text(config)
    result = build(project, monkeypatch, "ok")
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    (line,) = errors(result)
    assert re.match(r"Error: /.*" + expected, line), line


def test_unknown_theme_is_one_line_exit_2_before_running(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_spec(project / "experiments" / "themed", SPEC + "theme: fancy\n")
    result = build(project, monkeypatch, "themed")
    assert result.exit_code == 2
    (line,) = errors(result)
    assert re.fullmatch(
        r"Error: experiments/themed/experiment.yaml: theme: unknown theme 'fancy'; "
        r"available themes: .*classic.*",
        line,
    ), line
    assert "running" not in result.stderr  # refused before any program ran


def test_unknown_theme_option_exit_2(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = build(project, monkeypatch, "ok", "--theme", "fancy")
    assert result.exit_code == 2
    (line,) = errors(result)
    assert line.startswith("Error: --theme: unknown theme 'fancy'; available themes: ")


# ------------------------------------------------------------------------------ 7: timeouts


def test_infinite_loop_is_killed_with_all_its_descendants(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_project(tmp_path)
    result = build(root, monkeypatch, "loop", "--format", "html")  # allow_errors: the record
    assert result.exit_code == 0, result.output
    soup = html_of(root, "loop")
    banner = soup.select_one(".run-error").get_text(" ", strip=True)
    assert "timed out after 1 s" in banner
    output = soup.select_one("pre.output").get_text()
    match = re.search(r"grandchildren (\d+) (\d+)", output)
    assert match, output
    pids = [int(match.group(1)), int(match.group(2))]  # the second left the group (setsid)
    assert wait_gone(pids) == []

    spec = root / "experiments" / "loop" / "experiment.yaml"
    spec.write_text(spec.read_text().replace("allow_errors: true", "allow_errors: false"))
    result = build(root, monkeypatch, "loop", "--format", "html")
    assert result.exit_code == 1
    assert errors(result) == [
        "Error: loop: loop.py failed: timed out after 1 s "
        "(make it finish sooner, or raise its timeout: in the spec)"
    ]


# ------------------------------------------------------------------------------ 8: memory


def test_runaway_memory_is_stopped_and_the_neighbour_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_project(tmp_path)
    result = build(root, monkeypatch, "hog", "calm", "-j", "2", "--format", "html")
    assert result.exit_code == 1
    (line,) = errors(result)
    assert re.fullmatch(
        r"Error: hog: hog.py failed: stopped at its memory limit of 64 MiB "
        r"\(it was using [\d.]+ MiB\) \(make it use less memory, or raise memory_limit: in the "
        r"spec or \[limits\] memory in labreport.toml\)",
        line,
    ), line
    assert "all good" in html_of(root, "calm").select_one("pre.output").get_text()
    assert not (root / "build" / "hog.html").exists()


def test_memory_of_child_processes_counts_toward_the_limit() -> None:
    folder = HOSTILE / "experiments" / "forkhog"
    result = run_program(folder, "forkhog.py", limits=RunLimits(timeout=30, memory_limit=100 * MiB))
    assert result.status == "memory", result.output
    assert result.error is not None and "memory limit of 100 MiB" in result.error
    pids = [int(p) for p in re.search(r"children ([\d ]+)", result.output).group(1).split()]  # type: ignore[union-attr]
    assert wait_gone(pids) == []


def test_limits_come_from_the_spec_then_labreport_toml_then_the_defaults(tmp_path: Path) -> None:
    root = copy_project(tmp_path)
    (root / "labreport.toml").write_text("[limits]\nmemory = '1 GiB'\noutput = '10 KiB'\n")
    builder = Builder(load_project(root), BuildOptions(), events=None)  # type: ignore[arg-type]
    hog = load_experiment(root / "experiments" / "hog").spec.programs[0]
    calm = load_experiment(root / "experiments" / "calm").spec.programs[0]
    figs = load_experiment(root / "experiments" / "figs").spec.programs[0]
    assert builder.limits(hog).memory_limit == 64 * MiB  # the spec wins
    assert builder.limits(calm).memory_limit == 1024 * MiB  # then labreport.toml
    assert builder.limits(calm).output_limit == 10 * 1024
    assert builder.limits(calm).figure_limit == DEFAULT_FIGURE_LIMIT  # then the default
    assert builder.limits(figs).figure_limit == 5
    (root / "labreport.toml").write_text("")
    fresh = Builder(load_project(root), BuildOptions(), events=None)  # type: ignore[arg-type]
    assert fresh.limits(calm).output_limit == DEFAULT_OUTPUT_LIMIT
    assert fresh.limits(calm).timeout == 600


# ------------------------------------------------------------------------------ 9: output flood

_FLOOD_BUILD = """
import resource, sys
from pathlib import Path
from labreport.build import Builder, BuildOptions
from labreport.project import load_project

class Quiet:
    def program_started(self, *a): pass
    def program_finished(self, *a): pass
    def experiment_finished(self, outcome): print(outcome.status, outcome.error)

with Builder(load_project(Path(sys.argv[1])), BuildOptions(formats=("html",)), Quiet()) as b:
    b.build("flood")
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec, so this process would
# report the pytest process's size when pytest forked it (375 MB late in a full run).
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print("maxrss", hwm)
"""


def test_output_flood_is_capped_and_labreport_memory_stays_bounded(tmp_path: Path) -> None:
    root = copy_project(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", _FLOOD_BUILD, str(root)], capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("built None"), done.stdout
    maxrss_kib = int(done.stdout.split("maxrss")[1])  # labreport itself, not the program
    assert maxrss_kib * 1024 < 200 * MiB  # the program wrote 300 MiB
    output = html_of(root, "flood").select_one("pre.output").get_text()
    assert output.startswith("y" * 1000)
    assert output.endswith(
        f"\n[output truncated: {300 * MiB + len('the end') + 1 - 64 * 1024} more bytes not shown "
        "(limit 64 KiB)]\n"
    )
    assert "the end" not in output


# ------------------------------------------------------------------------------ 10: messy output


def test_unreadable_output_is_shown_readably_in_html_and_pdf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_project(tmp_path)
    result = build(root, monkeypatch, "messy")
    assert result.exit_code == 0, result.output
    output = html_of(root, "messy").select_one("pre.output").get_text()
    assert output == (
        "latin-1 caf\ufffd\nnulbyte bell\ngreen and plain\nprogress 100%\nc1control\n"
    )
    text = "".join(page.extract_text() for page in PdfReader(root / "build" / "messy.pdf").pages)
    assert "progress 100%" in text and "green and plain" in text


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=200).map(lambda t: t.encode("utf-8")))
def test_any_bytes_become_printable_text(raw: bytes) -> None:
    text = terminal_text(raw)
    assert all(ch in "\n\t" or (ch.isprintable() or ord(ch) > 0x9F) for ch in text), repr(text)
    assert "\x1b" not in text and "\r" not in text and "\x00" not in text


# ------------------------------------------------------------------------------ 11: figures


def test_hundreds_of_figures_are_capped_with_a_marker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_project(tmp_path)
    result = build(root, monkeypatch, "figs", "--format", "html")
    assert result.exit_code == 0, result.output
    soup = html_of(root, "figs")
    captions = [f.get_text(" ", strip=True) for f in soup.select("figure.run-figure figcaption")]
    assert len(captions) == 5 and "figure 5" in captions[-1]
    assert soup.select_one("pre.output").get_text() == (
        "plotted 200 figures\n\n[figures truncated: 195 more figure(s) not captured (limit 5)]\n"
    )


# ------------------------------------------------------------------------------ 12: crashes


def test_native_crash_is_reported_as_its_signal_with_a_traceback() -> None:
    result = run_program(HOSTILE / "experiments" / "crashes", "segfault.py")
    assert result.status == "killed"
    assert result.error == "killed by SIGSEGV"
    assert result.output.startswith("about to crash\nFatal Python error: Segmentation fault")
    assert 'segfault.py", line 5 in <module>' in result.output


# ------------------------------------------------------------------------------ 14: outside URLs


@pytest.fixture
def web_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every request it gets: none is the expected count."""
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            requests.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def test_references_outside_the_project_are_not_fetched_and_warned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, web_server: tuple[str, list[str]]
) -> None:
    url, requests = web_server
    root = copy_project(tmp_path)
    template = root / "templates" / "classic" / "record.html"
    template.parent.mkdir(parents=True)
    template.write_text(
        '{% extends "builtin/classic/record.html" %}{% block title %}<h1>External</h1>'
        f'<link rel="stylesheet" href="{url}/style.css"><img src="file:///etc/passwd">'
        '<img src="../../../../../../etc/hostname">{% endblock title %}'
    )
    spec = root / "experiments" / "calm" / "experiment.yaml"
    spec.write_text(spec.read_text() + f"theory: 'A diagram: ![remote]({url}/figure.png)'\n")
    result = build(root, monkeypatch, "calm")
    assert result.exit_code == 0, result.output
    assert requests == []
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warnings == [
        f"calm: warning: not fetched, outside the project: {target}"
        for target in (
            f"{url}/style.css", "file:///etc/passwd", "file:///etc/hostname",
            f"{url}/figure.png",
        )
    ]  # fmt: skip
    pdf_text = "".join(p.extract_text() for p in PdfReader(root / "build" / "calm.pdf").pages)
    assert "External" in pdf_text and "root:" not in pdf_text


# ------------------------------------------------------------------------------ 16: output errors


def test_output_folder_blocked_by_a_file_is_a_clear_error(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "blocker").write_text("a file, not a folder")
    result = build(project, monkeypatch, "ok", "--format", "html", "--out", "blocker/records")
    assert result.exit_code == 1
    assert errors(result) == [
        f"Error: ok: cannot create the folder {project / 'blocker' / 'records'}: Not a directory "
        "(a file is in the way of a folder: remove it or choose another folder)"
    ]
    assert (project / "blocker").read_text() == "a file, not a folder"


def test_missing_output_folder_is_created(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = build(project, monkeypatch, "ok", "--format", "html", "--out", "deep/er/out")
    assert result.exit_code == 0, result.output
    assert (project / "deep" / "er" / "out" / "ok.html").is_file()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permissions")
def test_unwritable_output_folder_is_a_clear_error(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = project / "locked"
    locked.mkdir(mode=0o500)
    result = build(project, monkeypatch, "ok", "--format", "html", "--out", "locked")
    assert result.exit_code == 1
    (line,) = errors(result)
    assert "Permission denied (no permission to write there" in line


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_full_disk_keeps_the_last_good_record_and_leaves_no_partial_file(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert build(project, monkeypatch, "ok", "--format", "html").exit_code == 0
    good = (project / "build" / "ok.html").read_bytes()
    spec = project / "experiments" / "ok" / "experiment.yaml"
    spec.write_text(spec.read_text() + "theory: changed prose, so the record is written again\n")
    real_fdopen = os.fdopen

    def full_disk(fd: int, mode: str = "r", *args: object, **kwargs: object) -> object:
        """Every temporary file written goes to /dev/full: the kernel answers ENOSPC."""
        os.close(fd)
        return real_fdopen(os.open("/dev/full", os.O_WRONLY), mode)

    monkeypatch.setattr(labreport.output.os, "fdopen", full_disk)
    result = build(project, monkeypatch, "ok", "--format", "html")
    monkeypatch.setattr(labreport.output.os, "fdopen", real_fdopen)
    assert result.exit_code == 1
    assert errors(result) == [
        f"Error: ok: cannot write {project / 'build' / 'ok.html'}: No space left on device "
        "(the disk is full: free some space and build again)"
    ]
    assert (project / "build" / "ok.html").read_bytes() == good
    assert leftovers(project) == []
    assert build(project, monkeypatch, "ok", "--format", "html").exit_code == 0
    assert "changed prose" in (project / "build" / "ok.html").read_text()


def test_failed_write_raises_output_error_and_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "record.html"
    target.write_bytes(b"last good")

    def fail(fd: int) -> None:
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))

    monkeypatch.setattr(labreport.output.os, "fsync", fail)
    with pytest.raises(OutputError, match=r"disk quota is used up: free some space"):
        labreport.output.write_atomic(target, b"new and longer content")
    assert target.read_bytes() == b"last good"
    assert list(tmp_path.iterdir()) == [target]


# ------------------------------------------------------------------------------ 17: Ctrl-C

_SLEEPER = """\
import os, pathlib, subprocess, sys, time
folder = pathlib.Path(sys.argv[1])
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
(folder / f"{os.getpid()}.pids").write_text(f"{os.getpid()} {child.pid}")
if (folder / "block").exists():
    time.sleep(120)
print("slept enough")
"""


def _interrupt_project(root: Path, pids: Path) -> Path:
    root.mkdir()
    (pids / "block").write_text("")
    (root / "labreport.toml").write_text("")
    write_spec(root / "experiments" / "a_quick", SPEC.replace("number: 1", "number: 1"))
    for number, name in ((2, "b_sleep"), (3, "c_sleep")):
        body = SPEC.replace("number: 1", f"number: {number}") + f"    args: ['{pids}']\n"
        write_spec(root / "experiments" / name, body, _SLEEPER)
    return pids


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_build_stops_every_program_and_the_next_build_carries_on(
    tmp_path: Path, signum: int, channel: Channel
) -> None:
    root = tmp_path / "project"
    pids_dir = _interrupt_project(root, channel.folder)
    command = [sys.executable, "-m", "labreport", "build", "--all", "-j", "2", "--format", "html"]
    proc = subprocess.Popen(
        command, cwd=root, env=channel.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while len(list(pids_dir.glob("*.pids"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(list(pids_dir.glob("*.pids"))) == 2, "the sleepers never started"
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    # The CLI's own words for Ctrl-C (click turns KeyboardInterrupt into Abort); exit 130.
    assert stderr.decode().strip().splitlines()[-1] == "Aborted."
    assert b"Traceback" not in stderr
    pids = [int(p) for f in pids_dir.glob("*.pids") for p in f.read_text().split()]
    assert wait_gone(pids) == []
    assert leftovers(root) == []
    assert not (root / "build" / "b_sleep.html").exists()
    cache = RunCache(root / ".labreport" / "cache")
    for entry in (root / ".labreport" / "cache").rglob("*.json"):
        assert cache.get(entry.stem) is not None, f"damaged cache entry {entry}"

    (pids_dir / "block").unlink()
    again = subprocess.run(
        command, cwd=root, env=channel.env, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stderr
    for name in ("a_quick", "b_sleep", "c_sleep"):
        assert (root / "build" / f"{name}.html").is_file()
    assert "slept enough" in (root / "build" / "c_sleep.html").read_text()


# ------------------------------------------------------------------------------ 18: two builds


def test_two_builds_at_once_both_finish_and_build_each_experiment_once(tmp_path: Path) -> None:
    root = copy_project(tmp_path, "mini")
    twin = tmp_path / "twin"
    shutil.copytree(root, twin)
    command = [sys.executable, "-m", "labreport", "build", "--all", "--format", "html"]
    first, second = (
        subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    )
    results = [p.communicate(timeout=120) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], results
    logs = "".join(err.decode() for _, err in results)
    assert "Traceback" not in logs
    for program in ("line.py", "first.py", "second.py"):
        assert logs.count(f"running {program}") == 1, logs  # the other process waited, then
    assert len(re.findall(r"^\w+: up to date$", logs, re.M)) == 2, logs  # found it up to date
    subprocess.run(command, cwd=twin, check=True, capture_output=True, timeout=120)
    for name in ("alpha.html", "beta.html"):
        assert (root / "build" / name).read_bytes() == (twin / "build" / name).read_bytes()
    assert leftovers(root) == []
    states = [json.loads(p.read_text()) for p in (root / ".labreport" / "state").glob("*.json")]
    assert len(states) == 2


# ------------------------------------------------------------------------------ 13: literal text


def test_markup_and_template_syntax_are_shown_literally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_project(tmp_path)
    result = build(root, monkeypatch, "literal")
    assert result.exit_code == 0, result.output
    soup = html_of(root, "literal")
    assert soup.select("script") == [], "no script element comes from spec text or output"
    assert soup.select_one("pre.output").get_text() == (
        "<script>alert('output')</script>\n</pre><h1>not a heading</h1>\n"
        "{{ 7*7 }} {% include 'x.html' %}\n"
    )
    assert soup.select_one("h1.doc-title").get_text() == (
        "Experiment 13: Literal <script>alert(1)</script> {{ 7*7 }}"
    )
    aim = soup.select_one("section.aim").get_text(" ", strip=True)
    assert "<script>alert('aim')</script>, </pre>, {{ 7*7 }} and {% include 'x.html' %}" in aim
    description = soup.select_one("section.description").get_text(" ", strip=True)
    assert '{{ 7*7 }} and a {% include "/etc/passwd" %}' in description
    assert "root:" not in description, "nothing was included"
    # The one real placeholder is filled, and the recorded string is text, not markup.
    assert "templating: <i>recorded</i> {{ 7*7 }}" in description
    assert "49" not in soup.get_text()
    pdf = "".join(p.extract_text() for p in PdfReader(root / "build" / "literal.pdf").pages)
    assert "<script>alert('output')</script>" in pdf and "{{ 7*7 }}" in pdf
    assert "not a heading" in pdf and "49" not in pdf


# ------------------------------------------------------------------------------ 15: template errors


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("{% block aim %}\n{% if %}\n{% endblock %}", 3, "template syntax error: "),
        ("{% block aim %}\n\n{{ aim.nope() }}\n{% endblock %}", 4, "has no attribute 'nope'"),
        ("{% block aim %}\n{{ 1 / 0 }}\n{% endblock %}", 3, "ZeroDivisionError: division by zero"),
    ],
    ids=["syntax", "runtime", "arithmetic"],
)
def test_template_error_names_file_and_line_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, line: int, message: str
) -> None:
    root = copy_project(tmp_path)
    theme = root / "templates" / "worksheet"
    theme.mkdir(parents=True)
    (theme / "record.html").write_text('{% extends "builtin/worksheet/record.html" %}\n' + body)
    result = build(root, monkeypatch, "calm", "--theme", "worksheet", "--format", "html")
    assert result.exit_code == 1
    [error] = errors(result)
    assert re.match(rf"Error: calm: .*templates/worksheet/record\.html:{line}: ", error), error
    assert message in error
