"""The ``labreport`` command: a thin click group; every heavy import happens inside a command."""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from labreport import __version__
from labreport.console import terminal_line, terminal_lines
from labreport.errors import (
    EXIT_CODES,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    LabreportError,
)
from labreport.pdfvariant import VARIANTS

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

    from labreport.build import Builder
    from labreport.classbuild import StudentBuild
    from labreport.progress import LineProgress
    from labreport.project import Project
    from labreport.results import ExperimentOutcome

_state = {"debug": False, "verbose": False}
F = TypeVar("F", bound=Callable[..., Any])


def _complete_ids(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Shell completion of experiment ids: the folders of the project found from here."""
    from click.shell_completion import CompletionItem

    from labreport.ids import discover
    from labreport.project import find_project

    try:
        ids = discover(find_project().experiments_dir)
    except (LabreportError, OSError):
        return []  # not in a project: complete nothing rather than fail the shell
    return [CompletionItem(i) for i in ids if i.startswith(incomplete)]


def _complete_themes(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Shell completion of theme names: built-in ones and the project's."""
    from click.shell_completion import CompletionItem

    from labreport.project import find_project
    from labreport.themes import ThemeSearchPath

    try:
        names = [theme.name for theme in ThemeSearchPath.for_project(find_project()).sources()]
    except (LabreportError, OSError):
        return []
    return [
        CompletionItem(name)
        for name in dict.fromkeys(names) if name.startswith(incomplete)
    ]  # fmt: skip


# Options shared by `build` and `book`.
_out_option = click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Output folder (default: build/ under the project root).",
)  # fmt: skip
_force_option = click.option(
    "--force", is_flag=True, help="Re-run every program and re-render, ignoring caches."
)
_executor_option = click.option(
    "--executor", "executor", default=None, metavar="local|dask://HOST:PORT",
    help="Where programs run and records are laid out: this machine (local, the default) or a "
    "Dask scheduler (pip install labreport[dask]; see docs/scaling.md). Same records either way.",
)  # fmt: skip
_jobs_option = click.option(
    "-j", "--jobs", type=click.IntRange(min=1), default=None,
    help="Experiments built at once (default: the number of CPU cores).",
)  # fmt: skip


_pdf_variant_option = click.option(
    "--pdf-variant", "pdf_variant", default=None, metavar="VARIANT",
    help="Write archival PDFs: pdf/a-3u (PDF/A-3u: fonts embedded, searchable text) or pdf/ua-1 "
    f"(PDF/UA-1: tagged, accessible); accepted: {', '.join(VARIANTS)}; none for a plain PDF. "
    "Default: [build] pdf_variant in labreport.toml, else none.",
)  # fmt: skip


def _templates_option(help_text: str) -> Callable[[F], F]:
    """``--templates DIR``, as build, serve, validate and templates list all take it."""
    return click.option(
        "--templates", "templates_dir", default=None, help=help_text,
        type=click.Path(file_okay=False, exists=True, path_type=Path),
    )  # fmt: skip


