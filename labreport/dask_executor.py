"""The Dask executor: programs and PDF layouts of a build handed to a Dask distributed cluster.

Workers may be on other machines, so a job carries everything its run needs: the experiment
folder's files as bytes (:class:`PackedFolder`), the program, its arguments and resolved seed,
its limits, the globals to record, and the values of the variables the program receives by name
(read here, where the build runs and the cache key was made). On the worker,
:func:`run_on_worker` lays the files out in a private scratch folder and calls the same
:func:`labreport.runner.run_program` a local build does, under the same limits and isolation
(forked from that worker's own warm interpreter), and the :class:`RunResult` comes back pickled.
The run cache stays with the build: a hit never leaves it, a miss is stored when it returns.

Workers keep nothing between jobs, so any worker may take any job, and Dask may run a job
again elsewhere when its worker is lost. A ``workdir: shared`` pipeline is no exception: each
of its jobs takes the pipeline's folder along as the programs before it left it, and brings it
back changed (:class:`labreport.executor.SharedWorkdir`).

This module imports ``distributed`` only inside :class:`DaskExecutor` (the functions that run
on a worker import nothing of Dask), so local builds never pay for it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from labreport.errors import LabreportError, RenderError, RunError, UsageError
from labreport.executor import RunJob, SharedWorkdir
from labreport.fingerprint import folder_entries, open_regular
from labreport.results import RunCancelled, RunResult
from labreport.scratch import scratch_folder

_CONNECT_TIMEOUT = "10s"  # a scheduler that does not answer in this long is not there
_TICK = 0.1  # seconds between looks at the build's cancel flag while a job runs
_NO_WORKER_GRACE = 60.0  # seconds a job may wait with no worker at all (jobqueue: queued)
_WORKER_LOOK = 5.0  # seconds between looks at the scheduler's workers while a job waits
_WORKER_FIX = (
    "install labreport (with the libraries the programs import, in the versions this machine "
    "has) on every Dask worker, and check that the workers stay up (`dask worker` logs)"
)


@dataclass(frozen=True)
class PackedEntry:
    """One thing of an experiment folder, as it travels: a folder, a file with its bytes and
    permission bits, or a symlink with its target (:class:`labreport.fingerprint.FolderEntry`)."""

    relative: str
    kind: Literal["folder", "file", "symlink"]
    data: bytes = b""
    mode: int = 0o644
    link: str = ""


PackedFolder = tuple[PackedEntry, ...]


def pack_folder(folder: Path, *, skip_special: bool = False) -> PackedFolder:
    """``folder`` as :func:`labreport.scratch.copy_experiment` would copy it, in memory.
    SpecError for a special file (left out with ``skip_special``: a pipeline's folder, where a
    program made one), OSError when it cannot be read."""
    from labreport.scratch import refuse_special

    entries = list(folder_entries(folder, strict=True))
    if not skip_special:
        refuse_special(folder, entries)
    packed = []
    for entry in entries:
        if entry.kind == "file":
            reader = open_regular(entry.path)
            if reader is None:
                raise OSError(f"{entry.relative} was replaced while it was read")
            with reader:
                mode = os.fstat(reader.fileno()).st_mode & 0o7777
                packed.append(PackedEntry(entry.relative, "file", reader.read(), mode))
        elif entry.kind == "symlink":
            packed.append(PackedEntry(entry.relative, "symlink", link=entry.link))
        elif entry.kind == "folder":
            packed.append(PackedEntry(entry.relative, "folder"))
    return tuple(packed)


def unpack_folder(packed: PackedFolder, target: Path) -> None:
    """Write ``packed`` out as the new folder ``target`` (parents come before children)."""
    target.mkdir()
    for entry in packed:
        path = target / entry.relative
        if entry.kind == "folder":
            path.mkdir()
        elif entry.kind == "symlink":
            os.symlink(entry.link, path)
        else:
            with open(path, "xb") as writer:
                writer.write(entry.data)
            os.chmod(path, entry.mode)


@dataclass(frozen=True)
class RemoteJob:
    """A :class:`RunJob` as it travels to a worker: the folder as bytes, not a path, and the
    values of the variables the program receives by name."""

    name: str  # the experiment folder's name, kept so that messages name it as here
    files: PackedFolder
    job: RunJob
    passed_env: tuple[tuple[str, str], ...]
    warm: bool
    pipeline: PackedFolder | None = None  # a shared pipeline's folder, as it stands
    versions: tuple[tuple[str, str], ...] = ()  # the build machine's, that key its run cache


class WorkerMismatch(Exception):
    """The worker computes with other versions than the build machine: its results would be
    cached, and described in the record, as the build machine's."""


