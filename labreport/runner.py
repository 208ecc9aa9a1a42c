"""Run one program in a fresh child process under a timeout, and collect what happened.

The child is a new interpreter (``python -m labreport.child.harness``) working in a scratch copy
of the experiment folder, so programs can read their data files by relative path and cannot
litter the project. stdout and stderr share one pipe, so their interleaving is the order of the
writes.

Everything a program can do wrong ends as a result, never as a hang or a crash of labreport: the
child leads its own session, and at its end -- normal, timeout, memory limit or a cancelled build --
its whole process tree is killed, daemonised grandchildren included (see :mod:`labreport.process`).
Output beyond the cap is counted, not kept, so labreport's memory stays bounded whatever is printed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Literal

from labreport import process, sandbox
from labreport.capture import read_files, read_results
from labreport.console import terminal_text
from labreport.protocol import (
    RUN_TOKEN_ENV,
    RunRequest,
)
from labreport.results import (
    RunCancelled,
    RunLimits,
    RunResult,
    Status,
)
from labreport.scratch import copy_experiment, scratch_folder
from labreport.warm import WarmChild, WarmPool, program_kind

log = logging.getLogger(__name__)

_TICK = 0.05  # seconds between checks of timeout, memory and cancellation
_DRAIN_GRACE = 2.0  # seconds to wait for the rest of the output once the tree is killed


class _Drain(threading.Thread):
    """Reads the child's output as it comes, keeping at most ``limit`` bytes."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        super().__init__(daemon=True)
        self.stream, self.limit = stream, limit
        self.chunks: list[bytes] = []
        self.kept = 0
        self.dropped = 0

    def run(self) -> None:
        read = getattr(self.stream, "read1", self.stream.read)
        while chunk := read(65536):
            room = self.limit - self.kept
            if room > 0:
                self.chunks.append(chunk[:room])
                self.kept += min(room, len(chunk))
            self.dropped += max(0, len(chunk) - max(room, 0))
        self.stream.close()

    def collect(self) -> tuple[bytes, int]:
        """What was kept and how much was dropped, so far: a drain whose pipe is still held open
        by an unkillable process is abandoned rather than waited for."""
        self.join(timeout=_DRAIN_GRACE)
        return b"".join(list(self.chunks)), self.dropped


def _kill_tree(proc: subprocess.Popen[bytes] | WarmChild, token: str) -> None:
    """Kill the program with everything it started, including processes that left its group
    or session: its supervisor last, as it adopts the orphans of those killed meanwhile."""
    if process.supported():
        process.kill_tree(proc.pid, f"{RUN_TOKEN_ENV}={token}".encode())
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _one_line(text: str) -> str:
    """An exception message with newlines, folded: an error is one line in the terminal."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _failing_line(traceback_text: str | None, code: str) -> int | None:
    """The line of ``code`` in the innermost of its frames in the program's traceback."""
    found = re.findall(rf'File "{re.escape(code)}", line (\d+)', traceback_text or "")
    return int(found[-1]) if found else None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


Ending = Literal["exit", "timeout", "memory"]


def _supervise(
    proc: subprocess.Popen[bytes] | WarmChild, limits: RunLimits, cancel: threading.Event | None
) -> tuple[Ending, int]:
    """Wait for the program while watching its clock, its memory and the build's cancel flag."""
    deadline = time.monotonic() + limits.timeout
    watch = None
    if limits.memory_limit is not None:
        if process.supported():
            shared_shm = not sandbox.private_shm_works()
            watch = process.MemoryWatch(proc.pid, limits.memory_limit, shared_shm)
        else:
            log.warning("no /proc on this system: the memory limit is not enforced")
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "timeout", 0
        try:
            proc.wait(timeout=min(_TICK, remaining))
            return "exit", 0
        except subprocess.TimeoutExpired:
            pass
        if cancel is not None and cancel.is_set():
            raise RunCancelled("the build was interrupted")
        used = watch.over_limit() if watch is not None else None
        if used is not None:
            return "memory", used


def _status(
    ending: Ending, used: int, returncode: int, report: dict[str, Any], limits: RunLimits
) -> tuple[Status, str | None]:
    """What happened, as the record and the summary say it."""
    error = report.get("error")
    if ending == "timeout":
        return "timeout", f"timed out after {limits.timeout:g} s"
    if ending == "memory":
        limit = process.format_bytes(limits.memory_limit or 0)
        used_text = process.format_bytes(used)
        return "memory", f"stopped at its memory limit of {limit} (it was using {used_text})"
    if returncode < 0:
        return "killed", f"killed by {_signal_name(-returncode)}"
    if returncode != 0:
        return "error", _one_line(str(error or f"exited with status {returncode}"))
    return "ok", None