def _deprecated(old: str, new: str, **kwargs: Any) -> Callable[[F], F]:
    """``old``, the spelling of ``new`` before 0.2: hidden from --help, still works for one
    release, with a warning; its value goes to ``new``'s parameter unless that is given."""
    dest = new.lstrip("-").replace("-", "_")

    def moved(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None:
            return
        click.echo(
            f"Warning: {old} is deprecated and will stop working in the next release; use {new}",
            err=True,
        )
        if ctx.params.get(dest) is None:
            ctx.params[dest] = value

    return click.option(
        old, f"_deprecated_{dest}", default=None, hidden=True, expose_value=False,
        callback=moved, **kwargs,
    )  # fmt: skip


def _student_options(command: F) -> F:
    """``--student-id``, ``--student-name`` and ``--section``, as build, book, verify, serve
    and validate take them: each wins over its environment variable and labreport.toml's
    [student] (labreport.project.student_details)."""
    from labreport.project import STUDENT_ENV, STUDENT_OPTIONS

    helps = {
        "id": "The student's ID, printed on every page (also the source of student seeds).",
        "name": "The student's name, printed on every page.",
        "section": "The student's section or batch, printed on every page.",
    }
    for detail in ("section", "name", "id"):  # listed in --help as id, name, section
        command = click.option(
            STUDENT_OPTIONS[detail], f"student_{detail}", default=None, metavar="TEXT",
            help=f"{helps[detail]} Default: ${STUDENT_ENV[detail]}, else [student] {detail} "
            "in labreport.toml.",
        )(command)  # fmt: skip
    return command


def _student_project(
    student_id: str | None,
    student_name: str | None,
    student_section: str | None,
    seeds_needed: bool = True,
) -> Project:
    """The project, its student's details chosen from these options, the environment and
    labreport.toml. Under ``[student] seeds = "student"`` with no student ID anywhere, exit 2
    now with one line, not once per experiment (``seeds_needed``: the command runs programs
    with the project's seeds)."""
    from labreport.errors import ProjectError
    from labreport.project import find_project
    from labreport.seeds import STUDENT, STUDENT_ID_FIX

    options = {"id": student_id, "name": student_name, "section": student_section}
    project = find_project(student=options)
    student = project.config.student
    if seeds_needed and student.seeds == STUDENT and not student.id:
        raise ProjectError(
            'every program\'s seed comes from the student ([student] seeds = "student"), but '
            "no student ID is set",
            where=_shown(project.config_path),
            fix=STUDENT_ID_FIX,
        )
    return project


_quiet_option = click.option(
    "-q", "--quiet", is_flag=True, help="Print only errors (and the files written)."
)
_report_option = click.option(
    "--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Also write a JSON report of the build to this file: each experiment's status, files, "
    "errors, checks and programs (seed, cached or run, output digest); see docs/report.md.",
)  # fmt: skip
_json_option = click.option(
    "--json", "as_json", is_flag=True,
    help="Print the JSON report (as --report writes it) on stdout instead of the files written.",
)  # fmt: skip


def _exit_status_help() -> str:
    """The exit-status table for ``--help`` (``\b`` keeps click from re-flowing it)."""
    import textwrap

    rows = [
        textwrap.fill(meaning, 78, initial_indent=f"  {code:>3}  ", subsequent_indent=" " * 7)
        for code, meaning in EXIT_CODES
    ]
    return "\b\nExit status:\n" + "\n".join(rows)


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """``--debug`` given before the command or after it: either turns tracebacks on."""
    if value or ctx.parent is None:  # the group's own resets it, for each run in one process
        _state["debug"] = value


def _set_verbose(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """``-v`` given before the command or after it: either shows labreport's INFO log lines
    (the run cache's decisions) on stderr."""
    if value or ctx.parent is None:
        _state["verbose"] = value
        if value or "logging" in sys.modules:  # nothing to undo when logging was never loaded
            _configure_logging(value)


def _configure_logging(verbose: bool) -> None:
    """labreport's loggers to stderr: INFO and up with ``-v``; else warnings only, as Python's
    last-resort handler shows them."""
    import logging

    logger = logging.getLogger("labreport")
    if not any(getattr(h, "_labreport", False) for h in logger.handlers):
        handler = logging.StreamHandler()  # stderr, looked up when it writes
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._labreport = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)


class _Command(click.Command):
    """A command that takes ``--debug`` and ``-v`` too, so that ``labreport build exp5 --debug``
    works as ``labreport --debug build exp5`` does: one option each, declared here for every
    command."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(
            click.Option(
                ["--debug"],
                is_flag=True,
                expose_value=False,
                is_eager=True,
                callback=_set_debug,
                help="Show Python tracebacks for errors.",
            )  # fmt: skip
        )
        self.params.append(
            click.Option(
                ["-v", "--verbose"],
                is_flag=True,
                expose_value=False,
                is_eager=True,
                callback=_set_verbose,
                help="Say what the run cache decides for each program, and why.",
            )  # fmt: skip
        )


class _Group(_Command, click.Group):
    """The ``labreport`` group: its commands and subgroups (``templates``) take ``--debug``."""

    command_class = _Command
    group_class = type  # a subgroup is a _Group too


@click.group(
    cls=_Group, context_settings={"help_option_names": ["-h", "--help"]},
    epilog=_exit_status_help(),
)  # fmt: skip
@click.version_option(__version__, prog_name="labreport")
def cli() -> None:
    """Turn experiment specs into lab records generated from real runs.

    Each experiment lives in experiments/<id>/experiment.yaml. `labreport build exp5` runs its
    programs, captures what they print and plot, and writes build/exp5.html and build/exp5.pdf.
    """


@cli.command()
@click.argument("experiments", nargs=-1, metavar="EXP...", shell_complete=_complete_ids)
@click.option("--all", "build_all", is_flag=True, help="Build every experiment of the project.")
@click.option(
    "--format", "fmt", type=click.Choice(["html", "pdf", "docx", "all"]), default="all",
    show_default=True,
    help="Which outputs to write: all is html and pdf; docx is an editable Word document "
    "(needs the labreport[docx] extra).",
)  # fmt: skip
@_out_option
@click.option(
    "--theme", default=None, shell_complete=_complete_themes,
    help="Theme (the look of the record) to use instead of the spec's.",
)  # fmt: skip
@_deprecated("--template", "--theme")
@_templates_option("Folder searched for templates before the project's and the built-ins.")
@_force_option
@_jobs_option
@_quiet_option
@click.option(
    "--strict", is_flag=True,
    help="Fail an experiment whose checks (the spec's checks: claims) the run does not bear out.",
)  # fmt: skip
@click.option(
    "--fresh", is_flag=True,
    help="Start each program in a new interpreter instead of forking the warm one (slower).",
)  # fmt: skip
@click.option(
    "--handout", is_flag=True,
    help="Write the handout instead of the record: aim, theory, questions without answers, "
    "the listings or skeletons the spec's handout: marks, ruled space to write in; no output, "
    "figure or result. Runs no program. Files: build/EXP.handout.html and .pdf.",
)  # fmt: skip
@_report_option
@_json_option
@_executor_option
@_pdf_variant_option
@_student_options
def build(
    experiments: tuple[str, ...],
    build_all: bool,
    fmt: str,
    out_dir: Path | None,
    theme: str | None,
    templates_dir: Path | None,
    force: bool,
    jobs: int | None,
    quiet: bool,
    strict: bool,
    fresh: bool,
    handout: bool,
    report_path: Path | None,
    as_json: bool,
    executor: str | None,
    pdf_variant: str | None,
    student_id: str | None,
    student_name: str | None,
    student_section: str | None,
) -> None:
    """Run the experiments' programs and write their records.

    EXP is an experiment id, the name of its folder under experiments/ (see `labreport list`).
    Programs whose code and data did not change are not run again: their results come from the
    run cache in .labreport/, so editing prose or templates only re-renders. An experiment whose
    inputs did not change at all is left alone ("up to date"). Each file written is printed on
    its own line (with --json, the report instead); progress and the summary go to stderr. Exit
    status 1 if any experiment failed.

    With --handout it writes each experiment's handout instead (build/EXP.handout.html and
    .pdf), what a student gets before the lab, and runs nothing: the record and the handout are
    up to date each on its own.

    With --pdf-variant pdf/a-3u (or pdf/ua-1, ...) the PDFs are archival ones that declare their
    conformance; switching the variant rebuilds the records.
    """
    from labreport.build import Builder, BuildOptions
    from labreport.ids import discover, resolve_ids

    project = _student_project(student_id, student_name, student_section)
    address = _executor_address(project, executor)
    variant = _pdf_variant(project, pdf_variant)
    if build_all:
        ids = discover(project.experiments_dir)
    elif experiments:
        ids = resolve_ids(project.experiments_dir, list(experiments))
    else:
        raise click.UsageError("name at least one experiment (see `labreport list`) or use --all")
    formats = ("html", "pdf") if fmt == "all" else (fmt,)
    if handout and "docx" in formats:  # the Word writer knows the record's structure only
        raise click.UsageError("a handout is written as html or pdf: drop --format docx")
    if "docx" in formats:
        from labreport.word.package import require_word

        require_word()  # before anything runs: a missing extra is said at once
    options = BuildOptions(
        formats=formats,  # type: ignore[arg-type]
        out_dir=out_dir.resolve() if out_dir else None,
        theme=theme,
        templates_dir=templates_dir.resolve() if templates_dir else None,
        force=force,
        strict=strict,
        warm=not fresh and not handout,  # a handout runs nothing: no warm interpreter
        handout=handout,
        executor=address,
        pdf_variant=variant,
    )
    progress = _progress_display(quiet)
    with Builder(project, options, progress) as builder:
        outcomes, code = _build_and_report(builder, progress, ids, jobs, quiet, as_json)
    _write_report(project, "build", outcomes, code, report_path, as_json)
    if code:
        raise click.exceptions.Exit(code)


def _executor_address(project: Project, option: str | None) -> str | None:
    """The Dask scheduler's address that ``--executor``, else ``[build] executor`` in
    labreport.toml, names; None: build here. A malformed one is a UsageError (exit 2)."""
    from labreport.executor import parse_executor

    if option is not None:
        return parse_executor(option)
    configured = project.config.build.executor
    if configured is None:
        return None
    return parse_executor(configured, f"{project.config_path.name}: [build] executor")


def _pdf_variant(project: Project, option: str | None) -> str | None:
    """The archival PDF variant that ``--pdf-variant``, else ``[build] pdf_variant`` in
    labreport.toml (checked when it was read), asks for; None: a plain PDF."""
    from labreport.pdfvariant import variant_option

    if option is not None:
        return variant_option(option)
    return project.config.build.pdf_variant


def _build_and_report(
    builder: Builder,
    progress: LineProgress,
    ids: list[str],
    jobs: int | None,
    quiet: bool,
    as_json: bool = False,
) -> tuple[list[ExperimentOutcome], int]:
    """Build ``ids``, print each file written (unless ``as_json``), then the summary; the
    outcomes and the exit status (1 if any failed, 2 for spec errors)."""
    from labreport.batch import build_many

    start = time.perf_counter()
    try:
        outcomes = build_many(builder, ids, jobs or os.cpu_count() or 1)
    finally:
        progress.close()
    for outcome in outcomes:
        for path in outcome.written:
            if not as_json:
                click.echo(_shown(path))
    return outcomes, _summarise(outcomes, time.perf_counter() - start, quiet)


def _write_report(
    project: Project,
    command: str,
    outcomes: list[ExperimentOutcome],
    code: int,
    target: Path | None,
    as_json: bool,
    book: tuple[Path, ...] = (),
    errors: tuple[LabreportError, ...] = (),
) -> None:
    """The build report (labreport.report) to ``target`` and/or stdout, as asked."""
    if target is None and not as_json:
        return
    import dataclasses

    from labreport.output import write_atomic
    from labreport.report import BuildReport, ErrorEntry, experiment_entry

    def shown(path: Path) -> str:
        """A path inside the project relative to its root, so the report travels with it."""
        try:
            return str(path.resolve().relative_to(project.root.resolve()))
        except ValueError:
            return str(path.resolve())

    report = BuildReport(
        command=command,
        labreport=__version__,
        exit_status=code,
        student={k: str(v) for k, v in dataclasses.asdict(project.config.student).items()},
        experiments=tuple(experiment_entry(outcome, shown) for outcome in outcomes),
        book=tuple(shown(path) for path in book),
        errors=tuple(
            ErrorEntry(str(problem), exc.exit_code) for exc in errors for problem in exc.problems
        ),
    )
    text = report.to_json()
    if target is not None:
        write_atomic(target.resolve(), text.encode("utf-8"))
    if as_json:
        click.echo(text, nl=False)


def _echo_error(message: str) -> None:
    """``message`` (one problem a line) as error lines on stderr, each line made safe for the
    terminal and starting with ``Error:``, so that no text from a program or a spec can pass
    for a line of labreport's own."""
    for line in terminal_lines(message):
        click.echo(f"Error: {line}", err=True)


