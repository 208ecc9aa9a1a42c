"""Progress of a build: a live display on a terminal, one line per event otherwise.

Library code reports through :class:`labreport.build.BuildEvents`; these classes are the CLI's
two ways of showing it. With ``quiet`` only failures and warnings are shown. Every line passes
through :func:`labreport.console.terminal_line`: a program's error, a spec's code path or a
warning quoting a spec can neither drive the terminal nor fake a line.
"""

from __future__ import annotations

import threading
import time
from typing import TextIO

from labreport.console import terminal_line
from labreport.results import ExperimentOutcome, RunResult


def _describe(result: RunResult, cached: bool) -> str:
    figures = f", {len(result.figures)} figure(s)" if result.figures else ""
    if cached:
        return f"from cache{figures}"
    status = "ok" if result.ok else f"{result.status}: {result.error}"
    return f"{status} in {result.duration:.1f} s{figures}"


def describe_outcome(outcome: ExperimentOutcome) -> str:
    if outcome.status == "up-to-date":
        return f"{outcome.id}: up to date"
    if outcome.status == "failed":
        return f"{outcome.id}: FAILED: {outcome.error}"
    plural = "" if outcome.ran == 1 else "s"
    runs = f"{outcome.ran} run{plural}, {outcome.cached} from cache"
    return f"{outcome.id}: built in {outcome.duration:.1f} s ({runs})"


class LineProgress:
    """One line per event, for logs and pipes."""

    def __init__(self, stream: TextIO, quiet: bool = False) -> None:
        self.stream, self.quiet = stream, quiet
        self._lock = threading.Lock()

    def _say(self, text: str, important: bool = False) -> None:
        if self.quiet and not important:
            return
        with self._lock:
            print(terminal_line(text), file=self.stream, flush=True)

    def program_started(self, exp_id: str, code: str) -> None:
        self._say(f"{exp_id}: running {code} ...")

    def program_finished(self, exp_id: str, code: str, result: RunResult, cached: bool) -> None:
        self._say(f"{exp_id}: {code}: {_describe(result, cached)}")

    def experiment_finished(self, outcome: ExperimentOutcome) -> None:
        # Warnings show even with --quiet: each says something the record is missing.
        for warning in outcome.warnings:
            self._say(f"{outcome.id}: warning: {warning}", important=True)
        if outcome.status != "failed":  # failures are listed once, in the summary
            self._say(describe_outcome(outcome))

    def close(self) -> None:
        pass


class LiveProgress(LineProgress):
    """Finished events scroll; below them, what is running now with its elapsed time."""

    def __init__(self, stream: TextIO, quiet: bool = False) -> None:
        super().__init__(stream, quiet)
        self._running: dict[tuple[str, str], float] = {}
        self._drawn = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True)
        self._thread.start()

    def _redraw(self, line: str | None = None) -> None:
        with self._lock:
            out = "\x1b[1A\x1b[2K" * self._drawn
            if line is not None:
                out += terminal_line(line) + "\n"
            now = time.monotonic()
            rows = [
                terminal_line(f"  running {exp_id} · {code} · {now - started:5.1f} s")
                for (exp_id, code), started in sorted(self._running.items())
            ]
            out += "".join(row + "\n" for row in rows)
            self._drawn = len(rows)
            self.stream.write(out)
            self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(0.25):
            if self._running:
                self._redraw()

    def _say(self, text: str, important: bool = False) -> None:
        if not self.quiet or important:
            self._redraw(text)

    def program_started(self, exp_id: str, code: str) -> None:
        self._running[(exp_id, code)] = time.monotonic()
        self._redraw()

    def program_finished(self, exp_id: str, code: str, result: RunResult, cached: bool) -> None:
        self._running.pop((exp_id, code), None)
        super().program_finished(exp_id, code, result, cached)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._running.clear()
        self._redraw()
