"""``labreport class``: build every student's project of a submissions folder, each on its own.

Each submission is copied into a private scratch folder (without its ``.labreport/`` cache and
``build/``: nothing of the student's own making is reused) and built there by labreport itself
in a subprocess (``python -P -m labreport book --report ...``), with the limits of a normal
build and its own cache inside its scratch folder. Where Landlock exists, that subprocess (and
every program it runs) is confined by :mod:`labreport.readjail` so that it cannot read the
submissions folder, the other students' scratch folders, the output folder or the roster. A
broken submission is a failed row, never the end of the batch; an interruption stops every
build (each is sent SIGINT, and killed if it does not end) and is raised again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from labreport.batch import run_all, terminations_interrupt
from labreport.child.confine import landlock_abi
from labreport.copyflags import ProgramSighting, code_digest
from labreport.errors import EXIT_INTERRUPTED, LabreportError, UsageError
from labreport.readjail import jailed, readable_paths
from labreport.report import BuildReport, ReportError, load_report
from labreport.sandbox import importable
from labreport.scratch import copy_experiment, scratch_folder
from labreport.submissions import Submission, build_env

ClassFormat = Literal["all", "html"]
REPORT_NAME = "report.json"  # each student's build report, beside their records
_LEFT_OUT = frozenset({".labreport", "build"})  # a submission's cache and outputs: not copied
_GRACE = 10.0  # seconds an interrupted build has to stop before it is killed
UNCONFINED = (
    "submissions are not hidden from each other's programs: this system has no Landlock (Linux "
    "5.13 or later); each still builds on a copy of its own"
)


@dataclass(frozen=True)
class StudentBuild:
    """What building one submission came to: its build report (None when the build ended
    before writing one: an unreadable labreport.toml), the outputs copied to the student's
    folder (relative to the output folder), and for copy detection each program it ran."""

    submission: Submission
    exit_status: int
    error: str
    seconds: float
    report: BuildReport | None
    book: str = ""
    records: tuple[str, ...] = ()
    sightings: tuple[ProgramSighting, ...] = field(default=(), repr=False)

    @property
    def built(self) -> bool:
        return self.exit_status == 0


@dataclass(frozen=True)
class ClassJob:
    """What every student's build shares."""

    submissions_dir: Path
    out_dir: Path
    fmt: ClassFormat
    hidden: tuple[Path, ...]  # besides the scratch root: the submissions, outputs and roster
    confined: bool
    executor: str | None = None  # a Dask scheduler's address, passed on to each build


def check_folders(submissions_dir: Path, out_dir: Path) -> None:
    """The output folder may be neither inside the submissions folder nor hold it."""
    subs, out = submissions_dir.resolve(), out_dir.resolve()
    if out == subs or subs in out.parents or out in subs.parents:
        raise UsageError(
            "the output folder must lie outside the submissions folder, and not hold it",
            where=f"--out {out_dir}", fix="choose another, such as class-build/ beside it",
        )  # fmt: skip


def build_class(
    job: ClassJob,
    submissions: Sequence[Submission],
    jobs: int,
    finished: Callable[[StudentBuild], None],
) -> list[StudentBuild]:
    """Build every submission, up to ``jobs`` at once; ``finished`` hears of each as it ends
    (from worker threads). Results in the order of ``submissions``."""
    cancel = threading.Event()
    with terminations_interrupt(), scratch_folder("class") as root:
        places = {sub.name: root / f"s{i}" for i, sub in enumerate(submissions)}

        def work(name: str) -> StudentBuild:
            sub = next(s for s in submissions if s.name == name)
            result = _build_one(job, sub, root, places[name], cancel)
            if not cancel.is_set():
                finished(result)
            return result

        names = [sub.name for sub in submissions]
        return run_all(work, names, jobs, cancel)