def _show_error(exc: LabreportError) -> None:
    """A user-facing error: each of its problems on one line, made safe for the terminal."""
    for problem in exc.problems:
        click.echo(f"Error: {terminal_line(str(problem))}", err=True)


def _progress_display(quiet: bool) -> LineProgress:
    from labreport.progress import LineProgress, LiveProgress

    stream = sys.stderr
    if stream.isatty() and not quiet:
        return LiveProgress(stream)
    return LineProgress(stream, quiet=quiet)


def _summarise(outcomes: list[ExperimentOutcome], elapsed: float, quiet: bool) -> int:
    """One summary line, then each failure as an error line; the exit status: 1 (2 for spec
    errors) if any failed, else 0."""
    built = [o for o in outcomes if o.status == "built"]
    failed = [o for o in outcomes if o.status == "failed"]
    current = len(outcomes) - len(built) - len(failed)
    ran, cached = sum(o.ran for o in built), sum(o.cached for o in built)
    # Up-to-date records still mark their failed checks: say so on every build, not only the
    # one that ran them.
    unbacked = [
        (o.id, claim) for o in outcomes if o.status != "failed" for claim in o.failed_checks
    ]
    if len(outcomes) > 1 and not quiet:
        checks = f", {len(unbacked)} check(s) failed" if unbacked else ""
        click.echo(
            f"Summary: {len(built)} built ({ran} program(s) run, {cached} from cache), "
            f"{current} up to date, {len(failed)} failed{checks}, in {elapsed:.1f} s",
            err=True,
        )
    for exp_id, claim in unbacked:
        click.echo(
            f"Warning: {exp_id}: check failed: {terminal_line(claim)} (the record marks it "
            "failed; --strict makes this an error)",
            err=True,
        )
    for outcome in failed:
        if outcome.detail and _state["debug"]:
            click.echo("\n".join(terminal_lines(outcome.detail.rstrip("\n"))), err=True)
        _echo_error(outcome.error or "build failed")
    return max((o.exit_code for o in failed), default=EXIT_OK)