def cache_versions() -> tuple[tuple[str, str], ...]:
    """Python's, labreport's runner's and the libraries' versions: the part of the run cache's
    key (:func:`labreport.fingerprint.environment_fingerprint`) a worker must share."""
    from labreport.fingerprint import LIBRARIES, environment_fingerprint

    found = environment_fingerprint()
    return tuple((name, found[name]) for name in ("python", "runner", *LIBRARIES))


# ---------------------------------------------------------------------------- on the worker

_worker_lock = threading.Lock()
_worker_warm: Any = None  # the worker process's WarmPool, made on first need


def _warm_pool() -> Any:
    """The warm interpreters of this worker process, shared by every job it runs."""
    global _worker_warm
    with _worker_lock:
        if _worker_warm is None:
            import atexit

            from labreport.warm import WarmPool

            _worker_warm = WarmPool()
            atexit.register(_worker_warm.close)
        return _worker_warm


def run_on_worker(remote: RemoteJob) -> tuple[RunResult, PackedFolder | None]:
    """Run ``remote`` here, as a local build would: the result, and for a pipeline's job its
    folder as the program left it."""
    from labreport.runner import run_program

    job = remote.job
    here = dict(cache_versions())
    for name, version in remote.versions:
        if here.get(name) != version:
            raise WorkerMismatch(
                f"this worker has {name} {here.get(name)}, the build machine {version}"
            )
    with scratch_folder("run") as tmp:
        folder = tmp / remote.name
        unpack_folder(remote.files, folder)
        workdir = None
        if remote.pipeline is not None:
            workdir = tmp / "pipeline"
            unpack_folder(remote.pipeline, workdir)
        result = run_program(
            folder, job.code, args=job.args, seed=job.seed, limits=job.limits,
            warm=_warm_pool() if remote.warm else None, workdir=workdir,
            show_files=job.show_files, recorded_globals=job.recorded_globals,
            passed_env=dict(remote.passed_env), protect_folder=False,
        )  # fmt: skip
        left = pack_folder(workdir, skip_special=True) if workdir is not None else None
    return result, left


def layout_on_worker(
    html: str, refused: list[str], epoch: str, variant: str | None = None
) -> tuple[bytes, list[str], list[str]]:
    """The PDF of ``html`` as :func:`labreport.pdf.render_pdf` makes it, with the build's
    ``SOURCE_DATE_EPOCH`` (so its bytes are the local build's); the URLs it refused and the
    pages that break badly. A record fetches nothing but its own ``data:`` URLs, so no project
    folder is needed here. ``variant``: the archival PDF asked for. RenderError when WeasyPrint
    fails."""
    from labreport.pdf import render_pdf

    os.environ["SOURCE_DATE_EPOCH"] = epoch
    breaks: list[str] = []
    with scratch_folder("run") as root:  # an empty folder: nothing of this machine is fetched
        try:
            pdf = render_pdf(html, root=root, refused=refused, breaks=breaks, variant=variant)
        except Exception as exc:  # noqa: BLE001 - reported to the build, which names the record
            raise RenderError(
                f"the PDF could not be rendered: {type(exc).__name__}: {exc}"
            ) from None
    return pdf, refused, breaks


# ---------------------------------------------------------------------------- on the client


