"""Run one program in a fresh child process under a timeout, and collect what happened.

The child is a new interpreter (``python -m labreport.harness``) working in a scratch copy of the
experiment folder, so programs can read their data files by relative path and cannot litter the
project. stdout and stderr share one pipe, so their interleaving is the order of the writes. The
child leads its own process group: a timeout kills it with everything it started.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from labreport.console import terminal_text

log = logging.getLogger(__name__)

Status = Literal["ok", "error", "timeout", "killed"]
# Bump when what a run captures, or how, changes: cached results from older runners are redone.
RUNNER_VERSION = "1"
DEFAULT_OUTPUT_LIMIT = 2_000_000  # bytes of output kept; the rest is counted and dropped
_PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")


@dataclass(frozen=True)
class CapturedFigure:
    """One figure, in creation order, as SVG text."""

    number: int
    svg: str
    title: str = ""


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

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class RunLimits:
    """How a program may run: wall-clock seconds, output bytes kept, threads for torch/BLAS."""

    timeout: float = 600.0
    output_limit: int = DEFAULT_OUTPUT_LIMIT
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)


def _child_env(results: Path, threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        MPLBACKEND="module://labreport.mpl_backend",
        LABREPORT_FIGURES=str(results),
        LABREPORT_RECORDS=str(results / "records.jsonl"),
        PYTHONUNBUFFERED="1",
        PYTHONHASHSEED="0",
        PYTHONIOENCODING="utf-8",
        PYTHONDONTWRITEBYTECODE="1",
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
        OPENBLAS_NUM_THREADS=str(threads),
    )
    if _PACKAGE_PARENT not in site.getsitepackages():
        # Running from a source checkout: let the child import labreport.harness and .record.
        parts = [_PACKAGE_PARENT, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


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


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _read_figures(results: Path) -> tuple[CapturedFigure, ...]:
    index = results / "figures.jsonl"
    if not index.exists():
        return ()
    latest: dict[int, dict[str, Any]] = {}
    for line in index.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a kill
        latest[int(entry["number"])] = entry
    figures = []
    for number in sorted(latest):
        path = results / latest[number]["file"]
        if path.exists():
            svg = path.read_text(encoding="utf-8", errors="replace")
            figures.append(CapturedFigure(number, svg, str(latest[number].get("title", ""))))
    return tuple(figures)


def _read_records(results: Path) -> dict[str, Any]:
    path = results / "records.jsonl"
    records: dict[str, Any] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            records[str(entry["name"])] = entry["value"]
    return records


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def run_program(
    experiment_dir: Path,
    code: str,
    *,
    args: tuple[str, ...] | list[str] = (),
    seed: int = 0,
    limits: RunLimits | None = None,
) -> RunResult:
    """Run ``experiment_dir/code`` in isolation and return everything it produced."""
    limits = limits or RunLimits()
    with tempfile.TemporaryDirectory(prefix="labreport-run-") as tmp:
        work, results = Path(tmp, "work"), Path(tmp, "results")
        shutil.copytree(experiment_dir, work, ignore=_IGNORED)
        results.mkdir()
        command = [
            sys.executable, "-m", "labreport.harness", str(results), str(seed), code,
            *args,
        ]  # fmt: skip
        start = time.perf_counter()
        proc = subprocess.Popen(
            command,
            cwd=work,
            env=_child_env(results, limits.threads),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert proc.stdout is not None
        drain = _Drain(proc.stdout, limits.output_limit)
        drain.start()
        timed_out = False
        try:
            proc.wait(timeout=limits.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        except BaseException:
            _kill_group(proc)
            raise
        finally:
            _kill_group(proc)  # also whatever the program left running in the background
            proc.wait()
        drain.join()
        duration = time.perf_counter() - start
        output = terminal_text(b"".join(drain.chunks))
        report_path = results / "exit.json"
        report: dict[str, Any] = {}
        if report_path.exists():
            try:
                report = json.loads(report_path.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                report = {}
        status: Status
        error = report.get("error")
        if timed_out:
            status, error = "timeout", f"timed out after {limits.timeout:g} s"
        elif proc.returncode < 0:
            status, error = "killed", f"killed by {_signal_name(-proc.returncode)}"
        elif proc.returncode != 0:
            status = "error"
            error = error or f"exited with status {proc.returncode}"
        else:
            status = "ok"
        if drain.dropped:
            output += f"\n[output truncated: {drain.dropped} more bytes not shown]\n"
        log.debug("%s: %s in %.2f s", code, status, duration)
        return RunResult(
            code=code,
            status=status,
            output=output,
            figures=_read_figures(results),
            records=_read_records(results),
            exit_code=proc.returncode,
            error=error,
            traceback=report.get("traceback"),
            duration=duration,
            output_truncated_bytes=drain.dropped,
        )