@cli.command()
@_out_option
@_force_option
@_jobs_option
@_quiet_option
@_report_option
@_json_option
@_executor_option
@_pdf_variant_option
@_student_options
def book(
    out_dir: Path | None,
    force: bool,
    jobs: int | None,
    quiet: bool,
    report_path: Path | None,
    as_json: bool,
    executor: str | None,
    pdf_variant: str | None,
    student_id: str | None,
    student_name: str | None,
    student_section: str | None,
) -> None:
    """Bind every experiment into one lab record: build/lab-record.pdf and build/index.html.

    The PDF has a cover (course, student), an index page (S.No, Date, Name of the Experiment,
    Page No., Marks, Signature) whose page numbers are where each experiment really starts, then
    every experiment in its own format, with page numbers running on through the whole book.
    Experiments are built first as by `labreport build --all` (cached runs are reused); if
    any fails, nothing is bound (exit status as `build`). --report and --json as for `build`,
    with the book's two files. --pdf-variant as for `build`: the records and the bound book.
    """
    from labreport.book import bind_book
    from labreport.build import Builder, BuildOptions
    from labreport.spec import discover

    project = _student_project(student_id, student_name, student_section)
    address = _executor_address(project, executor)
    variant = _pdf_variant(project, pdf_variant)
    ids = discover(project.experiments_dir)
    if not ids:
        raise click.UsageError(f"no experiments in {project.experiments_dir}")
    options = BuildOptions(
        out_dir=out_dir.resolve() if out_dir else None, force=force, executor=address,
        pdf_variant=variant,
    )  # fmt: skip
    progress = _progress_display(quiet)
    with Builder(project, options, progress) as builder:
        outcomes, code = _build_and_report(builder, progress, ids, jobs, quiet, as_json)
    if code:
        _write_report(project, "book", outcomes, code, report_path, as_json)
        raise click.exceptions.Exit(code)
    if not quiet:
        click.echo("binding the lab record ...", err=True)
    breaks: list[str] = []
    try:
        index, target = bind_book(
            project, ids, builder.out_dir, builder.search_path, breaks, variant
        )
    except LabreportError as exc:
        _write_report(project, "book", outcomes, exc.exit_code, report_path, as_json, errors=(exc,))
        raise
    for problem in breaks:
        click.echo(terminal_line(f"warning: {problem}"), err=True)
    _write_report(project, "book", outcomes, EXIT_OK, report_path, as_json, (index, target))
    if not as_json:
        click.echo(_shown(index))
        click.echo(_shown(target))


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@cli.command()
@click.argument("experiments", nargs=-1, metavar="[ID...]", shell_complete=_complete_ids)
@click.option(
    "--seeds", "seeds", type=click.IntRange(min=2), default=None,
    help="How many seeds to run each experiment with (default 5).",
)  # fmt: skip
@click.option(
    "--students", "students", type=click.IntRange(min=2), default=None,
    help="Instead of --seeds: run each experiment as N students would under [student] seeds = "
    '"student", every program seeded from each of N student IDs (S001, S002, ...).',
)  # fmt: skip
@_force_option
@click.option(
    "-j", "--jobs", type=click.IntRange(min=1), default=None,
    help="Seed runs at once (default: the number of CPU cores).",
)  # fmt: skip
@_quiet_option
@_executor_option
@_student_options
def verify(
    experiments: tuple[str, ...],
    seeds: int | None,
    students: int | None,
    force: bool,
    jobs: int | None,
    quiet: bool,
    executor: str | None,
    student_id: str | None,
    student_name: str | None,
    student_section: str | None,
) -> None:
    """Check that each experiment's claims hold over several seeds, not only the record's run.

    Runs every program of each experiment (all, or each ID given) again with N seeds -- run k
    gives each program its seed (the spec's, or the student's) plus k, so run 0 is the
    record's own -- side by side and
    through the run cache, fills in the prose and evaluates the checks for each run. Prints,
    per check, on how many seeds it held (and the seeds where it failed), then the mean, the
    standard deviation and the range of every recorded number. Exit status 1 if any check or
    program failed on any seed. See docs/verify.md.

    With --students N, each run is a student's instead: every program's seed derived from one
    of N student IDs, as `[student] seeds = "student"` in labreport.toml derives it, so that
    a course handed out with student seeds is known to hold for whoever builds it.
    """
    from labreport.build import Builder, BuildOptions
    from labreport.ids import discover, resolve_ids
    from labreport.verify import Verifier, describe, exit_code, student_ids

    if seeds is not None and students is not None:
        raise click.UsageError("give --seeds or --students, not both")
    project = _student_project(
        student_id, student_name, student_section, seeds_needed=students is None
    )
    address = _executor_address(project, executor)
    ids = (
        resolve_ids(project.experiments_dir, list(experiments))
        if experiments
        else discover(project.experiments_dir)
    )
    progress = _progress_display(quiet)
    try:
        options = BuildOptions(formats=("html",), force=force, executor=address)
        with Builder(project, options, progress) as builder:
            verdicts = Verifier(builder).verify(
                ids, seeds or 5, jobs or os.cpu_count() or 1, student_ids(students or 0)
            )
    finally:
        progress.close()
    for verdict in verdicts:
        for line in describe(verdict):
            click.echo(terminal_line(line))
    code = exit_code(verdicts)
    if code:
        shaky = [v.id for v in verdicts if not v.holds]
        click.echo(
            f"Error: {', '.join(shaky)}: not every claim held on every "
            f"{'student' if students else 'seed'} (make the "
            "experiment more robust or the claim weaker but true; see docs/verify.md)",
            err=True,
        )
        raise click.exceptions.Exit(code)


