"""Batch builds, the run cache, up-to-date checks, reproducible outputs and the bound record."""

from __future__ import annotations

import json
import re
import shutil
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

import labreport.fingerprint
from labreport import pdfworker
from labreport.batch import build_many, longest_first
from labreport.build import Builder, BuildOptions
from labreport.cli import cli
from labreport.pdf import render_pdf
from labreport.project import load_project
from labreport.results import ExperimentOutcome, RunResult

from conftest import copy_project


class Events:
    """Records what the builder reports."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, str]] = []
        self.cached: list[tuple[str, str]] = []
        self.outcomes: list[ExperimentOutcome] = []

    def program_started(self, exp_id: str, code: str) -> None:
        pass

    def program_finished(self, exp_id: str, code: str, result: RunResult, cached: bool) -> None:
        (self.cached if cached else self.ran).append((exp_id, code))

    def experiment_finished(self, outcome: ExperimentOutcome) -> None:
        self.outcomes.append(outcome)


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    return copy_project("mini", tmp_path / "mini")


def build(root: Path, *ids: str, jobs: int = 1, **options: object) -> Events:
    events = Events()
    options_ = BuildOptions(**options)  # type: ignore[arg-type]
    with Builder(load_project(root), options_, events) as builder:
        build_many(builder, list(ids) or ["alpha", "beta"], jobs=jobs)
    return events


def outputs(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "build").iterdir())}


# ------------------------------------------------------------------------------ the cache matrix


def test_program_change_reruns(mini: Path) -> None:
    build(mini, "alpha", formats=("html",))
    (mini / "experiments/alpha/line.py").write_text(
        (mini / "experiments/alpha/line.py").read_text() + "print('one more line')\n"
    )
    events = build(mini, "alpha", formats=("html",))
    assert events.ran == [("alpha", "line.py")]
    assert "one more line" in (mini / "build/alpha.html").read_text()


def test_data_file_change_reruns(mini: Path) -> None:
    build(mini, "alpha", formats=("html",))
    (mini / "experiments/alpha/points.txt").write_text("2 4 6 8 10\n")
    events = build(mini, "alpha", formats=("html",))
    assert events.ran == [("alpha", "line.py")]
    assert "The slope is 2.0." in (mini / "build/alpha.html").read_text()


def test_files_an_editor_leaves_beside_the_spec_change_nothing(mini: Path) -> None:
    build(mini, "alpha", formats=("html",))
    folder = mini / "experiments/alpha"
    for name in (".experiment.yaml.swp", "line.py~", ".#line.py", ".DS_Store"):
        (folder / name).write_bytes(b"editor state")
    events = build(mini, "alpha", formats=("html",))
    assert events.ran == [] and events.outcomes[0].status == "up-to-date"


def test_prose_change_rerenders_without_rerunning(mini: Path) -> None:
    build(mini, "alpha", formats=("html",))
    spec = mini / "experiments/alpha/experiment.yaml"
    spec.write_text(spec.read_text().replace("constant slope", "steady slope"))
    events = build(mini, "alpha", formats=("html",))
    assert events.ran == [] and events.cached == [("alpha", "line.py")]
    assert events.outcomes[0].status == "built"
    assert "steady slope" in (mini / "build/alpha.html").read_text()


def test_template_change_rerenders_without_rerunning(mini: Path) -> None:
    build(mini, "alpha", formats=("html",))
    override = mini / "templates/classic/record.html"
    override.parent.mkdir(parents=True)
    override.write_text(
        '{% extends "builtin/classic/record.html" %}'
        "{% block title %}<h1>Overridden title</h1>{% endblock title %}"
    )
    events = build(mini, "alpha", formats=("html",))
    assert events.ran == [] and events.cached == [("alpha", "line.py")]
    assert "Overridden title" in (mini / "build/alpha.html").read_text()


def test_editing_one_program_reruns_only_that_one(mini: Path) -> None:
    build(mini, "beta", formats=("html",))
    second = mini / "experiments/beta/second.py"
    second.write_text(second.read_text() + "print('and goodnight')\n")
    events = build(mini, "beta", formats=("html",))
    assert events.ran == [("beta", "second.py")]
    assert events.cached == [("beta", "first.py")]
    assert "and goodnight" in (mini / "build/beta.html").read_text()


def test_a_program_that_names_another_reruns_with_it(mini: Path) -> None:
    first = mini / "experiments/beta/first.py"
    first.write_text("import second  # noqa: F401\n" + first.read_text())
    build(mini, "beta", formats=("html",))
    second = mini / "experiments/beta/second.py"
    second.write_text(second.read_text() + "print('and goodnight')\n")
    events = build(mini, "beta", formats=("html",))
    assert sorted(events.ran) == [("beta", "first.py"), ("beta", "second.py")]


def test_a_data_file_change_reruns_every_program(mini: Path) -> None:
    build(mini, "beta", formats=("html",))
    (mini / "experiments/beta/notes.txt").write_text("any program may read this\n")
    events = build(mini, "beta", formats=("html",))
    assert sorted(events.ran) == [("beta", "first.py"), ("beta", "second.py")]


def test_runner_version_change_reruns(mini: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build(mini, "alpha", formats=("html",))
    labreport.fingerprint.environment_fingerprint.cache_clear()
    monkeypatch.setattr(labreport.fingerprint, "RUNNER_VERSION", "a newer runner")
    try:
        events = build(mini, "alpha", formats=("html",))
    finally:
        labreport.fingerprint.environment_fingerprint.cache_clear()
    assert events.ran == [("alpha", "line.py")]


def test_library_version_change_reruns(
    mini: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    build(mini, "alpha", formats=("html",))
    # What an upgrade leaves on sys.path: another numpy-*.dist-info, found first.
    site = tmp_path / "site"
    (site / "numpy-9.9.dist-info").mkdir(parents=True)
    monkeypatch.syspath_prepend(str(site))
    labreport.fingerprint.environment_fingerprint.cache_clear()
    try:
        assert labreport.fingerprint.environment_fingerprint()["numpy"] == "9.9"
        events = build(mini, "alpha", formats=("html",))
    finally:
        labreport.fingerprint.environment_fingerprint.cache_clear()
    assert events.ran == [("alpha", "line.py")]


@pytest.mark.parametrize("name", ["numpy", "torch", "matplotlib", "weasyprint", "no-such-lib"])
def test_installed_version_agrees_with_importlib_metadata(name: str) -> None:
    try:
        expected = metadata.version(name)
    except metadata.PackageNotFoundError:
        expected = "absent"
    assert labreport.fingerprint.installed_version(name) == expected


@pytest.mark.parametrize("damage", ["truncate", "tamper", "garbage"])
def test_corrupted_cache_entry_is_detected_and_rerun(mini: Path, damage: str) -> None:
    build(mini, "alpha", formats=("html",))
    (entry,) = (mini / ".labreport/cache").rglob("*.json")
    raw = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(raw[: len(raw) // 2])
    elif damage == "tamper":
        data = json.loads(raw)
        data["payload"]["output"] = "forged output\n"
        entry.write_text(json.dumps(data))
    else:
        entry.write_bytes(b"\x00\xff not json")
    shutil.rmtree(mini / ".labreport/state")  # force a re-render that consults the cache
    events = build(mini, "alpha", formats=("html",))
    assert events.ran == [("alpha", "line.py")]
    assert "forged output" not in (mini / "build/alpha.html").read_text()


def test_force_reruns_everything(mini: Path) -> None:
    build(mini, formats=("html",))
    events = build(mini, formats=("html",), force=True)
    assert sorted(events.ran) == [("alpha", "line.py"), ("beta", "first.py"), ("beta", "second.py")]


# ------------------------------------------------------------------------------ up to date


def test_second_build_is_up_to_date_and_touches_nothing(mini: Path) -> None:
    build(mini)
    before = {p: p.stat().st_mtime_ns for p in (mini / "build").iterdir()}
    events = build(mini)
    assert [o.status for o in events.outcomes] == ["up-to-date", "up-to-date"]
    assert events.ran == [] and events.cached == []
    assert {p: p.stat().st_mtime_ns for p in (mini / "build").iterdir()} == before


def test_deleted_output_is_rebuilt_from_cache(mini: Path) -> None:
    build(mini, "alpha")
    (mini / "build/alpha.pdf").unlink()
    events = build(mini, "alpha")
    assert events.outcomes[0].status == "built" and events.ran == []
    assert (mini / "build/alpha.pdf").is_file()


# ------------------------------------------------------------------------------ batch and CLI


def test_failing_experiment_does_not_stop_the_others_nor_lose_its_outputs(
    mini: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(mini)
    runner = CliRunner()
    assert runner.invoke(cli, ["build", "--all", "--format", "html"]).exit_code == 0
    good = (mini / "build/beta.html").read_bytes()
    (mini / "experiments/beta/first.py").write_text("raise RuntimeError('broken on purpose')\n")
    spec = mini / "experiments/alpha/experiment.yaml"
    spec.write_text(spec.read_text().replace("constant slope", "steady slope"))
    result = runner.invoke(cli, ["build", "--all", "--format", "html", "--jobs", "2"])
    assert result.exit_code == 1
    assert "steady slope" in (mini / "build/alpha.html").read_text()
    assert (mini / "build/beta.html").read_bytes() == good
    assert not list((mini / "build").glob(".*.tmp"))
    assert re.search(
        r"Summary: 1 built \(0 program\(s\) run, 1 from cache\), 0 up to date, 1 failed",
        result.stderr,
    )
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("Error: beta: first.py failed at line 1: RuntimeError: broken on purpose")
    )


def test_line_progress_and_quiet(mini: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(mini)
    runner = CliRunner()
    loud = runner.invoke(cli, ["build", "alpha", "--format", "html"])
    assert loud.exit_code == 0
    lines = loud.stderr.splitlines()
    assert len(lines) == 3 and lines[0] == "alpha: running line.py ..."
    assert re.fullmatch(r"alpha: line.py: ok in [0-9.]+ s, 1 figure\(s\)", lines[1])
    assert re.fullmatch(r"alpha: built in [0-9.]+ s \(1 run, 0 from cache\)", lines[2])
    again = runner.invoke(cli, ["build", "alpha", "--format", "html"])
    assert again.stderr.strip() == "alpha: up to date"
    quiet = runner.invoke(cli, ["build", "alpha", "--format", "html", "--force", "--quiet"])
    assert quiet.exit_code == 0 and quiet.stderr == ""
    assert quiet.stdout.strip() == "build/alpha.html"


def test_a_batch_starts_the_slowest_experiments_first(mini: Path) -> None:
    events = build(mini, "alpha", "beta", formats=("html",))
    seconds = {o.id: o.duration for o in events.outcomes}
    builder = Builder(load_project(mini), BuildOptions(), Events())
    # The state keeps the duration the outcome reported (rounded to the millisecond).
    assert {i: builder.state.last_duration(i) for i in seconds} == {
        i: round(s, 3) for i, s in seconds.items()
    }
    # Make alpha the slow one, as if its program had grown: it must now start first.
    builder.state.save("alpha", "stale", [], seconds=seconds["beta"] + 60)
    assert longest_first(["beta", "alpha"], builder.state) == ["alpha", "beta"]
    # Never built: unknown, so it goes first (it may be the longest of all).
    assert longest_first(["beta", "alpha", "new"], builder.state) == ["new", "alpha", "beta"]


# ------------------------------------------------------------------------------ reproducible


@pytest.fixture(scope="module")
def clean_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    """mini built once from clean, serially, HTML and PDF: the project and its outputs, which
    the tests below compare their own builds with (they copy the project, never change it)."""
    root = copy_project("mini", tmp_path_factory.mktemp("clean") / "mini")
    build(root, force=True, jobs=1)
    return root, outputs(root)


def test_clean_builds_and_serial_vs_parallel_are_byte_identical(
    clean_build: tuple[Path, dict[str, bytes]], mini: Path, tmp_path: Path
) -> None:
    built, first = clean_build
    twin = tmp_path / "twin"
    shutil.copytree(mini, twin)
    shutil.rmtree(mini)
    shutil.copytree(built, mini)  # the clean build's project, its cache and outputs included
    build(mini, force=True, jobs=1)
    assert outputs(mini) == first
    build(twin, force=True, jobs=2)
    assert outputs(twin) == first
    assert set(first) == {"alpha.html", "alpha.pdf", "beta.html", "beta.pdf"}


def test_pdf_workers_and_in_process_rendering_give_the_same_bytes(
    clean_build: tuple[Path, dict[str, bytes]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built, from_workers = clean_build
    html = (built / "build/alpha.html").read_text(encoding="utf-8")
    assert render_pdf(html, root=built) == from_workers["alpha.pdf"]

    # No worker can start (no processes left, say): the build renders the PDFs itself.
    def cannot_start() -> None:
        raise pdfworker.WorkerGone("cannot start a PDF worker: no processes left")

    monkeypatch.setattr(pdfworker, "PdfWorker", cannot_start)
    twin = copy_project("mini", tmp_path / "twin")
    events = build(twin, force=True, jobs=2)
    assert all(o.status == "built" for o in events.outcomes)
    assert outputs(twin) == from_workers


def test_pdf_workers_end_with_the_build(mini: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[pdfworker.PdfWorker] = []

    class Recorded(pdfworker.PdfWorker):
        def __init__(self) -> None:
            super().__init__()
            started.append(self)

    monkeypatch.setattr(pdfworker, "PdfWorker", Recorded)
    events = build(mini, force=True, jobs=2)
    assert all(o.status == "built" for o in events.outcomes)
    assert 1 <= len(started) <= 2, "at most one worker per job"
    assert all(worker.proc.poll() is not None for worker in started), "none outlives the build"


# ------------------------------------------------------------------------------ the book


def test_book_index_pages_are_where_each_experiment_starts(
    mini: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(mini)
    result = CliRunner().invoke(cli, ["book"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-2:] == ["build/index.html", "build/lab-record.pdf"]
    pages = [page.extract_text() for page in PdfReader(mini / "build/lab-record.pdf").pages]
    assert "LABORATORY RECORD" in pages[0] and "MINI COURSE" in pages[0]
    assert "Test Student" in pages[0]
    index = next(i for i, text in enumerate(pages) if "INDEX" in text)
    for header in ("S.No", "Date", "Name of the Experiment", "Page No.", "Marks", "Signature"):
        assert header in pages[index]
    listed = {
        int(m.group(1)): int(m.group(2))
        for m in re.finditer(r"Experiment (\d+):.*?(\d+)\s*$", pages[index], re.M | re.S)
    }
    body = list(enumerate(pages, 1))[index + 1 :]  # after the index, which names them too
    starts = {
        1: next(i for i, t in body if "A line and a number" in t),
        2: next(i for i, t in body if "Experiment 2: Two programs" in t),
    }
    assert listed == starts
    # Page numbers run on: classic shows "Experiment 1 N", the worksheet "Page N".
    assert f"Experiment 1 {starts[1]}" in pages[starts[1] - 1]
    for number in range(starts[2], len(pages) + 1):
        assert re.findall(r"Page (\d+)", pages[number - 1]) == [str(number)]
    html = (mini / "build/index.html").read_text()
    assert 'href="alpha.html"' in html and 'href="beta.html"' in html


def _children() -> set[int]:
    """This process's live children (every thread's), from /proc."""
    pids: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        text = (task / "children").read_text() if (task / "children").exists() else ""
        pids |= {int(pid) for pid in text.split()}
    return {
        pid
        for pid in pids
        if Path(f"/proc/{pid}/stat").exists()
        and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    }


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc")
def test_a_builder_used_for_one_experiment_leaves_no_process_behind(mini: Path) -> None:
    before = _children()
    builder = Builder(load_project(mini), BuildOptions(force=True), Events())
    with pytest.raises(RuntimeError, match="with Builder"):
        builder.build("alpha")  # it would start processes nobody closes
    with builder:
        outcome = builder.build("alpha")  # HTML and PDF: a warm interpreter and a PDF worker
        assert _children() - before != set()  # they were running
    assert outcome.status == "built", outcome.error
    assert _children() - before == set()
