"""Run one command and measure it: wall time, and the peak memory of that process alone.

Wall time is taken around ``Popen`` … ``wait()`` in this thread, so a finished process is seen at
once (a polling loop would add up to one polling interval to every figure, which matters for the
0.15 s ``--help`` target).

Peak memory is the process's own high-water mark, ``VmHWM`` in ``/proc/<pid>/status``, read by a
second thread every 20 ms while the process runs, keeping the largest value. Why not the usual
tools: ``getrusage(RUSAGE_CHILDREN)`` and the rusage of ``os.wait4`` report the *largest of the
process and its waited-for descendants*, which for a build is the torch program it ran (~350 MiB),
not labreport itself. VmHWM is per process: the programs and the warm interpreter are separate
processes and are not counted. The last <20 ms before exit are not seen, but VmHWM never
decreases, so only memory first touched in those last milliseconds could be missed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

POLL_INTERVAL = 0.02  # seconds between two reads of VmHWM
_KILL_GRACE = 10.0  # seconds between SIGTERM and SIGKILL of a command that ran past its timeout
_TAIL_CHARS = 2000  # output kept to explain a failure


@dataclass(frozen=True)
class Measurement:
    """One timed run of one command."""

    seconds: float
    peak_kib: int  # largest VmHWM seen, 0 if the process ended before the first read
    returncode: int  # -N for a signal; 124 after our timeout, as timeout(1) does
    timed_out: bool
    output_tail: str  # the end of stdout and stderr together, for the failure report

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def read_vm_hwm_kib(pid: int) -> int | None:
    """The process's peak resident set size in KiB, or None once it is gone (or a zombie)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None  # a zombie has no memory lines


class _PeakPoller(threading.Thread):
    """Keeps the largest VmHWM of one process until told to stop."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kib = pid, 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            value = read_vm_hwm_kib(self.pid)
            if value is not None:
                self.peak_kib = max(self.peak_kib, value)
            self._stop_event.wait(POLL_INTERVAL)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak_kib


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the command's process group, so labreport can clean up; SIGKILL it if it must."""
    for sig, grace in ((signal.SIGTERM, _KILL_GRACE), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(log: Path) -> str:
    data = log.read_bytes()[-_TAIL_CHARS:]
    return data.decode("utf-8", errors="replace")


def measure(argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float) -> Measurement:
    """Run ``argv`` once in its own session and measure it; never raises for a failing command.

    Output goes to a file, not a pipe: nobody reads a pipe while the command runs, and a full one
    would stall it and be timed as labreport's slowness.
    """
    with tempfile.TemporaryDirectory(prefix="bench-log-") as tmp:
        log = Path(tmp) / "output"
        with log.open("wb") as out:
            start = time.perf_counter()
            try:
                proc = subprocess.Popen(
                    list(argv),
                    cwd=cwd,
                    env=dict(env),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                return Measurement(0.0, 0, 127, False, f"cannot start {argv[0]}: {exc}")
            poller = _PeakPoller(proc.pid)
            poller.start()
            timed_out = False
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                _stop_group(proc)
            except BaseException:  # Ctrl-C: its own session would not get the SIGINT
                _stop_group(proc)
                poller.stop()
                raise
            seconds = time.perf_counter() - start
            peak = poller.stop()
        code = 124 if timed_out else proc.returncode
        return Measurement(seconds, peak, code, timed_out, _tail(log))