@cli.command(name="class")
@click.argument("submissions_dir", metavar="SUBMISSIONS_DIR", type=click.Path(path_type=Path))
@click.option(
    "--roster", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="CSV file of the class, with a header row: an id column (required) and a name column "
    "(optional); who on it submitted nothing is listed.",
)  # fmt: skip
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
    default=Path("class-build"), show_default=True,
    help="Output folder: one folder per student, and summary.html, .csv and .json.",
)  # fmt: skip
@click.option(
    "-j", "--jobs", type=click.IntRange(min=1), default=None,
    help="Students built at once (default: the number of CPU cores).",
)  # fmt: skip
@click.option(
    "--format", "fmt", type=click.Choice(["all", "html"]), default="all", show_default=True,
    help="all: each student's bound book (lab-record.pdf) and records; html: HTML records only "
    "(much faster).",
)  # fmt: skip
@_executor_option
def class_build(
    submissions_dir: Path,
    roster: Path | None,
    out_dir: Path,
    jobs: int | None,
    fmt: str,
    executor: str | None,
) -> None:
    """Build every student's project under SUBMISSIONS_DIR and summarise the class.

    Each subfolder holding a labreport.toml is one student's project. Each is copied into a
    private scratch folder (without its .labreport/ cache and build/) and built there by
    labreport in a process of its own, with its own run cache and the usual program limits;
    where Landlock exists, its programs cannot read the other submissions. One broken
    submission never stops the others. Writes OUT/FOLDER/ (each student's book, records and
    report.json) and OUT/summary.html, summary.csv and summary.json: student x experiment
    (built, failed, checks held, run time), roster students who submitted nothing, duplicate
    and missing IDs, and copy flags. Progress goes to stderr, one line per student. Exit status
    1 if any submission failed to build (the summary is written all the same); see the README's
    "For teachers". With --executor dask://HOST:PORT every student's programs and layouts run on
    that Dask cluster (docs/scaling.md); the workers' own isolation then applies to them.
    """
    from labreport.classbuild import (
        UNCONFINED,
        ClassJob,
        build_class,
        check_folders,
        confinement_available,
    )
    from labreport.classsummary import summarise, write_summary
    from labreport.executor import parse_executor
    from labreport.submissions import find_submissions, load_roster

    # Checked here (exit 2 at once), passed on as given: each student's build reads it again.
    remote = executor if executor is not None and parse_executor(executor) else None

    submissions = find_submissions(submissions_dir)
    entries = load_roster(roster) if roster is not None else None
    check_folders(submissions_dir, out_dir)
    if not submissions:
        raise click.UsageError(
            f"no student projects (folders holding labreport.toml) in {submissions_dir}"
        )
    confined = confinement_available()
    if not confined:
        click.echo(f"Warning: {UNCONFINED}", err=True)
    hidden = [submissions_dir.resolve(), out_dir.resolve()]
    if roster is not None:
        hidden.append(roster.resolve())
    out_dir.mkdir(parents=True, exist_ok=True)
    job = ClassJob(
        submissions_dir.resolve(), out_dir.resolve(), fmt,  # type: ignore[arg-type]
        tuple(hidden), confined, remote,
    )  # fmt: skip
    done: list[StudentBuild] = []
    lock = threading.Lock()

    def finished(result: StudentBuild) -> None:
        with lock:  # called from the worker threads: one count, one line at a time
            done.append(result)
            line = f"[{len(done)}/{len(submissions)}] {_student_line(result)}"
            click.echo(terminal_line(line), err=True)

    builds = build_class(job, submissions, jobs or os.cpu_count() or 1, finished)
    summary = summarise(builds, entries, "" if confined else UNCONFINED)
    for path in write_summary(summary, out_dir):
        click.echo(_shown(path))
    flags = f", {len(summary.copy_flags)} copy flag(s)" if summary.copy_flags else ""
    click.echo(
        f"Summary: {summary.submissions} submission(s), {summary.built} built, "
        f"{summary.failed} failed{flags}",
        err=True,
    )
    if summary.exit_status:
        raise click.exceptions.Exit(summary.exit_status)


