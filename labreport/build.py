"""Building one experiment, its steps in order: up to date? → load → run (or cache) → render →
PDF → write. (Building many at once is :mod:`labreport.batch`.)

A failing experiment is an outcome, not a crash: a batch goes on and the summary lists it.
Outputs are replaced atomically, so a failed rebuild leaves the last good HTML and PDF in place.
An interruption (the builder's ``cancel`` flag) kills the running program within a fraction of a
second and writes nothing partial. Two labreport processes building the same experiment take
turns on a lock under ``.labreport/locks/``, so the second finds the first's result up to date
instead of redoing it beside it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from labreport import formulas, sandbox
from labreport.cache import (
    EntryMeta,
    RunCache,
    experiment_files,
    key_parts,
    program_inputs,
    run_key,
)
from labreport.embed import MAX_EMBED_BYTES
from labreport.errors import (
    CheckFailed,
    LabreportError,
    OutputError,
    RenderError,
    RunError,
    SpecError,
    UsageError,
)
from labreport.executor import Executor, RunJob, SharedWorkdir, open_executor
from labreport.output import write_atomic
from labreport.project import Project
from labreport.report import (
    CheckEntry,
    ProgramEntry,
    account_from_json,
    account_to_json,
    output_digest,
    ran_seed,
)
from labreport.results import (
    DEFAULT_FIGURE_LIMIT,
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_OUTPUT_LIMIT,
    ExperimentOutcome,
    RunCancelled,
    RunLimits,
    RunResult,
)
from labreport.scratch import reap_once
from labreport.seeds import resolve_seeds
from labreport.state import BuildState, inputs_digest
from labreport.themes import ENTRY, HANDOUT_ENTRY, ThemeSearchPath
from labreport.warm import WarmPool

if TYPE_CHECKING:
    from labreport.render import RecordContext
    from labreport.spec import ExperimentSource, Program

log = logging.getLogger(__name__)

Format = Literal["html", "pdf", "docx"]
# A handout's files and state are the record's name with this before the suffix:
# build/exp5.handout.html. An id has no dot, so no experiment's record can take that name.
HANDOUT_SUFFIX = ".handout"
# Threads per program for torch and BLAS. Fixed, so that a result never depends on --jobs (torch's
# numbers change with the thread count) and jobs x threads never exceeds the cores. Measured on
# the course's small models: one thread is as fast as two, and far steadier on a busy machine.
PROGRAM_THREADS = 1
# No program may hold more than this share of the machine's memory, whatever its limit says.
MEMORY_CEILING = 0.75
_LOCK_POLL = 0.1  # seconds between tries of another process's experiment lock
_FIXES = {
    "timeout": "make it finish sooner, or raise its timeout: in the spec",
    "memory": "make it use less memory, or raise memory_limit: in the spec or [limits] memory in "
    "labreport.toml",
}
_DEFAULT_FIX = "fix the program, or set allow_errors: true to render the failure"


@cache
def _preload_renderer() -> None:
    """Import the renderer and load Pygments' lexer (~0.3 s) in a thread while the programs
    run, instead of after them (WeasyPrint is the PDF workers' business). Once per process; a
    failed import is left for the render itself to report."""

    def load() -> None:
        with contextlib.suppress(Exception):
            from labreport.render import highlight_python

            highlight_python("")  # loads Pygments' lexer and style

    # A daemon: a build that fails early (a broken spec) must not wait for imports it never uses.
    threading.Thread(target=load, name="labreport-preload", daemon=True).start()


@dataclass(frozen=True)
class BuildOptions:
    formats: tuple[Format, ...] = ("html", "pdf")
    out_dir: Path | None = None
    theme: str | None = None
    templates_dir: Path | None = None
    force: bool = False
    strict: bool = False  # a failed check fails the experiment
    warm: bool = True  # fork programs from a warm interpreter (see labreport.warm)
    handout: bool = False  # the handout a student gets before the lab; runs nothing
    # Where programs run and records are laid out: None here, else a Dask scheduler's address
    # (labreport.executor.parse_executor). Not an input of the outputs: they are the same bytes.
    executor: str | None = None
    # The archival PDF asked for (labreport.pdfvariant), None for a plain PDF. An input of the
    # outputs: switching it rebuilds.
    pdf_variant: str | None = None


class BuildEvents(Protocol):
    """What a progress display hears about; every method may be called from worker threads."""

    def program_started(self, exp_id: str, code: str) -> None: ...

    def program_finished(self, exp_id: str, code: str, result: RunResult, cached: bool) -> None: ...

    def experiment_finished(self, outcome: ExperimentOutcome) -> None: ...


@cache
def _memory_ceiling() -> int | None:
    """Bytes no program may exceed on this machine, or None where the RAM size is unknown."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") * MEMORY_CEILING)
    except (AttributeError, ValueError, OSError):
        return None


