"""The ``labreport`` command: a thin click group; every heavy import happens inside a command."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import click

from labreport import __version__
from labreport.errors import LabreportError

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


def _progress(message: str) -> None:
    click.echo(message, err=True)


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
def build(
    experiments: tuple[str, ...],
    build_all: bool,
    fmt: str,
    out_dir: Path | None,
    theme: str | None,
    templates_dir: Path | None,
) -> None:
    """Run the experiments' programs and write their records.

    EXP is an experiment id, the name of its folder under experiments/ (see `labreport list`).
    Each file written is printed on its own line.
    """
    from labreport.build import BuildOptions, build_experiment
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
    )
    for exp_id in ids:
        outcome = build_experiment(project, exp_id, options, _progress)
        for path in outcome.written:
            click.echo(_shown(path))


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