class DaskExecutor:
    """A client of one Dask scheduler; see the module's docstring."""

    def __init__(self, address: str, *, use_warm: bool = True) -> None:
        try:
            _knock(address)  # a refused or unknown address fails at once, before any import
        except OSError as exc:
            raise _unreachable(address, exc) from None
        try:
            import distributed
        except ImportError:
            raise UsageError(
                "--executor dask:// needs Dask distributed, which is not installed here",
                where="--executor", fix="pip install labreport[dask]",
            ) from None  # fmt: skip
        self.address = address
        self.use_warm = use_warm
        self._distributed: Any = distributed  # untyped
        try:
            with _quiet_dask():
                self.client: Any = self._distributed.Client(
                    address, timeout=_CONNECT_TIMEOUT, set_as_default=False
                )
        except (OSError, TimeoutError) as exc:  # something answers, but not a scheduler
            raise _unreachable(address, exc) from None

    def prestart(self, folder: Path | None, layout: bool) -> None:
        """Nothing: the workers' warm interpreters start with their first job and stay."""

    @contextlib.contextmanager
    def shared_workdir(self, folder: Path) -> Iterator[SharedWorkdir]:
        yield SharedWorkdir(files=pack_folder(folder))

    def run(self, job: RunJob, cancel: threading.Event) -> RunResult:
        from labreport.sandbox import passed_values

        pipeline = job.workdir.files if job.workdir is not None else None
        remote = RemoteJob(
            job.folder.name, pack_folder(job.folder),
            replace(job, folder=Path(job.folder.name), protected=(), workdir=None),
            tuple(sorted(passed_values(job.limits).items())), self.use_warm,
            pipeline if isinstance(pipeline, tuple) else None, cache_versions(),
        )  # fmt: skip
        future = self.client.submit(run_on_worker, remote, pure=False)
        result, left = self._wait(future, cancel, job.code)
        if job.workdir is not None:
            job.workdir.files = left  # what the next program of the pipeline starts from
        assert isinstance(result, RunResult)
        return result

    def layout(
        self, html: str, root: Path, refused: list[str], breaks: list[str],
        variant: str | None = None,
    ) -> bytes:  # fmt: skip
        from labreport.pdf import FIXED_EPOCH

        epoch = os.environ.get("SOURCE_DATE_EPOCH", FIXED_EPOCH)
        future = self.client.submit(
            layout_on_worker, html, list(refused), epoch, variant, pure=False
        )
        pdf, found, bad = self._wait(future, threading.Event(), "the PDF layout")
        refused += [url for url in found if url not in refused]
        breaks += bad
        assert isinstance(pdf, bytes)
        return pdf

    def close(self) -> None:
        with _quiet_dask(), contextlib.suppress(Exception):
            self.client.close(timeout=5)

    def _workers(self) -> Mapping[str, Any]:
        """The scheduler's workers, asked now. Not ``scheduler_info()``: it returns the client's
        copy, which a background refresh can replace with one that lists no worker (seen under
        load: a build failed for want of workers while both were busy)."""
        workers: Mapping[str, Any] = self.client.nthreads()
        return workers

    def _wait(self, future: Any, cancel: threading.Event, what: str) -> Any:
        """The future's value, watching ``cancel`` and the workers; its failures as labreport's
        errors (a lost worker, a library missing there)."""
        seen = looked = time.monotonic()  # when a worker was last seen, and looked for
        while not future.done():
            time.sleep(_TICK)
            if cancel.is_set():
                future.cancel()
                raise RunCancelled("the build was interrupted")
            now = time.monotonic()
            if now - looked < _WORKER_LOOK:
                continue
            looked = now
            if self._workers():
                seen = now
            elif now - seen >= _NO_WORKER_GRACE:
                future.cancel()
                raise RunError(
                    f"{what}: no Dask worker has been connected to {self.address} for "
                    f"{_NO_WORKER_GRACE:g} s", fix=_WORKER_FIX,
                )  # fmt: skip
        try:
            return future.result()
        except (LabreportError, RunCancelled):
            raise
        except WorkerMismatch as exc:
            raise RunError(
                f"{what}: {exc}", fix="install the build machine's versions on every worker"
            ) from None
        except Exception as exc:  # noqa: BLE001 - a lost worker, a library missing there, ...
            raise RunError(
                f"{what} failed on the Dask cluster at {self.address}: {_reason(exc)}",
                fix=_WORKER_FIX,
            ) from None


def _unreachable(address: str, exc: BaseException) -> RunError:
    return RunError(
        f"no Dask scheduler answers at {address} ({_reason(exc)})", where="--executor",
        fix=f"start one with `dask scheduler` and workers with `dask worker {address}`, or "
        "build without --executor (docs/scaling.md)",
    )  # fmt: skip


def _knock(address: str) -> None:
    """Open and close a TCP connection to ``address`` (``tcp://HOST:PORT``); OSError if none."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address)
    assert parts.hostname is not None and parts.port is not None
    timeout = float(_CONNECT_TIMEOUT.rstrip("s"))
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout):
        pass


def _reason(exc: BaseException) -> str:
    """An exception in one line: its type and the first line of its message."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


@contextlib.contextmanager
def _quiet_dask() -> Iterator[None]:
    """Dask logs a failed connection and a closing client at ERROR and WARNING: the build says
    what went wrong itself, in one line."""
    import logging

    loggers = [logging.getLogger(name) for name in ("distributed", "tornado")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
