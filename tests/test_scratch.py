"""Issue 15, point 2: the scratch folders programs run in (``labreport/scratch.py``).

The copy of an experiment folder follows no symlink and opens no special file, so links to
``/dev/zero`` or to ``.`` cost nothing and a named pipe is refused instead of blocking; the
folder digests of the cache keys read the folder by the same rules, and so does the watch of
``labreport serve``. A scratch folder left by a ``kill -9`` is removed by the next build, never
one of a build that still runs.

The builds run the installed ``labreport`` script with ``TMPDIR`` set to a folder of the test,
under ``ulimit -f`` (a runaway copy fails instead of filling the disk) and a timeout (a hang
fails the test instead of blocking the suite). No test bounds a wall-clock time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

from labreport.fingerprint import folder_digest
from labreport.scratch import MARKER, reap_abandoned, scratch_folder
from labreport.watch import snapshot

from conftest import Channel

SCRIPT = Path(sys.executable).with_name("labreport")
DEADLINE = 60.0  # seconds: a bound on a hang, not a measurement
FILE_SIZE_LIMIT_KIB = 65536  # no file a build writes may pass 64 MiB: /dev/zero is not copied

SPEC = """\
number: 1
title: Scratch
aim: To run in a scratch copy.
workdir: {workdir}
programs:
  - code: prog.py
