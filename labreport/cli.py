"""The ``labreport`` command: a thin click group; every heavy import happens inside a command."""

from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

import click

from labreport import __version__
from labreport.errors import LabreportError

if TYPE_CHECKING:
    from labreport.build import ExperimentOutcome
    from labreport.progress import LineProgress

_state = {"debug": False}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="labreport")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
def cli(debug: bool) -> None:
    """Turn experiment specs into lab records generated from real runs.

    Each experiment lives in experiments/<id>/experiment.yaml. `labreport build exp5` runs its
    programs, captures what they print and plot, and writes build/exp5.html and build/exp5.pdf.
    """
    _state["debug"] = debug


@cli.command()
@click.argument("experiments", nargs=-1, metavar="EXP...")
@click.option("--all", "build_all", is_flag=True, help="Build every experiment of the project.")
@click.option(
    "--format", "fmt", type=click.Choice(["html", "pdf", "all"]), default="all", show_default=True,
    help="Which outputs to write.",
)  # fmt: skip
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Output folder (default: build/ under the project root).",
)  # fmt: skip
@click.option("--template", "theme", default=None, help="Theme to use instead of the spec's.")
@click.option(
    "--templates", "templates_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None, help="Folder searched for templates before the project's and the built-ins.",
)  # fmt: skip
@click.option("--force", is_flag=True, help="Re-run every program and re-render, ignoring caches.")
@click.option(
    "-j", "--jobs", type=click.IntRange(min=1), default=None,
    help="Experiments built at once (default: the number of CPU cores).",
)  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="Print only errors (and the files written).")
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
) -> None:
    """Run the experiments' programs and write their records.

    EXP is an experiment id, the name of its folder under experiments/ (see `labreport list`).
    Programs whose code and data did not change are not run again: their results come from the
    run cache in .labreport/, so editing prose or templates only re-renders. An experiment whose
    inputs did not change at all is left alone ("up to date"). Each file written is printed on
    its own line; progress and the summary go to stderr. Exit status 1 if any experiment failed.
    """
    import os

    from labreport.build import Builder, BuildOptions
    from labreport.project import find_project
    from labreport.spec import discover, resolve_ids

    project = find_project()
    if build_all:
        ids = discover(project.experiments_dir)
    elif experiments:
        ids = resolve_ids(project.experiments_dir, list(experiments))
    else:
        raise click.UsageError("name at least one experiment (see `labreport list`) or use --all")
    formats = ("html", "pdf") if fmt == "all" else (fmt,)
    options = BuildOptions(
        formats=formats,  # type: ignore[arg-type]
        out_dir=out_dir.resolve() if out_dir else None,
        theme=theme,
        templates_dir=templates_dir.resolve() if templates_dir else None,
        force=force,
    )
    progress = _progress_display(quiet)
    start = time.perf_counter()
    try:
        outcomes = Builder(project, options, progress).build_many(ids, jobs or os.cpu_count() or 1)
    finally:
        progress.close()
    for outcome in outcomes:
        for path in outcome.written:
            click.echo(_shown(path))
    _summarise(outcomes, time.perf_counter() - start, quiet)


def _progress_display(quiet: bool) -> LineProgress:
    from labreport.progress import LineProgress, LiveProgress

    stream = sys.stderr
    if stream.isatty() and not quiet:
        return LiveProgress(stream)
    return LineProgress(stream, quiet=quiet)


def _summarise(outcomes: list[ExperimentOutcome], elapsed: float, quiet: bool) -> None:
    """One summary line, then each failure as an error line; exit 1 (2 for spec errors) if any."""
    built = [o for o in outcomes if o.status == "built"]
    failed = [o for o in outcomes if o.status == "failed"]
    current = len(outcomes) - len(built) - len(failed)
    ran, cached = sum(o.ran for o in built), sum(o.cached for o in built)
    if len(outcomes) > 1 and not quiet:
        click.echo(
            f"Summary: {len(built)} built ({ran} program(s) run, {cached} from cache), "
            f"{current} up to date, {len(failed)} failed, in {elapsed:.1f} s",
            err=True,
        )
    for outcome in failed:
        click.echo(f"Error: {outcome.error}", err=True)
    if failed:
        raise click.exceptions.Exit(max(o.exit_code for o in failed))


@cli.command()
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Output folder (default: build/ under the project root).",
)  # fmt: skip
@click.option("--force", is_flag=True, help="Re-run every program and re-render, ignoring caches.")
@click.option(
    "-j", "--jobs", type=click.IntRange(min=1), default=None,
    help="Experiments built at once (default: the number of CPU cores).",
)  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="Print only errors (and the files written).")
def book(out_dir: Path | None, force: bool, jobs: int | None, quiet: bool) -> None:
    """Bind every experiment into one lab record: build/lab-record.pdf and build/index.html.

    The PDF has a cover (course, student), an index page (S.No, Date, Name of the Experiment,
    Page No., Marks, Signature) whose page numbers are where each experiment really starts, then
    every experiment in its own format, with page numbers running on through the whole book.
    Experiments are built first as by `labreport build --all` (cached runs are reused).
    """
    import os

    from labreport.book import collect_entries, render_book, write_index_html
    from labreport.build import Builder, BuildOptions
    from labreport.output import write_atomic
    from labreport.project import find_project
    from labreport.spec import discover

    project = find_project()
    ids = discover(project.experiments_dir)
    if not ids:
        raise click.UsageError(f"no experiments in {project.experiments_dir}")
    options = BuildOptions(out_dir=out_dir.resolve() if out_dir else None, force=force)
    progress = _progress_display(quiet)
    start = time.perf_counter()
    try:
        builder = Builder(project, options, progress)
        outcomes = builder.build_many(ids, jobs or os.cpu_count() or 1)
    finally:
        progress.close()
    for outcome in outcomes:
        for path in outcome.written:
            click.echo(_shown(path))
    _summarise(outcomes, time.perf_counter() - start, quiet)
    if not quiet:
        click.echo("binding the lab record ...", err=True)
    entries = collect_entries(project, ids, builder.out_dir)
    index = builder.out_dir / "index.html"
    write_atomic(index, write_index_html(project, entries, builder.search_path).encode())
    target = builder.out_dir / "lab-record.pdf"
    write_atomic(target, render_book(project, entries, builder.out_dir, builder.search_path))
    click.echo(_shown(index))
    click.echo(_shown(target))


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@cli.command(name="list")
def list_experiments() -> None:
    """Show each experiment: id, number, title and format."""
    from labreport.project import find_project
    from labreport.spec import discover, load_experiment

    project = find_project()
    rows = []
    for exp_id in discover(project.experiments_dir):
        source = load_experiment(project.experiments_dir / exp_id, display_root=project.root)
        spec = source.spec
        rows.append((exp_id, str(spec.number), spec.title, spec.template))
    if not rows:
        click.echo(f"no experiments in {project.experiments_dir}", err=True)
        return
    header = ("ID", "NO.", "TITLE", "FORMAT")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[3])


def main() -> None:
    """Entry point: user errors become one line and an exit code; ``--debug`` shows tracebacks."""
    try:
        cli.main(standalone_mode=False)
    except LabreportError as exc:
        if _state["debug"]:
            traceback.print_exc()
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - a bug in labreport: say so without a wall of text
        if _state["debug"]:
            raise
        click.echo(
            f"Error: internal error in labreport: {type(exc).__name__}: {exc} "
            "(run again with --debug for the traceback, and please report it)",
            err=True,
        )
        sys.exit(70)
