"""The build pipeline, its steps in order: up to date? → load → run (or cache) → render → write.

One :class:`Builder` builds any number of experiments, in parallel threads when asked (the work
happens in child processes; rendering is serialised). A failing experiment is an outcome, not a
crash: the others go on and the summary lists it. Outputs are replaced atomically, so a failed
rebuild leaves the last good HTML and PDF in place.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from labreport.cache import RunCache, folder_digest, run_key
from labreport.errors import LabreportError, RunError
from labreport.output import write_atomic
from labreport.project import Project
from labreport.runner import RunLimits, RunResult, run_program
from labreport.spec import ExperimentSource, load_experiment
from labreport.state import BuildState, inputs_digest
from labreport.themes import ThemeSearchPath

log = logging.getLogger(__name__)

Format = Literal["html", "pdf"]
Status = Literal["built", "up-to-date", "failed"]
# Threads per program for torch and BLAS. Fixed, so that a result never depends on --jobs (torch's
# numbers change with the thread count) and jobs x threads never exceeds the cores. Measured on
# the course's small models: one thread is as fast as two, and far steadier on a busy machine.
PROGRAM_THREADS = 1


@dataclass(frozen=True)
class BuildOptions:
    formats: tuple[Format, ...] = ("html", "pdf")
    out_dir: Path | None = None
    theme: str | None = None
    templates_dir: Path | None = None
    force: bool = False


@dataclass(frozen=True)
class ExperimentOutcome:
    """What building one experiment came to."""

    id: str
    status: Status
    written: tuple[Path, ...] = ()
    ran: int = 0
    cached: int = 0
    duration: float = 0.0
    error: str | None = None
    exit_code: int = 0


class BuildEvents(Protocol):
    """What a progress display hears about; every method may be called from worker threads."""

    def program_started(self, exp_id: str, code: str) -> None: ...

    def program_finished(self, exp_id: str, code: str, result: RunResult, cached: bool) -> None: ...

    def experiment_finished(self, outcome: ExperimentOutcome) -> None: ...


class Builder:
    """Builds experiments of one project with one set of options."""

    def __init__(self, project: Project, options: BuildOptions, events: BuildEvents) -> None:
        self.project = project
        self.options = options
        self.events = events
        self.out_dir = options.out_dir or project.default_out_dir
        self.search_path = ThemeSearchPath.for_project(project, options.templates_dir)
        work = project.root / ".labreport"
        self.cache = RunCache(work / "cache")
        self.state = BuildState(work / "state")
        self._render_lock = threading.Lock()

    # ------------------------------------------------------------------ many experiments
    def build_many(self, ids: Sequence[str], jobs: int = 1) -> list[ExperimentOutcome]:
        """Build ``ids`` with up to ``jobs`` at once; outcomes come back in the order of ``ids``."""
        if jobs <= 1 or len(ids) <= 1:
            return [self.build(exp_id) for exp_id in ids]
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="labreport") as pool:
            return list(pool.map(self.build, ids))

    def build(self, exp_id: str) -> ExperimentOutcome:
        """Build one experiment; a user-facing error becomes a failed outcome."""
        start = time.perf_counter()
        try:
            outcome = self._build(exp_id, start)
        except LabreportError as exc:
            outcome = ExperimentOutcome(
                exp_id, "failed", duration=time.perf_counter() - start,
                error=exc.format_message(), exit_code=exc.exit_code,
            )  # fmt: skip
        self.events.experiment_finished(outcome)
        return outcome

    # ------------------------------------------------------------------ one experiment
    def _build(self, exp_id: str, start: float) -> ExperimentOutcome:
        folder = self.project.experiments_dir / exp_id
        digest = inputs_digest(
            folder, self.project.config_path, self.search_path.folders,
            (self.options.formats, str(self.out_dir), self.options.theme, PROGRAM_THREADS),
        )  # fmt: skip
        if not self.options.force and self.state.is_current(exp_id, digest):
            return ExperimentOutcome(exp_id, "up-to-date", duration=time.perf_counter() - start)
        source = load_experiment(folder, display_root=self.project.root)
        runs, ran, cached = self._run(source)
        rendered = self._render(source, runs)
        written = []
        for fmt, data in rendered.items():
            target = self.out_dir / f"{exp_id}.{fmt}"
            write_atomic(target, data)
            written.append(target)
        self.state.save(exp_id, digest, written)
        return ExperimentOutcome(
            exp_id, "built", tuple(written), ran, cached, time.perf_counter() - start
        )

    def _run(self, source: ExperimentSource) -> tuple[list[RunResult], int, int]:
        """Every program's result, from the cache when its inputs are unchanged."""
        files = folder_digest(source.folder)
        runs: list[RunResult] = []
        ran = cached = 0
        for program in source.spec.programs:
            key = run_key(files, program, {"threads": PROGRAM_THREADS})
            result = None if self.options.force else self.cache.get(key)
            if result is not None:
                cached += 1
                self.events.program_finished(source.id, program.code, result, True)
            else:
                self.events.program_started(source.id, program.code)
                result = run_program(
                    source.folder, program.code, args=program.args, seed=program.seed,
                    limits=RunLimits(timeout=program.timeout, threads=PROGRAM_THREADS),
                )  # fmt: skip
                ran += 1
                self.events.program_finished(source.id, program.code, result, False)
                # Failures that depend on the machine (timeouts, kills) are never cached.
                if result.ok or (result.status == "error" and program.allow_errors):
                    self.cache.put(key, result)
            if not result.ok and not program.allow_errors:
                raise RunError(
                    f"{source.id}: {program.code} failed: {result.error} "
                    "(fix the program, or set allow_errors: true to render the failure)"
                )
            runs.append(result)
        return runs, ran, cached

    def _render(self, source: ExperimentSource, runs: list[RunResult]) -> dict[Format, bytes]:
        from labreport.render import build_context, render_html

        display = str(source.spec_path.relative_to(self.project.root))
        with self._render_lock:
            context = build_context(self.project, source, runs, display)
            html = render_html(
                context, self.options.theme or source.spec.template, self.search_path
            )
            rendered: dict[Format, bytes] = {}
            if "html" in self.options.formats:
                rendered["html"] = html.encode("utf-8")
            if "pdf" in self.options.formats:
                from labreport.pdf import render_pdf

                rendered["pdf"] = render_pdf(html, root=self.project.root)
        return rendered