def _student_line(result: StudentBuild) -> str:
    """One student's build, in one line: who, how it ended, in how long."""
    sub = result.submission
    who = f"{sub.name} ({sub.id or 'no ID'})"
    experiments = result.report.experiments if result.report else ()
    failed = sum(e.status == "failed" for e in experiments)
    counts = f"{len(experiments) - failed} built, {failed} failed" if experiments else ""
    if result.built:
        return f"{who}: built ({counts}) in {result.seconds:.1f} s"
    reason = result.error or sub.problem
    return f"{who}: FAILED{f' ({counts})' if counts else ''}: {reason}"


_spec_json_option = click.option(
    "--json", "as_json", is_flag=True,
    help="Print the result as JSON on stdout instead (fields: docs/report.md); same exit status.",
)  # fmt: skip


@cli.command(name="list")
@_spec_json_option
def list_experiments(as_json: bool) -> None:
    """Show each experiment: id, number, title and theme.

    An experiment whose spec cannot be read is listed as broken, with the first problem; every
    problem follows on stderr (file:line, as `labreport validate` shows them), and the exit
    status is 1. With --json, the list as JSON on stdout (broken ones with all their errors).
    """
    from labreport.errors import EXIT_FAILED
    from labreport.project import find_project
    from labreport.spec import discover, load_experiment
    from labreport.specreport import ListedExperiment, problem_entries

    project = find_project()
    rows: list[tuple[str, str, str, str]] = []
    broken: list[tuple[str, LabreportError]] = []
    listed: list[ListedExperiment] = []
    for exp_id in discover(project.experiments_dir):
        try:
            source = load_experiment(project.experiments_dir / exp_id, display_root=project.root)
        except LabreportError as exc:
            broken.append((exp_id, exc))
            rows.append((exp_id, "", "", ""))
            errors = problem_entries(exc.problems)
            listed.append(ListedExperiment(exp_id, None, None, None, "broken", errors))
            continue
        spec = source.spec
        rows.append(
            (exp_id, str(spec.number), terminal_line(spec.title), terminal_line(spec.theme))
        )
        listed.append(ListedExperiment(exp_id, spec.number, spec.title, spec.theme, "ok"))
    if as_json:
        _echo_spec_report("list", EXIT_FAILED if broken else EXIT_OK, tuple(listed))
        if broken:
            raise click.exceptions.Exit(EXIT_FAILED)
        return
    if not rows:
        click.echo(f"no experiments in {project.experiments_dir}", err=True)
        return
    reasons = {exp_id: terminal_line(_one_line_reason(exc)) for exp_id, exc in broken}
    header = ("ID", "NO.", "TITLE", "THEME")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        if row[0] in reasons:
            click.echo(f"{row[0].ljust(widths[0])}  (broken: {reasons[row[0]]})")
            continue
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[3])
    for _, error in broken:
        _show_error(error)
    if broken:
        raise click.exceptions.Exit(EXIT_FAILED)  # listed, but not every spec can be built


def _echo_spec_report(
    command: str,
    code: int,
    experiments: tuple[Any, ...],
    problems: tuple[Any, ...] = (),
) -> None:
    """Print ``validate``'s or ``list``'s JSON (:mod:`labreport.specreport`) on stdout."""
    from labreport import __version__
    from labreport.specreport import SpecReport

    report = SpecReport(command, __version__, code, experiments, problems)
    click.echo(report.to_json(), nl=False)


def _one_line_reason(exc: LabreportError) -> str:
    """The first problem of ``exc`` without its file (the row names the experiment)."""
    first = exc.problems[0]
    what = f"{first.what} ({first.fix})" if first.fix else first.what
    reason = f"{first.field}: {what}" if first.field else what
    more = len(exc.problems) - 1
    return reason + (f"; and {more} more problem(s)" if more else "")


@cli.group()
def templates() -> None:
    """Themes: which exist, where each comes from, and copying one into the project to edit.

    Templates are looked up in --templates DIR, then the project's templates/ folder (or
    templates_dir in labreport.toml), then the built-in themes. A template can extend a built-in
    one with {% extends "builtin/worksheet/record.html" %} and override its blocks; each
    built-in record.html lists its blocks and CSS custom properties at the top.
    """


@templates.command(name="list")
@_templates_option("Also search this folder first, as `labreport build --templates` does.")
def templates_list(templates_dir: Path | None) -> None:
    """Show each theme, the folder it resolves from, and which copies it hides."""
    from labreport.project import find_project
    from labreport.themes import ThemeSearchPath

    project = find_project()
    search_path = ThemeSearchPath.for_project(project, templates_dir)
    rows = []
    for theme in search_path.sources():
        hides = f"  (hides the {' and '.join(theme.hides)} one)" if theme.hides else ""
        rows.append(
            (terminal_line(theme.name), theme.origin, terminal_line(_shown(theme.folder) + hides))
        )
    header = ("THEME", "FROM", "FOLDER")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(2)]
    for row in [header, *rows]:
        click.echo(f"{row[0].ljust(widths[0])}  {row[1].ljust(widths[1])}  {row[2]}")