"""

READER = """\
from labreport.record import record
record("value", open("data/value.txt").read().strip())
record("alias", open("alias.txt").read().strip())
record("sub", open("sub/deeper/note.txt").read().strip())
"""
RESULT = "result: The value is {{ results.value }}, {{ results.alias }}, {{ results.sub }}.\n"

# Writes a file named by its argument in its working folder (inside its scratch folder), then
# sleeps until the test kills it or its build (it dies with its build: the parent-death signal).
SLEEPER = """\
import os, sys, time
from pathlib import Path
Path(sys.argv[1]).write_text(str(os.getpid()))
time.sleep(120)
"""


def labreport(root: Path, channel: Channel, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed script in ``root`` with the channel's ``TMPDIR``, files capped at 64 MiB."""
    return subprocess.run(
        _command(*args), cwd=root, env=channel.env, capture_output=True, text=True,
        timeout=DEADLINE, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def start_labreport(root: Path, channel: Channel, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _command(*args), cwd=root, env=channel.env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _command(*args: str) -> list[str]:
    return ["bash", "-c", f'ulimit -f {FILE_SIZE_LIMIT_KIB} && exec "$0" "$@"', str(SCRIPT), *args]


def make_project(root: Path, programs: dict[str, str], workdir: str = "separate") -> Path:
    """A project whose experiments (name → program) each run ``prog.py``; the folder of the
    last one."""
    root.mkdir(parents=True)
    (root / "labreport.toml").write_text("")
    folder = root
    for name, program in programs.items():
        folder = root / "experiments" / name
        folder.mkdir(parents=True)
        (folder / "experiment.yaml").write_text(SPEC.format(workdir=workdir))
        (folder / "prog.py").write_text(program)
    return folder


def scratch_folders(channel: Channel) -> list[Path]:
    """The scratch folders in the channel's TMPDIR."""
    return sorted(Path(channel.env["TMPDIR"]).glob("labreport-*"))


def finishes(work: Callable[[], Any]) -> Any:
    """``work()``'s value, or a failure if it blocks (in a named pipe's open, say) or loops."""
    done: list[Any] = []
    thread = threading.Thread(target=lambda: done.append(work()), daemon=True)
    thread.start()
    thread.join(DEADLINE)
    assert done, "it never finished: it blocked or looped"
    return done[0]


# ------------------------------------------------------------------------------ links


@pytest.fixture
def linked(tmp_path: Path) -> Path:
    """An experiment folder full of links: ``zero -> /dev/zero``, ``a -> .``, ``b -> .``, a link
    to a file inside, a link up from a subfolder, a link to a folder outside with the data file
    the program reads, one to that file itself, and one to a named pipe outside (opening it would
    block)."""
    outside = tmp_path / "datasets"
    outside.mkdir()
    (outside / "value.txt").write_text("42\n")
    os.mkfifo(outside / "pipe")
    folder = make_project(tmp_path / "project", {"links": READER})
    (folder / "experiment.yaml").write_text(SPEC.format(workdir="separate") + RESULT)
    (folder / "notes.txt").write_text("inside text\n")
    (folder / "sub" / "deeper").mkdir(parents=True)
    (folder / "sub" / "deeper" / "note.txt").write_text("deep text\n")
    (folder / "alias.txt").symlink_to("notes.txt")
    (folder / "sub" / "up").symlink_to("..")
    (folder / "zero").symlink_to("/dev/zero")
    (folder / "a").symlink_to(".")
    (folder / "b").symlink_to(".")
    (folder / "data").symlink_to(outside)
    (folder / "value.txt").symlink_to(outside / "value.txt")
    (folder / "outside_pipe").symlink_to(outside / "pipe")
    return tmp_path / "project"


def result_text(root: Path, exp_id: str) -> str:
    soup = BeautifulSoup((root / "build" / f"{exp_id}.html").read_text(), "html.parser")
    return soup.select_one("section.result").get_text(" ", strip=True)


def test_links_are_copied_as_links_and_the_program_reads_through_them(
    linked: Path, channel: Channel
) -> None:
    done = labreport(linked, channel, "build", "links", "--format", "html")
    assert done.returncode == 0, done.stderr
    assert "The value is 42, inside text, deep text." in result_text(linked, "links")
    assert scratch_folders(channel) == [], "the scratch folder is removed after the run"
    again = labreport(linked, channel, "build", "links", "--format", "html")
    assert again.returncode == 0, again.stderr
    assert again.stderr.strip().splitlines()[-1] == "links: up to date"


def test_a_changed_file_behind_a_link_leaving_the_folder_runs_the_program_again(
    linked: Path, channel: Channel
) -> None:
    """Its size and time are in the cache key (read by ``stat``, the file is never opened).
    Behind a link to a folder, nothing is looked at: that takes ``--force``."""
    assert labreport(linked, channel, "build", "links", "--format", "html").returncode == 0
    (linked.parent / "datasets" / "value.txt").write_text("1234\n")
    done = labreport(linked, channel, "build", "links", "--format", "html")
    assert done.returncode == 0, done.stderr
    assert "(1 run, 0 from cache)" in done.stderr.strip().splitlines()[-1]
    assert "The value is 1234," in result_text(linked, "links")


def test_the_digest_and_the_watch_never_open_a_link_or_a_special_file(linked: Path) -> None:
    folder = linked / "experiments" / "links"
    os.mkfifo(folder / "pipe")
    digest = finishes(lambda: folder_digest(folder, skip=frozenset({"experiment.yaml"})))
    described = {name.rstrip("\0"): value for name, value in digest.items() if "\0" in name}
    data = linked.parent / "datasets"
    found = (data / "value.txt").stat()
    assert described == {
        "a": "symlink to .",
        "b": "symlink to .",
        "zero": "symlink to /dev/zero",
        "alias.txt": "symlink to notes.txt",
        "sub/up": "symlink to ..",
        "data": f"symlink to {data}",
        "value.txt": f"symlink to {data / 'value.txt'} "
        f"({found.st_size} bytes, modified {found.st_mtime_ns})",
        "outside_pipe": f"symlink to {data / 'pipe'}",
        "pipe": "a named pipe (FIFO)",
    }
    # Only regular files are keyed by their plain path, so code that reads the digest's files
    # by name (cache.program_inputs) opens nothing else.
    assert sorted(name for name in digest if "\0" not in name) == [
        "notes.txt", "prog.py", "sub/deeper/note.txt",
    ]  # fmt: skip
    watched = finishes(lambda: snapshot([linked / "experiments"]))
    assert str(folder / "sub" / "deeper" / "note.txt") in watched
    assert not any("/a/" in name or "/b/" in name for name in watched), "no loop through a link"


# ------------------------------------------------------------------------------ special files


@pytest.mark.parametrize("workdir", ["separate", "shared"])
def test_a_named_pipe_in_the_folder_is_refused_in_one_line(
    tmp_path: Path, channel: Channel, workdir: str
) -> None:
    folder = make_project(tmp_path / "project", {"fifo": "print('never run')\n"}, workdir)
    os.mkfifo(folder / "pipe")
    done = labreport(tmp_path / "project", channel, "build", "fifo", "--format", "html")
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [
        "Error: experiments/fifo/pipe: a named pipe (FIFO) cannot be copied into the folder the "
        "programs run in (remove it from the experiment folder, or keep it elsewhere and link "
        "to it: symlinks are copied as links)"
    ], done.stderr
    assert "Traceback" not in done.stderr
    assert scratch_folders(channel) == []


def test_python_named_links_and_pipes_are_not_read_to_choose_the_warm_interpreter(
    tmp_path: Path, channel: Channel
) -> None:
    """With --force the warm interpreter starts while the spec loads, chosen by the folder's
    imports: ``zero.py -> /dev/zero`` and a pipe named ``helper.py`` must not be read for it."""
    folder = make_project(tmp_path / "project", {"kinds": "print('ran')\n"})
    (folder / "zero.py").symlink_to("/dev/zero")
    done = labreport(tmp_path / "project", channel, "build", "kinds", "--force", "--format", "html")
    assert done.returncode == 0, done.stderr
    os.mkfifo(folder / "helper.py")
    done = labreport(tmp_path / "project", channel, "build", "kinds", "--force", "--format", "html")
    assert done.returncode == 2, done.stderr
    assert "experiments/kinds/helper.py: a named pipe (FIFO) cannot be copied" in done.stderr


def test_a_named_pipe_used_as_a_picture_is_refused_by_validate_not_waited_on(
    tmp_path: Path, channel: Channel
) -> None:
    folder = make_project(tmp_path / "project", {"pic": "print('ran')\n"})
    spec = folder / "experiment.yaml"
    spec.write_text(spec.read_text().replace("To run in a scratch copy.", "See ![c](cell.png)."))
    os.mkfifo(folder / "cell.png")
    done = labreport(tmp_path / "project", channel, "validate")
    assert done.returncode == 1, done.stderr
    assert "aim: picture 'cell.png' is not a regular file" in done.stderr


# ------------------------------------------------------------------------------ kill -9


def work_folder(channel: Channel, name: str) -> Path:
    """The working folder of the sleeper started with ``name``, once it has started."""
    temp = Path(channel.env["TMPDIR"])
    deadline = time.monotonic() + DEADLINE
    while not (found := list(temp.glob(f"labreport-run-*/work/{name}"))):
        assert time.monotonic() < deadline, f"the program of {name} never started"
        time.sleep(0.05)
    return found[0].parent


@pytest.fixture
def builds() -> Iterator[list[subprocess.Popen[str]]]:
    """The builds a test starts, killed at its end whatever happened."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for build in started:
        if build.poll() is None:
            build.kill()
        build.communicate()


def test_a_killed_builds_scratch_folder_is_removed_by_the_next_build_a_live_ones_kept(
    tmp_path: Path, channel: Channel, builds: list[subprocess.Popen[str]]
) -> None:
    root = tmp_path / "project"
    make_project(root, {"live": SLEEPER, "killed": SLEEPER, "quick": "print('hi')\n"})
    for name in ("live", "killed"):
        spec = root / "experiments" / name / "experiment.yaml"
        spec.write_text(spec.read_text() + f"    args: [{name}]\n")

    live = start_labreport(root, channel, "build", "live", "--format", "html")
    builds.append(live)
    live_work = work_folder(channel, "live")
    killed = start_labreport(root, channel, "build", "killed", "--format", "html")
    builds.append(killed)
    killed_folder = work_folder(channel, "killed").parent
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=DEADLINE)
    assert killed_folder.name.startswith("labreport-run-")
    assert killed_folder.is_dir(), "kill -9 leaves the scratch folder behind"

    done = labreport(root, channel, "build", "quick", "--format", "html")
    assert done.returncode == 0, done.stderr
    assert not killed_folder.exists(), "the next build removed the dead build's folder"
    assert (live_work / "live").is_file(), "the live build's folder was left alone"
    assert live.poll() is None


# ------------------------------------------------------------------------------ reaping


def test_reaping_removes_only_dead_folders_and_follows_no_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("keep")

    dead = tmp_path / "labreport-run-dead"
    (dead / "work" / "locked").mkdir(parents=True)
    (dead / MARKER).write_text("")
    (dead / "work" / "link").symlink_to(precious)
    (dead / "work" / "locked" / "file").write_text("")
    (dead / "work" / "locked").chmod(0)  # a program can leave a folder nobody may enter
    unmarked = tmp_path / "labreport-pipeline-unmarked"  # an older labreport's, or being made
    unmarked.mkdir()
    linked_marker = tmp_path / "labreport-run-linked"
    linked_marker.mkdir()
    (linked_marker / MARKER).symlink_to(precious / "keep.txt")
    (tmp_path / "labreport-run-link").symlink_to(precious)
    other = tmp_path / "other"
    (other / MARKER).parent.mkdir()
    (other / MARKER).write_text("")

    with scratch_folder("pipeline") as live:
        assert live.parent == tmp_path
        assert reap_abandoned(tmp_path) == [dead]
        assert live.is_dir()
    assert not live.exists(), "its owner removed it at the end of the block"
    assert not dead.exists()
    assert (precious / "keep.txt").read_text() == "keep", "nothing was removed through a link"
    assert unmarked.is_dir() and linked_marker.is_dir() and other.is_dir()
    assert (tmp_path / "labreport-run-link").is_symlink()
