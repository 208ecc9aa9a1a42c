"""What a run produced and how it may run: frozen data that every stage passes along.

A leaf: it imports nothing of labreport, so the renderer, the cache and the progress display
can speak of a run without importing the runner (and the warm interpreter behind it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # types only: this module stays a leaf
    from labreport.report import CheckEntry, ProgramEntry

Status = Literal["ok", "error", "timeout", "memory", "killed"]  # how a program ended
OutcomeStatus = Literal["built", "up-to-date", "failed"]  # what building an experiment came to
# Defaults, each overridable per program in the spec and per project in labreport.toml. Measured:
# WeasyPrint needs ~40 s to paginate 2 MB of output, and a figure costs ~60 ms to capture and
# ~80 ms to render, so these keep a runaway program's record to seconds; a torch training of the
# course holds ~0.4 GB.
DEFAULT_OUTPUT_LIMIT = 256 * 1024  # bytes of output kept; the rest is counted and dropped
DEFAULT_MEMORY_LIMIT = 4 * 1024**3  # bytes resident in the program's whole process tree
DEFAULT_FIGURE_LIMIT = 50  # figures captured; later ones are counted and dropped


@dataclass(frozen=True)
class CapturedFigure:
    """One figure, in creation order, as SVG text."""

    number: int
    svg: str
    title: str = ""


@dataclass(frozen=True)
class CapturedFile:
    """A file the program left in its working folder that the spec asked to show
    (``show_files:``): ``data`` is its text, or base64 for a binary file (an image)."""

    name: str
    mime: str
    data: str
    binary: bool = False


@dataclass(frozen=True)
class RunResult:
    """What one program did: the record is rendered from this alone."""

    code: str
    status: Status
    output: str
    figures: tuple[CapturedFigure, ...] = ()
    records: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    error: str | None = None
    traceback: str | None = None
    duration: float = 0.0
    output_truncated_bytes: int = 0
    figures_dropped: int = 0
    # What the program computed with, as its process saw it (see harness._environment).
    environment: dict[str, str] = field(default_factory=dict)
    files: tuple[CapturedFile, ...] = ()  # show_files:, in the spec's order (missing ones left out)
    line: int | None = None  # the line of the program the error was raised at, where known
    cached: bool = False  # taken from the run cache by this build, not run by it

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class RunLimits:
    """How a program may run: wall-clock seconds, output bytes kept, resident bytes (None: no
    limit), figures captured, threads for torch/BLAS, and the variables of labreport's
    environment it receives by name beyond the usual ones (:mod:`labreport.sandbox`)."""

    timeout: float = 600.0
    output_limit: int = DEFAULT_OUTPUT_LIMIT
    memory_limit: int | None = DEFAULT_MEMORY_LIMIT
    figure_limit: int = DEFAULT_FIGURE_LIMIT
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    pass_env: tuple[str, ...] = ()


class RunCancelled(Exception):
    """The build was interrupted while the program ran; it was killed and has no result."""


@dataclass(frozen=True)
class ExperimentOutcome:
    """What building one experiment came to."""

    id: str
    status: OutcomeStatus
    written: tuple[Path, ...] = ()
    ran: int = 0
    cached: int = 0
    duration: float = 0.0
    error: str | None = None
    exit_code: int = 0
    warnings: tuple[str, ...] = ()
    failed_checks: tuple[str, ...] = ()
    detail: str | None = None  # a failed program's traceback, shown with --debug
    # For the build report (labreport.report): each program as it ran or came from the cache
    # (those that ended before a failure, for a failed one), and each check's verdict.
    programs: tuple[ProgramEntry, ...] = ()
    checks: tuple[CheckEntry, ...] = ()