def _build_one(
    job: ClassJob, sub: Submission, root: Path, own: Path, cancel: threading.Event
) -> StudentBuild:
    start = time.perf_counter()
    project, tmp, report_path = own / "project", own / "tmp", own / REPORT_NAME
    own.mkdir()
    tmp.mkdir()
    try:
        copy_experiment(sub.folder, project, leave_out=_LEFT_OUT)
    except (LabreportError, OSError) as exc:
        message = exc.format_message() if isinstance(exc, LabreportError) else str(exc)
        return StudentBuild(sub, 1, f"could not be copied: {message}", 0.0, None)
    command = [sys.executable, "-P", "-m", "labreport", *_command(job.fmt), str(report_path)]
    if job.executor is not None:
        command += ["--executor", job.executor]
    if job.confined:
        command = jailed(readable_paths([*job.hidden, root], keep=[own]), command)
    log = own / "stderr.txt"
    try:
        with open(log, "wb") as stderr:
            proc = subprocess.Popen(
                command, cwd=project, env=importable(build_env(tmp)), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
            )  # fmt: skip
            code = _wait(proc, cancel)
    except OSError as exc:  # no processes or disk left: this student fails, the others go on
        return StudentBuild(sub, 1, f"could not be built: {exc.strerror or exc}", 0.0, None)
    seconds = time.perf_counter() - start
    if cancel.is_set():  # interrupted: leave the outputs of an earlier class build as they are
        return StudentBuild(sub, EXIT_INTERRUPTED, "interrupted", seconds, None)
    report = _read_report(report_path)
    # Messages name the submission's own files, not the scratch copy they were read from.
    error = "" if code == 0 else _last_error(log, code).replace(str(project), str(sub.folder))
    book, records = _copy_outputs(job, sub, project, report, report_path)
    sightings = _sightings(sub, project, report)
    return StudentBuild(sub, code, error, seconds, report, book, records, sightings)


def _command(fmt: ClassFormat) -> list[str]:
    """The build each student gets: the bound book (and the records), or the HTML records."""
    if fmt == "html":
        return ["build", "--all", "--format", "html", "-j", "1", "-q", "--report"]
    return ["book", "-j", "1", "-q", "--report"]


def _wait(proc: subprocess.Popen[bytes], cancel: threading.Event) -> int:
    """The build's exit status; on ``cancel`` it is interrupted (SIGINT to its process group,
    as Ctrl-C would), then killed if it has not ended within :data:`_GRACE` seconds."""
    try:
        while not cancel.is_set():
            with contextlib.suppress(subprocess.TimeoutExpired):
                return proc.wait(timeout=0.1)
    except BaseException:  # Ctrl-C in this very thread (-j 1)
        _stop(proc)
        raise
    _stop(proc)
    return EXIT_INTERRUPTED


def _stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=_GRACE)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _read_report(path: Path) -> BuildReport | None:
    try:
        return load_report(path)
    except (OSError, ReportError):
        return None


def _last_error(log: Path, code: int) -> str:
    """The build's last ``Error:`` line (its own reason for failing), or its exit status."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    errors = [line.removeprefix("Error: ") for line in lines if line.startswith("Error: ")]
    return errors[-1] if errors else f"the build ended with exit status {code}"


def _copy_outputs(
    job: ClassJob, sub: Submission, project: Path, report: BuildReport | None, report_path: Path
) -> tuple[str, tuple[str, ...]]:
    """Put the student's records, book and build report in ``OUT/<folder>/`` (replacing what
    an earlier class build left there); the book and the records, relative to ``OUT``."""
    target = job.out_dir / sub.name
    fresh = job.out_dir / f".{sub.name}.new"
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    book, records = "", []
    if report is not None:
        shutil.copyfile(report_path, fresh / REPORT_NAME)
        files = [f for e in report.experiments for f in e.files] + list(report.book)
        for name in files:
            source = project / name
            if (
                source.is_file()
                and not source.is_symlink()
                and project.resolve() in source.resolve().parents
            ):
                shutil.copyfile(source, fresh / source.name)
                shown = f"{sub.name}/{source.name}"
                if source.name.endswith(".pdf") and name in report.book:
                    book = shown
                elif source.name.endswith(".html") and name not in report.book:
                    records.append(shown)
    shutil.rmtree(target, ignore_errors=True)
    fresh.rename(target)
    return book, tuple(records)


def _sightings(
    sub: Submission, project: Path, report: BuildReport | None
) -> tuple[ProgramSighting, ...]:
    """Each program that ran well, with its seed, output digest and normalised code digest."""
    if report is None:
        return ()
    found = []
    for experiment in report.experiments:
        for program in experiment.programs:
            if program.status != "ok":
                continue
            path = project / "experiments" / experiment.id / program.code
            try:
                code = code_digest(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                code = None
            found.append(
                ProgramSighting(
                    sub.name, experiment.id, program.code, program.seed, program.digest, code
                )
            )
    return tuple(found)


def confinement_available() -> bool:
    """Whether the students' builds can be hidden from each other here."""
    return landlock_abi() > 0
