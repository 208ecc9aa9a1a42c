"""The pipeline for one experiment, its steps in order: load → run → render → write.

A failing program is a result, not a crash: it is rendered (with ``allow_errors``) or turns into
a :class:`RunError` naming the experiment, the program and the error. Outputs are replaced
atomically, so a failed rebuild leaves the last good HTML and PDF in place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from labreport.errors import RunError
from labreport.output import write_atomic
from labreport.project import Project
from labreport.runner import RunLimits, RunResult, run_program
from labreport.spec import ExperimentSource, load_experiment

log = logging.getLogger(__name__)

Format = Literal["html", "pdf"]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class BuildOptions:
    formats: tuple[Format, ...] = ("html", "pdf")
    out_dir: Path | None = None
    theme: str | None = None
    templates_dir: Path | None = None


@dataclass(frozen=True)
class BuildOutcome:
    """What building one experiment produced."""

    id: str
    written: tuple[Path, ...]
    runs: tuple[RunResult, ...]


def _silent(message: str) -> None:
    del message


def run_experiment(source: ExperimentSource, progress: Progress = _silent) -> list[RunResult]:
    """Run every program of the experiment, in spec order; failures are results."""
    runs = []
    for program in source.spec.programs:
        progress(f"{source.id}: running {program.code} ...")
        result = run_program(
            source.folder,
            program.code,
            args=program.args,
            seed=program.seed,
            limits=RunLimits(timeout=program.timeout),
        )
        figures = f", {len(result.figures)} figure(s)" if result.figures else ""
        progress(
            f"{source.id}: {program.code}: {result.status} in {result.duration:.1f} s{figures}"
        )
        if not result.ok and not program.allow_errors:
            raise RunError(
                f"{source.id}: {program.code} failed: {result.error} "
                "(fix the program, or set allow_errors: true to render the failure)"
            )
        runs.append(result)
    return runs


def render_experiment(
    project: Project, source: ExperimentSource, runs: Sequence[RunResult], options: BuildOptions
) -> dict[Format, bytes]:
    """Render the record in every requested format."""
    from labreport.render import build_context, render_html
    from labreport.themes import ThemeSearchPath

    display = str(source.spec_path.relative_to(project.root))
    context = build_context(project, source, list(runs), display)
    search_path = ThemeSearchPath.for_project(project, options.templates_dir)
    html = render_html(context, options.theme or source.spec.template, search_path)
    rendered: dict[Format, bytes] = {}
    if "html" in options.formats:
        rendered["html"] = html.encode("utf-8")
    if "pdf" in options.formats:
        from labreport.pdf import render_pdf

        rendered["pdf"] = render_pdf(html, root=project.root)
    return rendered


def build_experiment(
    project: Project, exp_id: str, options: BuildOptions, progress: Progress = _silent
) -> BuildOutcome:
    """Build one experiment's record into ``options.out_dir`` (default ``build/``)."""
    source = load_experiment(project.experiments_dir / exp_id, display_root=project.root)
    runs = run_experiment(source, progress)
    rendered = render_experiment(project, source, runs, options)
    out_dir = options.out_dir or project.default_out_dir
    written = []
    for fmt, data in rendered.items():
        target = out_dir / f"{exp_id}.{fmt}"
        write_atomic(target, data)
        written.append(target)
    return BuildOutcome(exp_id, tuple(written), tuple(runs))
