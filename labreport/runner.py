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

import base64
import contextlib
import json
import logging
import mimetypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Literal

from labreport import process, sandbox
from labreport.console import terminal_text
from labreport.embed import MAX_EMBED_BYTES
from labreport.fingerprint import SKIPPED_DIRS, SKIPPED_FILES
from labreport.protocol import (
    EXIT_REPORT,
    FIGURE_INDEX,
    RECORDS_FILE,
    RUN_TOKEN_ENV,
    RunRequest,
)
from labreport.results import (
    CapturedFigure,
    CapturedFile,
    RunCancelled,
    RunLimits,
    RunResult,
    Status,
)
from labreport.warm import WarmChild, WarmPool, program_kind

log = logging.getLogger(__name__)

_TICK = 0.05  # seconds between checks of timeout, memory and cancellation
_DRAIN_GRACE = 2.0  # seconds to wait for the rest of the output once the tree is killed
_IGNORED = shutil.ignore_patterns(*SKIPPED_DIRS, *SKIPPED_FILES)


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


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(value: Any) -> Any:
    """``value`` read from the program's JSON with every lone surrogate (``record("name",
    os.listdir()[0])`` for a file whose name is not UTF-8 gives one: JSON can carry it, UTF-8
    cannot) replaced by U+FFFD, in strings, list items and dict keys and values alike; as the
    program's output and files are decoded with ``errors="replace"``. Without this, the record's
    HTML cannot be encoded, and neither can an error message that quotes the value."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [valid_text(item) for item in value]
    if isinstance(value, dict):
        return {valid_text(str(key)): valid_text(item) for key, item in value.items()}
    return value


def _read_figures(results: Path) -> tuple[tuple[CapturedFigure, ...], int]:
    """The captured figures in creation order, and how many were dropped over the limit."""
    index = results / FIGURE_INDEX
    if not index.exists():
        return (), 0
    latest: dict[int, dict[str, Any]] = {}
    dropped: set[int] = set()
    for line in index.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
            number = int(entry["number"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            continue  # a line cut short by a kill
        if entry.get("dropped"):
            dropped.add(number)
        else:
            latest[number] = entry
    figures = []
    for number in sorted(latest):
        path = results / str(latest[number].get("file"))
        if path.is_file():
            svg = path.read_text(encoding="utf-8", errors="replace")
            title = valid_text(str(latest[number].get("title", "")))
            figures.append(CapturedFigure(number, svg, title))
    return tuple(figures), len(dropped - set(latest))


def _read_records(results: Path) -> dict[str, Any]:
    """The values the program recorded; a later value wins a repeated name."""
    path = results / RECORDS_FILE
    records: dict[str, Any] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
                records[valid_text(str(entry["name"]))] = valid_text(entry["value"])
            except (json.JSONDecodeError, KeyError, TypeError, RecursionError):
                continue  # a line cut short by a kill, or written by hand
    return records


def _read_exit_report(results: Path) -> dict[str, Any]:
    try:
        report = valid_text(json.loads((results / EXIT_REPORT).read_text(encoding="utf-8")))
    except (OSError, ValueError, RecursionError):
        return {}  # no report: the program died before the harness could write it
    if not isinstance(report, dict):
        return {}
    if not isinstance(report.get("traceback"), str | None):
        del report["traceback"]  # the program wrote over the harness's report
    return report


def _environment(report: dict[str, Any]) -> dict[str, str]:
    found = report.get("environment")
    if not isinstance(found, dict):
        return {}
    return {str(k): str(v) for k, v in found.items()}


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


def copy_experiment(experiment_dir: Path, work: Path) -> None:
    """The scratch copy a program runs in: the experiment folder without caches, so programs
    read their data by relative path and cannot litter the project."""
    shutil.copytree(experiment_dir, work, ignore=_IGNORED)


_TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".json", ".md", ".log")


def _read_files(work: Path, names: Sequence[str]) -> tuple[CapturedFile, ...]:
    """The ``show_files`` the program left in ``work``, as the record shows them; a file that
    is missing, outside ``work`` or too large to carry is left out (the build says so)."""
    found = []
    root = work.resolve()
    for name in names:
        path = (root / name).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            continue
        data = path.read_bytes()
        if len(data) > MAX_EMBED_BYTES:
            continue
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix.lower() in _TEXT_SUFFIXES or mime.startswith("text/"):
            text = data.decode("utf-8", errors="replace")
            found.append(CapturedFile(name, mime, text))
        else:
            found.append(CapturedFile(name, mime, base64.b64encode(data).decode(), binary=True))
    return tuple(found)


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
) -> RunResult:
    """Run ``experiment_dir/code`` in isolation and return everything it produced.

    It runs in a fresh scratch copy of ``experiment_dir``, or in ``workdir`` when given (a
    copy the caller made and shares between the programs of a pipeline, in order).
    ``show_files`` are read from the working folder when the program has ended. The program
    may write only in its working folder, its own temp folder and the machine's temp folders
    that hold none of ``protected`` (the project, the output folder), where the system allows.

    With ``warm``, the program is forked from a warm interpreter that has NumPy, matplotlib
    and (if the program imports it) PyTorch loaded already; else, or if that fails, it runs in
    a new interpreter. Either way it starts from a state no other program touched.

    Setting ``cancel`` kills the program and raises :class:`RunCancelled` within a fraction of a
    second. ``OSError`` means the run could not be set up (a full disk, no processes left).
    """
    limits = limits or RunLimits()
    token = uuid.uuid4().hex
    with tempfile.TemporaryDirectory(prefix="labreport-run-") as tmp:
        work, results = workdir or Path(tmp, "work"), Path(tmp, "results")
        own_tmp = Path(tmp, "tmp")
        if workdir is None:
            copy_experiment(experiment_dir, work)
        results.mkdir()
        own_tmp.mkdir()
        writable = sandbox.writable_folders((work, results, own_tmp), (experiment_dir, *protected))
        request = RunRequest(code, tuple(args), seed, limits.threads, writable, limits.memory_limit)
        env = sandbox.program_env(limits, results, token, own_tmp)
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
        report = _read_exit_report(results)
        status, error = _status(ending, used, returncode, report, limits)
        output = terminal_text(raw)
        if dropped:
            output += (
                f"\n[output truncated: {dropped} more bytes not shown "
                f"(limit {process.format_bytes(limits.output_limit)})]\n"
            )
        figures, figures_dropped = _read_figures(results)
        if figures_dropped:
            output += (
                f"\n[figures truncated: {figures_dropped} more figure(s) not captured "
                f"(limit {limits.figure_limit})]\n"
            )
        log.debug("%s: %s in %.2f s", code, status, duration)
        return RunResult(
            code=code,
            status=status,
            output=output,
            figures=figures,
            records=_read_records(results),
            exit_code=returncode,
            error=error,
            traceback=report.get("traceback"),
            line=_failing_line(report.get("traceback"), code),
            duration=duration,
            output_truncated_bytes=dropped,
            figures_dropped=figures_dropped,
            environment=_environment(report),
            files=_read_files(work, show_files),
        )