def prestart(warm: WarmPool, experiment_dir: Path, limits: RunLimits | None = None) -> None:
    """Start the warm interpreter that the programs of ``experiment_dir`` will be forked from,
    so that its imports (most of a second, two with torch) overlap with reading the spec."""
    programs = sorted(experiment_dir.glob("*.py"))
    if programs:
        env = sandbox.program_env(limits or RunLimits())
        warm.prestart(program_kind(programs[0]), env)


def run_program(
    experiment_dir: Path,
    code: str,
    *,
    args: tuple[str, ...] | list[str] = (),
    seed: int = 0,
    limits: RunLimits | None = None,
    cancel: threading.Event | None = None,
    warm: WarmPool | None = None,
    workdir: Path | None = None,
    show_files: Sequence[str] = (),
    protected: Sequence[Path] = (),
    recorded_globals: Sequence[tuple[str, str]] = (),
    passed_env: Mapping[str, str] | None = None,
    protect_folder: bool = True,
) -> RunResult:
    """Run ``experiment_dir/code`` in isolation and return everything it produced.

    It runs in a fresh scratch copy of ``experiment_dir``, or in ``workdir`` when given (a
    copy the caller made and shares between the programs of a pipeline, in order).
    ``show_files`` are read from the working folder when the program has ended, and each
    ``(name, variable)`` of ``recorded_globals`` is recorded from its globals. The program
    may write only in its working folder, its own temp folder and the machine's temp folders
    that hold none of ``protected`` (the project, the output folder), where the system allows.

    With ``warm``, the program is forked from a warm interpreter that has loaded what it
    imports already (nothing more for a program of the standard library alone; NumPy and
    matplotlib; those and PyTorch: ``warm.program_kind``); else, or if that fails, it runs in
    a new interpreter. Either way it starts from a state no other program touched.

    ``passed_env``: the values of the limits' ``pass_env`` variables, when they come from the
    machine that builds rather than this process's environment (a Dask worker's job).
    ``protect_folder=False``: ``experiment_dir`` is a throwaway copy (a Dask worker's), which
    must not keep the temp folder it lies in from the program, as the project would.

    Setting ``cancel`` kills the program and raises :class:`RunCancelled` within a fraction of a
    second. ``OSError`` means the run could not be set up (a full disk, no processes left).
    """
    limits = limits or RunLimits()
    token = uuid.uuid4().hex
    with scratch_folder("run") as tmp:
        work, results = workdir or Path(tmp, "work"), Path(tmp, "results")
        own_tmp = Path(tmp, "tmp")
        if workdir is None:
            copy_experiment(experiment_dir, work)
        results.mkdir()
        own_tmp.mkdir()
        shielded = (experiment_dir, *protected) if protect_folder else tuple(protected)
        writable = sandbox.writable_folders((work, results, own_tmp), shielded)
        shm = (limits.memory_limit or 0) if sandbox.private_shm_works() else None
        request = RunRequest(
            code, tuple(args), seed, limits.threads, writable, shm,
            recorded_globals=tuple(recorded_globals),
        )  # fmt: skip
        env = sandbox.program_env(limits, results, token, own_tmp, passed_env)
        start = time.perf_counter()
        proc: subprocess.Popen[bytes] | WarmChild | None = None
        if warm is not None:
            kind = program_kind(work / code)
            proc = warm.spawn(kind, env, work, request)
        if proc is None:
            proc = subprocess.Popen(
                [sys.executable, "-P", "-m", "labreport.child.harness", request.to_json()],
                cwd=work,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        assert proc.stdout is not None
        drain = _Drain(proc.stdout, limits.output_limit)
        drain.start()
        try:
            ending, used = _supervise(proc, limits, cancel)
        finally:
            _kill_tree(proc, token)  # also whatever the program left running in the background
            returncode = proc.wait()
        raw, dropped = drain.collect()
        duration = time.perf_counter() - start
        captured = read_results(results, limits)
        report = captured.report
        status, error = _status(ending, used, returncode, report, limits)
        output = terminal_text(raw)
        if dropped:
            output += (
                f"\n[output truncated: {dropped} more bytes not shown "
                f"(limit {process.format_bytes(limits.output_limit)})]\n"
            )
        output += captured.notes
        log.debug("%s: %s in %.2f s", code, status, duration)
        return RunResult(
            code=code,
            status=status,
            output=output,
            figures=captured.figures,
            records=captured.records,
            exit_code=returncode,
            error=error,
            traceback=report.get("traceback"),
            line=_failing_line(report.get("traceback"), code),
            duration=duration,
            output_truncated_bytes=dropped,
            figures_dropped=captured.figures_dropped,
            environment=captured.environment,
            files=read_files(work, show_files),
        )