@templates.command(name="eject")
@click.argument("name")
@click.option(
    "--to", "target", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Folder to copy into (default: the project's templates folder).",
)  # fmt: skip
@click.option("--force", is_flag=True, help="Overwrite a copy that is already there.")
def templates_eject(name: str, target: Path | None, force: bool) -> None:
    """Copy the built-in theme NAME into the project, to edit it freely.

    The copy hides the built-in theme of the same name for this project's builds; delete the
    folder to go back to the built-in one.
    """
    from labreport.project import find_project
    from labreport.themes import ThemeSearchPath

    project = find_project()
    root = target or project.root / (project.config.templates_dir or "templates")
    copied = ThemeSearchPath.for_project(project).eject(name, root, force)
    click.echo(_shown(copied))


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--course", default="DEEP LEARNING", show_default=True, help="The course title.")
@click.option("--force", is_flag=True, help="Create it even inside another project.")
def init(folder: Path, course: str, force: bool) -> None:
    """Create a lab project in FOLDER (default: here).

    Writes labreport.toml (course and student fields), experiments/example/ (a small experiment
    that builds at once), templates/ with a README on overriding the look, and a .gitignore.
    FOLDER must not be inside another project (one of its parents holds a labreport.toml)
    unless --force; nothing existing is ever overwritten.
    """
    from labreport.scaffold import init_project

    for path in init_project(folder, course, force):
        click.echo(_shown(path))
    where = "" if folder.resolve() == Path.cwd() else f"cd {folder} && "
    click.echo(f"Next: {where}labreport build example", err=True)


@cli.command()
@click.argument("exp_id", metavar="ID")
@click.option(
    "--theme", default=None,
    help="The look of the new experiment's record: classic (default) or worksheet.",
)  # fmt: skip
@_deprecated("--format", "--theme")
@click.option("--title", default=None, help="The experiment's title (default: from ID).")
def new(exp_id: str, theme: str | None, title: str | None) -> None:
    """Scaffold experiments/ID/: a spec with every field of its theme explained, and a program.

    The experiment gets the next free number. Edit the spec, then `labreport validate ID` and
    `labreport build ID`.
    """
    from labreport.project import find_project
    from labreport.scaffold import new_experiment

    project = find_project()
    for path in new_experiment(project, exp_id, theme or "classic", title):
        click.echo(_shown(path))


@cli.command()
@click.argument("experiments", nargs=-1, metavar="[ID...]", shell_complete=_complete_ids)
@_templates_option("Also check this template folder, as `build --templates` would use it.")
@_spec_json_option
@_student_options
def validate(
    experiments: tuple[str, ...],
    templates_dir: Path | None,
    as_json: bool,
    student_id: str | None,
    student_name: str | None,
    student_section: str | None,
) -> None:
    """Check specs, code paths, prose, formulas, checks and templates without running anything.

    Reports every problem on its own line (file, field, what to fix) and exits as a build
    that hit them would: 2 if a spec cannot be read or names an unknown theme, else 1 if
    anything else is wrong. With no ID, checks every experiment of the project. A student
    seed with no student ID (see --student-id) is a problem too: a build would stop at it.
    With --json, every experiment and its problems as JSON on stdout instead, same exit status.
    """
    from labreport.errors import ValidationFailed
    from labreport.ids import discover, resolve_ids
    from labreport.themes import ThemeSearchPath
    from labreport.validate import validate_experiment, validate_templates

    project = _student_project(student_id, student_name, student_section, seeds_needed=False)
    ids = (
        resolve_ids(project.experiments_dir, list(experiments))
        if experiments
        else discover(project.experiments_dir)
    )
    search_path = ThemeSearchPath.for_project(project, templates_dir)
    problems = validate_templates(search_path, project.root)
    found = [(exp_id, validate_experiment(project, exp_id, search_path)) for exp_id in ids]
    general = list(problems)
    for _, own in found:
        problems += own
    errors = [problem for problem in problems if problem.exit_code]
    code = max((problem.exit_code for problem in errors), default=EXIT_OK)  # as a build ends
    if as_json:
        from labreport.specreport import problem_entries, validated

        entries = tuple(validated(exp_id, own) for exp_id, own in found)
        _echo_spec_report("validate", code, entries, problem_entries(general))
    else:
        for problem in problems:
            kind = "Error" if problem.exit_code else "Warning"
            click.echo(f"{kind}: {terminal_line(str(problem))}", err=True)
    if errors:
        raise ValidationFailed(f"{len(errors)} problem(s) in {len(ids)} experiment(s)", code)
    click.echo(  # with --json, stdout is the JSON's alone
        f"{len(ids)} experiment(s) and {len(search_path.folders)} template folder(s): ok",
        err=as_json,
    )


@cli.command()
def schema() -> None:
    """Print the JSON Schema of experiment.yaml, for editors to complete and check specs.

    Save it (labreport schema > experiment.schema.json) and point your editor's YAML support at
    it; see the README.
    """
    import json

    from labreport.spec import Experiment

    document = Experiment.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "labreport experiment.yaml"
    click.echo(json.dumps(document, indent=2, sort_keys=True))


@cli.command()
@click.argument("experiments", nargs=-1, metavar="[ID...]", shell_complete=_complete_ids)
@click.option(
    "--host", default="127.0.0.1", show_default=True, metavar="HOST",
    help="Address to listen on; 0.0.0.0 for JupyterHub, WSL, Docker or Codespaces (anyone "
    "who can reach it can read the records and start builds: serve warns).",
)  # fmt: skip
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
    help="Port to listen on (0: any free port).",
)  # fmt: skip
@click.option(
    "--open", "open_browser", is_flag=True,
    help="Open the index in the browser ($BROWSER if set) once the server listens.",
)  # fmt: skip
@_templates_option("Folder searched for templates before the project's and the built-ins.")
@_student_options
def serve(
    experiments: tuple[str, ...],
    host: str,
    port: int,
    open_browser: bool,
    templates_dir: Path | None,
    student_id: str | None,
    student_name: str | None,
    student_section: str | None,
) -> None:
    """Preview records in the browser, rebuilt and reloaded on every change.

    Builds the experiments (all, or each ID given) to HTML, serves them on 127.0.0.1 (or
    --host), and watches the specs, programs, templates and labreport.toml: a change rebuilds
    what it affects (a prose or template edit runs no program) and the open page reloads
    itself. A build error is shown on the page; fix the file and the page comes back. Ctrl-C
    stops.

    Changes are noticed through file-system notifications (watchfiles); set LABREPORT_WATCH=poll
    where they do not arrive (network or some container mounts) to poll instead. -v says which.
    """
    from labreport.serve import PreviewServer, listening_notes
    from labreport.spec import resolve_ids
    from labreport.watch import watch_mode

    watch_mode()  # a wrong LABREPORT_WATCH is said before anything listens
    project = _student_project(student_id, student_name, student_section)
    ids = resolve_ids(project.experiments_dir, list(experiments)) if experiments else None
    templates = templates_dir.resolve() if templates_dir else None
    server = PreviewServer(project, ids, templates, port, host)
    click.echo(f"Serving {server.url} (Ctrl-C to stop)")
    sys.stdout.flush()
    for note in listening_notes(server):
        click.echo(note, err=True)
    server.serve_forever(open_browser=open_browser)


