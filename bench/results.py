"""From the samples to the table: medians, floors, ratios, verdicts; and ``bench/RESULTS.md``.

Medians and floors are medians over repetitions; a floor is first summed within each repetition
(its rows ran next to the row they judge), then the median of those sums is taken. The ratio is
median / floor, so the table's three numbers agree with each other.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import os
import platform
import re
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from plan import Row, Target
from timing import Measurement

NOTES_HEADING = "## Notes"
_DEFAULT_NOTES = f"""{NOTES_HEADING}

<!-- reasons: why each missed target is missed, by its row key. This section (from the
"## Notes" heading to the end of the file) is kept when bench/run.py rewrites the file. -->
"""
_FAILURE_LINES = 12


@dataclass(frozen=True)
class Sample:
    """One run of one row: its measurement, or why it could not be measured or is invalid."""

    measurement: Measurement | None
    problem: str | None = None  # a failed prepare step, or a command that did not do its job

    @property
    def ok(self) -> bool:
        return self.problem is None and self.measurement is not None and self.measurement.ok

    @property
    def seconds(self) -> float:
        return self.measurement.seconds if self.measurement else 0.0


Samples = dict[str, list[Sample]]  # row key → one sample per repetition, in order


@dataclass(frozen=True)
class Line:
    """One line of the table."""

    key: str
    group: str
    label: str
    runs: str  # "5/5": successful runs out of attempted
    median: float | None
    floor: float | None
    floor_label: str
    ratio: float | None
    target: Target | None
    verdict: str  # PASS, MISS, FAIL, floor, or "—" (no target)
    peak_mib: float | None

    def value(self) -> float | None:
        """What the target is checked against."""
        if self.target is None:
            return None
        return {"x": self.ratio, "s": self.median, "MiB": self.peak_mib}[self.target.unit]


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _floor_median(row: Row, samples: Samples) -> float | None:
    if row.floor is None:
        return None
    sums = []
    for runs in zip(*(samples.get(key, []) for key in row.floor.keys), strict=False):
        if runs and all(run.ok for run in runs):  # one repetition of every row of the floor
            sums.append(sum(run.seconds for run in runs))
    median = _median(sums)
    return None if median is None else median * row.floor.factor


def _verdict(target: Target | None, value: float | None, failed: bool, is_floor: bool) -> str:
    if failed:
        return "FAIL"
    if is_floor:
        return "floor"
    if target is None:
        return "—"
    if value is None:
        return "FAIL"  # nothing to compare: its floor failed
    return "PASS" if value <= target.limit else "MISS"


def summarize(row: Row, samples: Samples, floor_keys: set[str]) -> Line:
    runs = samples.get(row.key, [])
    good = [s.measurement for s in runs if s.ok and s.measurement]
    median = _median([m.seconds for m in good])
    floor = _floor_median(row, samples)
    ratio = median / floor if median is not None and floor else None
    peaks = [m.peak_kib for m in good if m.peak_kib]
    peak = max(peaks) / 1024 if peaks else None
    line = Line(
        row.key, row.group, row.label, f"{len(good)}/{len(runs)}", median, floor,
        row.floor.label if row.floor else "", ratio, row.target, "", peak,
    )  # fmt: skip
    failed = len(good) < len(runs) or not runs
    verdict = _verdict(row.target, line.value(), failed, row.key in floor_keys)
    return dataclasses.replace(line, verdict=verdict)


def peak_line(rows: Sequence[Row], lines: Sequence[Line], limit: float) -> Line | None:
    """(g): the largest peak of the labreport process over the rows of (b)."""
    checked = {r.key for r in rows if r.peak_checked}
    peaks = [ln.peak_mib for ln in lines if ln.key in checked and ln.peak_mib is not None]
    if not checked:
        return None
    peak = max(peaks) if peaks else None
    target = Target(limit, "MiB")
    verdict = _verdict(target, peak, peak is None, False)
    label = "peak memory of the labreport process itself during (b) (VmHWM, polled)"
    return Line("peak:parent", "g", label, "—", None, None, "", None, target, verdict, peak)


def build_lines(rows: Sequence[Row], samples: Samples, peak_limit: float) -> list[Line]:
    floor_keys = {k for r in rows if r.floor for k in r.floor.keys}
    lines = [summarize(r, samples, floor_keys) for r in rows]
    peak = peak_line(rows, lines, peak_limit)
    if peak is None:
        return lines
    after = [i for i, line in enumerate(lines) if line.group > peak.group]  # items a-h in order
    at = after[0] if after else len(lines)
    return [*lines[:at], peak, *lines[at:]]


# -- the table -----------------------------------------------------------------------------------


def _num(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def render_table(lines: Sequence[Line]) -> str:
    """A Markdown table, readable as plain text too."""
    head = (
        "| item | row | what | runs | median s | floor s | ratio | target | verdict | peak MiB |\n"
        "|---|---|---|---|---:|---:|---:|---|---|---:|\n"
    )
    body = []
    for ln in lines:
        floor = _num(ln.floor, ".2f") + (f" ({ln.floor_label})" if ln.floor_label else "")
        ratio = "—" if ln.ratio is None else f"{ln.ratio:.2f}×"
        target = ln.target.text() if ln.target else "—"
        body.append(
            f"| {ln.group} | `{ln.key}` | {ln.label} | {ln.runs} | {_num(ln.median, '.2f')} | "
            f"{floor} | {ratio} | {target} | {ln.verdict} | {_num(ln.peak_mib, '.0f')} |"
        )
    return head + "\n".join(body) + "\n"


def _measured(ln: Line) -> str:
    if ln.target is None:
        return "no result"
    if ln.target.unit == "x" and ln.ratio is not None:
        return f"{ln.ratio:.2f}× ({ln.median:.2f} s against {ln.floor:.2f} s, {ln.floor_label})"
    value = ln.value()
    if value is None:
        return "no result (its runs or its floor failed)"
    return f"{value:.2f} s" if ln.target.unit == "s" else f"{value:.0f} MiB"


def render_missed(lines: Sequence[Line]) -> str:
    missed = [ln for ln in lines if ln.verdict in ("MISS", "FAIL")]
    if not missed:
        return "None: every row met its target.\n"
    items = []
    for ln in missed:
        target = ln.target.text() if ln.target else "a successful run"
        items.append(
            f"- `{ln.key}` — {ln.label}: {ln.verdict}, measured {_measured(ln)}, target {target}."
            "\n  reason: see below"
        )
    return "\n".join(items) + "\n"


def render_failures(rows: Sequence[Row], samples: Samples) -> str:
    """Why runs failed: the prepare step's message, or the end of the command's output."""
    parts = []
    for row in rows:
        for rep, sample in enumerate(samples.get(row.key, []), start=1):
            if sample.ok:
                continue
            m = sample.measurement
            if sample.problem:
                parts.append(f"- `{row.key}`, repetition {rep}: {sample.problem}")
            if m is not None and not m.ok:
                status = "timed out" if m.timed_out else f"exit {m.returncode}"
                tail = "\n".join(m.output_tail.strip().splitlines()[-_FAILURE_LINES:])
                parts.append(f"- `{row.key}`, repetition {rep}: {status}\n\n```\n{tail}\n```")
    return "\n".join(parts) + "\n" if parts else ""


# -- the machine and the versions ----------------------------------------------------------------


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or "unknown CPU"
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else platform.processor() or "unknown CPU"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def describe_environment(repo: Path, labreport_version: str, source: Path | None) -> list[str]:
    """Bullet lines: the machine, the versions, the commit measured."""
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    versions = ", ".join(
        f"{name} {_version(name)}" for name in ("torch", "numpy", "matplotlib", "weasyprint")
    )
    commit = _git(repo, "rev-parse", "--short=12", "HEAD") or "unknown"
    if _git(repo, "status", "--porcelain", "--", "labreport", "templates", "pyproject.toml"):
        commit += " with uncommitted changes to labreport/"
    where = f"labreport from {source}" if source else f"commit {commit}"
    return [
        f"machine: {cores} cores ({usable} usable), {_cpu_model()}, "
        f"{platform.system()} {platform.release()}",
        f"versions: Python {platform.python_version()}, {versions}, labreport {labreport_version}",
        f"measured: {where}",
    ]


# -- RESULTS.md ----------------------------------------------------------------------------------


def kept_notes(path: Path) -> str:
    """The maintainer's ``## Notes`` section of an earlier RESULTS.md, kept across reruns."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return _DEFAULT_NOTES
    found = re.search(rf"^{re.escape(NOTES_HEADING)}\s*$", text, re.MULTILINE)
    return text[found.start() :] if found else _DEFAULT_NOTES


@dataclass(frozen=True)
class Report:
    command: str
    repetitions: int
    environment: list[str]
    method: list[str]
    table: str
    missed: str
    failures: str


def render_results(report: Report, notes: str) -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    quick = (
        "\n**One repetition (`--quick`): a check of the script, not a result.**\n"
        if report.repetitions == 1
        else ""
    )
    parts = [
        "# Benchmark results (issue 7)\n",
        f"Written by `{report.command}` on {now}: medians of {report.repetitions} "
        f"repetition(s), rows interleaved within each.\n{quick}",
        "".join(f"- {item}\n" for item in report.environment),
        "## Table\n",
        report.table,
        "How:\n",
        "".join(f"- {item}\n" for item in report.method),
        "## Missed targets\n",
        report.missed,
    ]
    if report.failures:
        parts += ["## Failed runs\n", report.failures]
    return "\n".join(parts) + "\n" + notes.rstrip() + "\n"