class Builder:
    """Builds experiments of one project with one set of options, one at a time per call
    (:func:`labreport.batch.build_many` calls it from several threads).

    A context manager: it owns its :class:`~labreport.executor.Executor` (the PDF workers
    and, unless a shared pool is given, the warm interpreters its builds start; or a Dask
    client) and closes it when the ``with`` block ends, so nothing outlives it whatever
    happened inside.
    """

    def __init__(
        self,
        project: Project,
        options: BuildOptions,
        events: BuildEvents,
        warm: WarmPool | None = None,
    ) -> None:
        """``warm``: a pool to share across builders (``labreport serve``), which its owner
        closes; by default each builder starts its own."""
        self.project = project
        self.options = options
        self.events = events
        self.out_dir = options.out_dir or project.default_out_dir
        self.search_path = ThemeSearchPath.for_project(project, options.templates_dir)
        self.work = project.work_dir
        self.cache = RunCache(self.work / "cache")
        self.state = BuildState(self.work / "state")
        self._render_lock = threading.Lock()
        # Set on an interruption: running programs are killed within a tick, nothing new starts.
        self.cancel = threading.Event()
        self._shared_warm = warm
        self._executor: Executor | None = None  # while entered
        # Said once per build, with the first experiment whose programs run.
        self._unconfined: str | None = sandbox.confinement_warning()

    def __enter__(self) -> Builder:
        if self._executor is not None:
            raise RuntimeError("a Builder is entered once")
        reap_once()  # scratch folders of labreport runs killed before (kill -9): once a process
        self._executor = open_executor(
            self.options.executor, self._shared_warm, use_warm=self.options.warm
        )
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the executor: the PDF workers and warm interpreters this builder started."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.close()

    @property
    def executor(self) -> Executor:
        """Where this builder's programs run and records are laid out (while entered)."""
        self._require_entered()
        assert self._executor is not None
        return self._executor

    def _require_entered(self) -> None:
        if self._executor is None:
            raise RuntimeError("build inside `with Builder(...) as builder:`; it owns processes")

    def build(self, exp_id: str) -> ExperimentOutcome:
        """Build one experiment; a user-facing error becomes a failed outcome."""
        self._require_entered()
        start = time.perf_counter()
        account: list[ProgramEntry] = []  # the programs that ended, for the build report
        try:
            with self._experiment_lock(exp_id):
                outcome = self._build(exp_id, start, account)
        except LabreportError as exc:
            if isinstance(exc, OutputError):  # its message names the file, not the experiment
                exc = exc.for_experiment(exp_id)
            message = exc.format_message()
            outcome = ExperimentOutcome(
                exp_id, "failed", duration=time.perf_counter() - start,
                error=message, exit_code=exc.exit_code, detail=exc.detail,
                programs=tuple(account),
            )  # fmt: skip
        self.events.experiment_finished(outcome)
        return outcome

    @contextlib.contextmanager
    def _experiment_lock(self, exp_id: str) -> Iterator[None]:
        """Hold ``.labreport/locks/<id>.lock`` while building ``exp_id`` (where flock exists)."""
        try:
            import fcntl
        except ImportError:  # Windows: atomic writes alone keep concurrent builds correct
            yield
            return
        path = self.work / "locks" / f"{exp_id}.lock"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "ab")  # noqa: SIM115 - held across the yield
        except OSError as exc:
            log.warning("%s: building without a lock (%s)", exp_id, exc.strerror or exc)
            yield
            return
        with handle:
            waiting = False
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if not waiting:
                        log.info("%s: waiting for another labreport building it", exp_id)
                        waiting = True
                    if self.cancel.wait(_LOCK_POLL):
                        raise RunCancelled("the build was interrupted") from None
            yield  # closing the file releases the lock

    def _check_cancelled(self) -> None:
        if self.cancel.is_set():
            raise RunCancelled("the build was interrupted")

    # ------------------------------------------------------------------ one experiment
    def output_stem(self, exp_id: str) -> str:
        """The name of the experiment's outputs and build state, without a suffix: ``exp5``,
        or ``exp5.handout`` for its handout (the two stay up to date independently)."""
        return exp_id + HANDOUT_SUFFIX if self.options.handout else exp_id

    def _build(self, exp_id: str, start: float, account: list[ProgramEntry]) -> ExperimentOutcome:
        if self.options.handout:
            return self._build_handout(exp_id, start)
        folder = self.project.experiments_dir / exp_id
        made_from = self._inputs_digest(folder)  # before the spec is read: an edit during
        kept = self._state_id(exp_id)
        digest = self._with_env(made_from, self.state.passed_env(kept))  # the build rebuilds
        owed = None if self.options.force else self.state.current(kept, digest)
        if owed is not None:
            self._check_strict(exp_id, owed)  # up to date, but still owing what --strict wants
            programs, checks = account_from_json(self.state.account(kept), "up-to-date")
            return ExperimentOutcome(
                exp_id, "up-to-date", duration=time.perf_counter() - start, failed_checks=owed,
                programs=programs, checks=checks,
            )  # fmt: skip
        # Every program will run with --force, and WeasyPrint will be needed for a PDF: start
        # the interpreters that import them while the spec loads and the programs run.
        self.executor.prestart(
            folder if self.options.force else None, "pdf" in self.options.formats
        )
        from labreport.spec import load_experiment  # pydantic: only when there is work to do

        source = self.seeded(load_experiment(folder, display_root=self.project.root))
        self._check_theme(source)
        warnings = list(source.notices) + self._unshown(source)
        runs, ran, cached = self.run_programs(source, warnings, account=account)
        self._check_cancelled()
        failed_checks: list[str] = []
        context = self.context(source, runs)
        verdicts: list[CheckEntry] = []
        rendered = self._render(source, context, warnings, failed_checks, verdicts)
        self._check_cancelled()
        self._check_strict(exp_id, failed_checks)
        written = self._write(exp_id, rendered)
        # One clock reading: the summary and the next batch's ordering see the same duration.
        elapsed = time.perf_counter() - start
        passed = self._passed_env(source)
        digest = self._with_env(made_from, passed)  # with the names this spec passes
        try:
            self.state.save(
                kept, digest, written, elapsed, failed_checks, passed,
                account_to_json(account, verdicts),
            )  # fmt: skip
        except OutputError as exc:  # the outputs are good; only "up to date" is lost
            warnings.append(f"not remembered as up to date: {exc.format_message()}")
        return ExperimentOutcome(
            exp_id, "built", tuple(written), ran, cached, elapsed,
            warnings=tuple(warnings), failed_checks=tuple(failed_checks),
            programs=tuple(account), checks=tuple(verdicts),
        )  # fmt: skip

    def _build_handout(self, exp_id: str, start: float) -> ExperimentOutcome:
        """The handout: the record's steps without running anything (no program, no run
        cache), rendered with the theme's ``handout.html`` and remembered apart from it."""
        folder = self.project.experiments_dir / exp_id
        stem = self.output_stem(exp_id)
        digest = self._inputs_digest(folder)  # read before the spec: an edit during it rebuilds
        if not self.options.force and self.state.current(stem, digest) is not None:
            return ExperimentOutcome(exp_id, "up-to-date", duration=time.perf_counter() - start)
        self.executor.prestart(None, "pdf" in self.options.formats)  # no program: no interpreter
        from labreport.handout import handout_context
        from labreport.spec import load_experiment

        source = load_experiment(folder, display_root=self.project.root)
        self._check_theme(source)
        warnings = list(source.notices) + self._unshown(source)
        display = str(source.spec_path.relative_to(self.project.root))
        with self._render_lock, formulas.cached_in(self.work / "formulas"):
            context = handout_context(self.project, source, display)
        rendered = self._render(source, context, warnings, [], [], HANDOUT_ENTRY)
        self._check_cancelled()
        written = self._write(stem, rendered)
        elapsed = time.perf_counter() - start
        try:
            self.state.save(stem, digest, written, elapsed)
        except OutputError as exc:
            warnings.append(f"not remembered as up to date: {exc.format_message()}")
        return ExperimentOutcome(
            exp_id, "built", tuple(written), duration=elapsed, warnings=tuple(warnings)
        )

    def _write(self, stem: str, rendered: dict[Format, bytes]) -> list[Path]:
        """Each output as ``<out>/<stem>.<format>``, replaced atomically."""
        written = []
        for fmt, data in rendered.items():
            target = self.out_dir / f"{stem}.{fmt}"
            write_atomic(target, data)
            written.append(target)
        return written

    def _state_id(self, exp_id: str) -> str:
        """Under which name the state remembers this build: a Word build apart (an id has no
        dot), so that `--format docx` and the HTML and PDF builds are each up to date on
        their own instead of rebuilding one another's outputs in turn. The HTML and PDF
        formats share the experiment's own name, as they always have (batch.longest_first
        reads the durations there)."""
        formats = self.options.formats
        return f"{exp_id}.{'+'.join(formats)}" if "docx" in formats else exp_id

    def _passed_env(self, source: ExperimentSource) -> tuple[str, ...]:
        """The variables the experiment's programs receive by name (spec and labreport.toml)."""
        names = [*self.project.config.run.pass_env]
        for program in source.spec.programs:
            names += program.pass_env
        return tuple(sorted(set(names)))

    def _inputs_digest(self, folder: Path) -> str:
        """What the outputs are made from. Not --strict: the record's bytes do not depend on
        it. It only decides whether a failed check fails the build, and the state remembers
        the failed checks."""
        options: tuple[object, ...] = (
            self.options.formats, str(self.out_dir), self.options.theme, PROGRAM_THREADS,
            # The student (name, id, section, seeds) may come from the environment or an option,
            # not the file: a change of student is a change of every record (and of its seeds).
            dataclasses.astuple(self.project.config.student),
        )  # fmt: skip
        if self.options.handout:  # a record's digest stays what it was before handouts
            options += ("handout",)
        if self.options.pdf_variant:  # likewise before variants: a plain PDF is not rebuilt
            options += ("pdf_variant", self.options.pdf_variant)
        return inputs_digest(folder, self.project.config_path, self.search_path.folders, options)

    def _with_env(self, made_from: str, passed_env: Sequence[str]) -> str:
        """``made_from`` with the values of the variables passed by name, which are inputs
        too (the names are the last build's when checking, as the spec is read only when there
        is work to do)."""
        names = sorted({*self.project.config.run.pass_env, *passed_env})
        values = json.dumps([made_from, {name: os.environ.get(name) for name in names}])
        return hashlib.sha256(values.encode()).hexdigest()

    def seeded(self, source: ExperimentSource) -> ExperimentSource:
        """``source`` with every program's seed a number: ``seed: student``, or every seed under
        ``[student] seeds = "student"``, derived from the project's student ID."""
        student = self.project.config.student
        return resolve_seeds(source, student.id, student.seeds)

    def _check_strict(self, exp_id: str, failed_checks: Sequence[str]) -> None:
        """Under ``--strict``, a failed check fails the experiment, freshly built or not."""
        if failed_checks and self.options.strict:
            claims = "; ".join(failed_checks)
            raise CheckFailed(
                f"{len(failed_checks)} check(s) failed under --strict: {claims}",
                experiment=exp_id,
                fix="fix the program or the claim in checks:, or build without --strict",
            )

    def _check_theme(self, source: ExperimentSource) -> None:
        """An unknown theme is a spec (or option) error, found before any program runs."""
        if self.options.theme:
            self.search_path.resolve_theme(self.options.theme, "--theme", UsageError)
        else:
            display = source.spec_path.relative_to(self.project.root)
            self.search_path.resolve_theme(source.spec.theme, str(display), SpecError, "theme")

    def _unshown(self, source: ExperimentSource) -> list[str]:
        """A warning per field of the spec that the theme has no place for."""
        from labreport.spec import unshown_notices

        theme = self.options.theme or source.spec.theme
        display = str(source.spec_path.relative_to(self.project.root))
        return unshown_notices(source.spec, theme, self.search_path.shown_fields(theme), display)

    def limits(self, program: Program) -> RunLimits:
        """The program's limits: its spec, else ``[limits]`` in labreport.toml, else defaults;
        memory never above :data:`MEMORY_CEILING` of the machine."""
        project = self.project.config.limits
        memory = int(program.memory_limit or project.memory or DEFAULT_MEMORY_LIMIT)
        ceiling = _memory_ceiling()
        choices = (program.figure_limit, project.figures, DEFAULT_FIGURE_LIMIT)
        figures = next(n for n in choices if n is not None)
        return RunLimits(
            timeout=program.timeout,
            output_limit=int(program.output_limit or project.output or DEFAULT_OUTPUT_LIMIT),
            memory_limit=min(memory, ceiling) if ceiling else memory,
            figure_limit=figures,
            threads=PROGRAM_THREADS,
            pass_env=tuple(dict.fromkeys((*self.project.config.run.pass_env, *program.pass_env))),
        )

    def run_programs(
        self,
        source: ExperimentSource,
        warnings: list[str],
        label: str | None = None,
        account: list[ProgramEntry] | None = None,
    ) -> tuple[list[RunResult], int, int]:
        """Every program's result, from the cache when its inputs are unchanged; how many ran
        and how many came from the cache. ``label`` names the runs in progress events (default:
        the experiment's id). A program that fails without ``allow_errors`` raises RunError.
        ``account`` receives each program's entry for the build report as it ends.

        With ``workdir: shared`` the programs form a pipeline: they run in order in one copy
        of the folder, each keyed by the one before it too (it reads what that one wrote), and
        unless every one of them is cached they all run again, from the first.
        """
        self._require_entered()
        label = label or source.id
        plan = self._plan(source)
        hits = [None if self.options.force else self.cache.get(key) for _, _, key, _ in plan]
        if rerun := source.spec.workdir == "shared" and None in hits:
            hits = [None] * len(plan)  # a later program needs the files of the earlier ones
        runs: list[RunResult] = []
        ran = cached = 0
        with self._workdir(source) as workdir:
            for (program, limits, key, parts), result in zip(plan, hits, strict=True):
                if log.isEnabledFor(logging.INFO):  # -v: the cache's decision, and why
                    self._log_decision(source.id, label, program.code, parts, result, rerun)
                if result is not None:
                    cached += 1
                    self.events.program_finished(label, program.code, result, True)
                else:
                    self._check_cancelled()
                    _preload_renderer()  # while the program runs
                    self.events.program_started(label, program.code)
                    result = self._run_one(source, program, limits, workdir)
                    ran += 1
                    if self._unconfined:
                        warnings.append(self._unconfined)
                        self._unconfined = None
                    self.events.program_finished(label, program.code, result, False)
                    # Failures that depend on the machine (timeouts, kills) are never cached.
                    if result.ok or (result.status == "error" and program.allow_errors):
                        try:
                            self.cache.put(key, result, EntryMeta(source.id, program.code, parts))
                        except OutputError as exc:  # a cache is a shortcut, not a result
                            warnings.append(f"run not cached: {exc.format_message()}")
                if account is not None:
                    account.append(_entry(program, result))
                if not result.ok and not program.allow_errors:
                    fix = _FIXES.get(result.status, _DEFAULT_FIX)
                    at = f" at line {result.line}" if result.line else ""
                    raise RunError(
                        f"{program.code} failed{at}: {result.error}", experiment=source.id,
                        fix=fix, detail=result.traceback,
                    )  # fmt: skip
                shown = {file.name for file in result.files}
                warnings += [
                    f"{program.code}: show_files: {name} was not written, or is over "
                    f"{MAX_EMBED_BYTES // 1024 // 1024} MiB: the record does not show it"
                    for name in program.show_files if name not in shown
                ]  # fmt: skip
                runs.append(result)
        return runs, ran, cached

    def _log_decision(
        self, exp_id: str, label: str, code: str, parts: dict[str, str],
        hit: RunResult | None, rerun: bool,
    ) -> None:  # fmt: skip
        """One line of ``-v``: "exp10: rnn_sine.py: cached" or "...: ran (its source changed)"."""
        if hit is not None:
            log.info("%s: %s: cached", label, code)
            return
        if self.options.force:
            why = "--force"
        elif rerun:
            why = "its shared-workdir pipeline runs again from the first program"
        else:
            why = self.cache.why_missed(exp_id, code, parts)
        log.info("%s: %s: ran (%s)", label, code, why)

    def run_keys(self, source: ExperimentSource) -> list[str]:
        """The cache key of each program of ``source``, as a build would look it up now
        (``cache prune`` keeps these)."""
        return [key for _, _, key, _ in self._plan(source)]

    def _plan(
        self, source: ExperimentSource
    ) -> list[tuple[Program, RunLimits, str, dict[str, str]]]:
        """Each program with its limits, its cache key and the key's parts."""
        files = experiment_files(source.folder)
        codes = [program.code for program in source.spec.programs]
        # A handout's skeleton file is never run: like a sibling program, it keys no run that
        # does not name it, so editing it re-renders the record without re-running anything.
        codes += [program.skeleton for program in source.spec.programs if program.skeleton]
        shared = source.spec.workdir == "shared"
        plan = []
        previous: str | None = None
        for program in source.spec.programs:
            limits = self.limits(program)
            # What a successful run captures depends on these; the memory limit only ends runs.
            extra: dict[str, object] = {
                "threads": PROGRAM_THREADS,
                "output_limit": limits.output_limit,
                "figure_limit": limits.figure_limit,
                # A variable passed by name can change the run (DATA_DIR); only a digest of it
                # is kept, inside the key's own digest.
                "env": {name: os.environ.get(name) for name in limits.pass_env},
            }
            if shared:  # it can read every file, and what the programs before it wrote
                inputs, extra["after"] = files, previous
            else:
                inputs = program_inputs(source.folder, files, program.code, codes)
            previous = run_key(inputs, program, extra)
            plan.append((program, limits, previous, key_parts(inputs, program, extra)))
        return plan

    @contextlib.contextmanager
    def _workdir(self, source: ExperimentSource) -> Iterator[SharedWorkdir | None]:
        """The folder a ``workdir: shared`` pipeline runs in; None: each program gets its own."""
        if source.spec.workdir != "shared":
            yield None
            return
        with self.executor.shared_workdir(source.folder) as workdir:
            yield workdir

    def _run_one(
        self,
        source: ExperimentSource,
        program: Program,
        limits: RunLimits,
        workdir: SharedWorkdir | None,
    ) -> RunResult:
        job = RunJob(
            source.folder, program.code, tuple(program.run_args), program.run_seed, limits,
            tuple(program.show_files), tuple(program.recorded_globals),
            protected=(self.project.root, self.out_dir), workdir=workdir,
        )  # fmt: skip
        try:
            return self.executor.run(job, self.cancel)
        except RunError as exc:  # where it ran failed (a lost Dask worker): say which record
            raise exc.for_experiment(source.id) from exc
        except OSError as exc:
            raise RunError(
                f"{program.code} could not be started: {exc.strerror or exc}",
                experiment=source.id,
                fix="free some disk space or memory, or build fewer experiments at once with -j",
            ) from exc

    def _render(
        self,
        source: ExperimentSource,
        context: RecordContext,
        warnings: list[str],
        failed_checks: list[str],
        verdicts: list[CheckEntry],
        entry: str = ENTRY,
    ) -> dict[Format, bytes]:
        """The outputs from the theme's ``entry`` template (the record's, or the handout's)."""
        from labreport.pdf import outside_references
        from labreport.render import render_html

        warnings += context.notices  # e.g. more figure captions than figures
        with self._render_lock:
            failed_checks += [
                f"{check.claim.striptags()} ({check.expr})"
                for check in context.checks if not check.passed
            ]  # fmt: skip
            verdicts += [
                CheckEntry(check.claim.striptags(), check.passed) for check in context.checks
            ]
            try:
                html = render_html(
                    context, self.options.theme or source.spec.theme, self.search_path, entry
                )
            except RenderError as exc:  # a theme's mistake: say which record hit it, and where
                where = exc.format_message().replace(f"{self.project.root}{os.sep}", "")
                raise RenderError(where, experiment=source.id) from exc
            refused = outside_references(html, self.project.root)
        rendered: dict[Format, bytes] = {}
        if "html" in self.options.formats:
            rendered["html"] = html.encode("utf-8")
        breaks: list[str] = []
        if "pdf" in self.options.formats:
            rendered["pdf"] = self._pdf(source, html, refused, breaks)
        warnings += [f"not fetched, outside the project: {url}" for url in refused]
        warnings += [f"{self.output_stem(source.id)}.pdf {problem}" for problem in breaks]
        if "docx" in self.options.formats:
            rendered["docx"] = self._docx(source, context, warnings)
        return rendered

    def _docx(self, source: ExperimentSource, context: RecordContext, warnings: list[str]) -> bytes:
        """The Word record (:mod:`labreport.word`), in the structure of the record's theme."""
        from labreport.render import listing_options
        from labreport.themes import ENTRY
        from labreport.word.themes import render_docx, structure_of

        theme = self.options.theme or source.spec.theme
        template = self.search_path.find_file(f"{theme}/{ENTRY}").read_text("utf-8", "replace")
        structure = structure_of(theme, template)
        if structure is None:
            warnings.append(
                f"{source.id}.docx: Word output knows the built-in themes' structures only: "
                f"theme {theme!r} extends neither, and is written in the classic structure"
            )
        with self._render_lock:
            options = listing_options(self.search_path, theme)
            shown = self.search_path.check_expressions(theme)
            data, notes = render_docx(context, structure or "classic", options, shown)
        warnings += [f"{source.id}.docx: {note}" for note in notes]
        return data

    def context(self, source: ExperimentSource, runs: list[RunResult]) -> RecordContext:
        """What the theme renders: the prose filled in with the runs' values (a value no run
        recorded is a RenderError naming the field), the checks evaluated."""
        from labreport.render import build_context

        display = str(source.spec_path.relative_to(self.project.root))
        with self._render_lock, formulas.cached_in(self.work / "formulas"):
            return build_context(self.project, source, runs, display)

    def _pdf(
        self, source: ExperimentSource, html: str, refused: list[str], breaks: list[str]
    ) -> bytes:
        """The PDF from the executor, outside the render lock: records are laid out side by
        side."""
        try:
            pdf = self.executor.layout(
                html, self.project.root, refused, breaks, self.options.pdf_variant
            )
        except RenderError as exc:
            raise exc.for_experiment(source.id) from exc
        self._check_cancelled()
        return pdf


def _entry(program: Program, result: RunResult) -> ProgramEntry:
    """A program's entry in the build report: the seed its process reported it ran with."""
    return ProgramEntry(
        code=program.code,
        seed=ran_seed(result.environment),
        args=tuple(program.run_args),
        source="cached" if result.cached else "run",
        status=result.status,
        seconds=round(result.duration, 3),
        digest=output_digest(result.output, result.records, len(result.figures)),
    )