@cli.command()
def doctor() -> None:
    """Check that this machine has what a build needs, and say how to fix what is missing.

    Reports Python, WeasyPrint and whether Pango loads, the fonts the themes use, the course's
    stack (torch, numpy, matplotlib: needed only by programs that import them), whether
    programs can be confined here (Landlock, user namespaces), and the project's cache. Exit
    status 0 when everything a build needs is there, 1 otherwise.
    """
    from labreport.doctor import examine
    from labreport.errors import EXIT_FAILED

    findings = examine()
    width = max(len(finding.name) for finding in findings)
    for finding in findings:
        mark = "ok" if finding.ok else ("MISSING" if finding.needed else "note")
        line = f"{mark:<7}  {finding.name:<{width}}  {finding.detail}"
        if finding.fix and not finding.ok:
            line += f"  (fix: {finding.fix})"
        click.echo(terminal_line(line))
    if any(finding.needed and not finding.ok for finding in findings):
        click.echo(
            "Error: this machine lacks something a build needs (see MISSING above)", err=True
        )
        raise click.exceptions.Exit(EXIT_FAILED)


@cli.group(name="cache")
def cache_group() -> None:
    """The run cache and formula drawings in .labreport/: what they hold, and cleaning up.

    Each program's run is stored under a hash of its inputs, so the cache only grows; `prune`
    removes what no current spec uses, `clear` removes everything (the next build runs every
    program again). Nothing outside the project's .labreport/ is ever touched.
    """


@cache_group.command(name="info")
def cache_info() -> None:
    """Show the stored runs (count, size, oldest and newest use) per experiment."""
    from labreport.housekeeping import human_size, summarise
    from labreport.project import find_project

    project = find_project()
    summary = summarise(project)
    click.echo(
        f"{_shown(project.work_dir / 'cache')}: {len(summary.entries)} run(s), "
        f"{human_size(summary.size)}"
        + (
            f"; used from {_when(summary.entries[0].used)} to {_when(summary.entries[-1].used)}"
            if summary.entries else ""
        )
    )  # fmt: skip
    for exp_id, runs in summary.per_experiment.items():
        size = human_size(sum(entry.size for entry in runs))
        last = _when(runs[-1].used)
        click.echo(terminal_line(f"  {exp_id:<16} {len(runs):>4} run(s)  {size:>10}  last {last}"))
    click.echo(f"formula drawings: {summary.formulas}, {human_size(summary.formula_bytes)}")


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))


@cache_group.command(name="prune")
@click.option(
    "--older-than", "older_than", type=click.FloatRange(min=0), default=None, metavar="DAYS",
    help="Instead: remove the runs no build has used for DAYS days, whatever the specs.",
)  # fmt: skip
def cache_prune(older_than: float | None) -> None:
    """Remove the runs no current spec uses, and formula drawings no spec contains.

    A run is kept when a build of the project's experiments as they are now would read it
    (edited programs, args or seeds leave the old runs behind); `labreport verify`'s runs with
    other seeds are not kept. A formula filled in from recorded values is drawn again by the
    next build.
    """
    from labreport.housekeeping import human_size, prune
    from labreport.project import find_project

    pruned = prune(find_project(), older_than)
    click.echo(
        f"removed {pruned.runs} run(s) ({human_size(pruned.run_bytes)}) and "
        f"{pruned.formulas} formula drawing(s) ({human_size(pruned.formula_bytes)})"
    )


@cache_group.command(name="clear")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def cache_clear(yes: bool) -> None:
    """Remove every stored run, formula drawing and up-to-date stamp of the project.

    The next build runs every program again. Asks first unless --yes; without a terminal to
    ask on, --yes is required.
    """
    from labreport.housekeeping import CLEARED, clear, human_size
    from labreport.project import find_project

    project = find_project()
    where = ", ".join(_shown(project.work_dir / name) + "/" for name in CLEARED)
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("cache clear asks for confirmation: add --yes to run it unasked")
        click.confirm(f"Remove {where}?", abort=True, err=True)
    click.echo(f"removed {human_size(clear(project))} from {where}")


def main() -> None:
    """Entry point: user errors become one line and an exit code; ``--debug`` shows tracebacks."""
    try:
        # Not standalone, so that errors are shown here, once, as one line. Then click returns
        # the code of an ``Exit`` (a failed build's) instead of exiting with it: exit with it.
        code = cli.main(standalone_mode=False)
    except LabreportError as exc:
        if _state["debug"]:
            traceback.print_exc()
        _show_error(exc)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - a bug in labreport: say so without a wall of text
        if _state["debug"]:
            raise
        click.echo(
            f"Error: internal error in labreport: {type(exc).__name__}: {terminal_line(str(exc))} "
            "(run again with --debug for the traceback, and please report it)",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
