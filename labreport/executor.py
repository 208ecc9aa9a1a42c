"""Where a build's work happens: the one interface every program run and every PDF layout goes
through, and the default that does both here, in local processes.

:class:`labreport.build.Builder` (and so ``build``, ``book`` and ``verify``) only says *what* to
run (a :class:`RunJob`) and *what* to lay out; an :class:`Executor` decides *where*. The local
one is the runner with its warm interpreters and the PDF worker pool, exactly as a build had
them before there was a choice. The Dask one (:mod:`labreport.dask_executor`, behind
``--executor dask://HOST:PORT``) hands the same jobs to a Dask cluster, whose workers run the
same runner code. The run cache is none of an executor's business: the builder looks a run up
before it asks for it, and stores what comes back.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from labreport.errors import UsageError
from labreport.pdfworker import PdfPool
from labreport.results import RunLimits, RunResult
from labreport.runner import prestart, run_program
from labreport.scratch import copy_experiment, scratch_folder
from labreport.warm import WarmPool

#: What ``--executor`` takes: the default, or a Dask scheduler's address.
LOCAL = "local"
DASK_SCHEME = "dask"


@dataclass
class SharedWorkdir:
    """The folder a ``workdir: shared`` pipeline runs in, from its first program to its last:
    a local scratch copy (``path``), or, for an executor whose workers keep nothing between
    jobs, its files as they stand after the last program (``files``, which each job takes
    along and brings back changed)."""

    path: Path | None = None
    files: object = None


@dataclass(frozen=True)
class RunJob:
    """Everything one program's run needs, resolved on the machine that builds: its folder, the
    program, its arguments and seed, its limits (with the environment names it receives), what
    to read back after it (``show_files``, the globals ``record:`` names) and the folders it may
    not write in."""

    folder: Path
    code: str
    args: tuple[str, ...] = ()
    seed: int = 0
    limits: RunLimits = field(default_factory=RunLimits)
    show_files: tuple[str, ...] = ()
    recorded_globals: tuple[tuple[str, str], ...] = ()
    protected: tuple[Path, ...] = ()
    workdir: SharedWorkdir | None = None


class Executor(Protocol):
    """Runs programs and lays records out, wherever that happens. Thread-safe: a batch calls it
    from several threads. ``OSError`` from :meth:`run` means the run could not be set up;
    :class:`~labreport.errors.RunError` that the place it runs in failed (a lost worker)."""

    def prestart(self, folder: Path | None, layout: bool) -> None:
        """Start, ahead of need, what the programs of ``folder`` and (with ``layout``) the PDF
        layout will need, so that it overlaps with reading the spec."""

    def shared_workdir(self, folder: Path) -> contextlib.AbstractContextManager[SharedWorkdir]:
        """A copy of ``folder`` that the programs of one pipeline run in, in order."""

    def run(self, job: RunJob, cancel: threading.Event) -> RunResult:
        """Run one program; setting ``cancel`` ends it with RunCancelled."""

    def layout(
        self, html: str, root: Path, refused: list[str], breaks: list[str],
        variant: str | None = None,
    ) -> bytes:  # fmt: skip
        """The PDF of ``html`` (:func:`labreport.pdf.render_pdf`, as the archival ``variant``
        when given); refused URLs and bad page breaks are appended to the lists. RenderError:
        WeasyPrint failed on this record."""

    def close(self) -> None:
        """Stop whatever this executor started."""


class LocalExecutor:
    """This machine's processes: programs forked from warm interpreters (or fresh ones), PDFs
    from worker processes, else laid out in this process, one at a time."""

    def __init__(self, warm: WarmPool | None = None, *, use_warm: bool = True) -> None:
        """``warm``: a pool shared across builds (``labreport serve``), closed by its owner;
        by default, with ``use_warm``, this executor starts and closes its own."""
        self._own_warm = warm is None and use_warm
        self.warm = WarmPool() if self._own_warm else warm
        self.pdf_pool = PdfPool()
        self._in_process = threading.Lock()

    def prestart(self, folder: Path | None, layout: bool) -> None:
        if folder is not None and self.warm is not None:
            prestart(self.warm, folder)
        if layout:
            self.pdf_pool.prestart()

    @contextlib.contextmanager
    def shared_workdir(self, folder: Path) -> Iterator[SharedWorkdir]:
        with scratch_folder("pipeline") as tmp:
            work = Path(tmp, "work")
            copy_experiment(folder, work)
            yield SharedWorkdir(path=work)

    def run(self, job: RunJob, cancel: threading.Event) -> RunResult:
        return run_program(
            job.folder, job.code, args=job.args, seed=job.seed, limits=job.limits,
            cancel=cancel, warm=self.warm, workdir=job.workdir.path if job.workdir else None,
            show_files=job.show_files, protected=job.protected,
            recorded_globals=job.recorded_globals,
        )  # fmt: skip

    def layout(
        self, html: str, root: Path, refused: list[str], breaks: list[str],
        variant: str | None = None,
    ) -> bytes:  # fmt: skip
        pdf = self.pdf_pool.render(html, root, refused, breaks, variant)
        if pdf is not None:
            return pdf
        from labreport.pdf import render_pdf

        with self._in_process:  # WeasyPrint holds the GIL: one record at a time here
            return render_pdf(html, root=root, refused=refused, breaks=breaks, variant=variant)

    def close(self) -> None:
        self.pdf_pool.close()
        if self._own_warm and self.warm is not None:
            self.warm.close()
            self.warm = None


def parse_executor(value: str, where: str = "--executor") -> str | None:
    """The Dask scheduler's address (``tcp://HOST:PORT``) that ``value`` names, or None for
    the local executor. UsageError (exit 2) for anything else, before any work starts."""
    text = value.strip()
    if text in ("", LOCAL):
        return None
    fix = f"write {LOCAL} or {DASK_SCHEME}://HOST:PORT, e.g. {DASK_SCHEME}://scheduler:8786"
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != DASK_SCHEME or not parts.hostname or port is None:
        raise UsageError(f"not an executor: {value!r}", where=where, fix=fix)
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise UsageError(f"not an executor: {value!r} (only a host and a port)", where=where,
                         fix=fix)  # fmt: skip
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"tcp://{host}:{port}"


def open_executor(
    address: str | None, warm: WarmPool | None = None, *, use_warm: bool = True
) -> Executor:
    """The executor for a parsed ``--executor`` (:func:`parse_executor`): local when
    ``address`` is None, else a client of the Dask scheduler there (RunError, exit 1, when it
    cannot be reached or Dask is not installed)."""
    if address is None:
        return LocalExecutor(warm, use_warm=use_warm)
    from labreport.dask_executor import DaskExecutor  # imports distributed: only when asked

    return DaskExecutor(address, use_warm=use_warm)
