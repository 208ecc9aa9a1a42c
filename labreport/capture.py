"""The capture stage: what a program's run left behind, read back within the run's limits.

A build goes spec → run → capture → render → write. :mod:`labreport.runner` runs the program;
this module reads what it left in the run's results folder -- the values it recorded
(``RECORDS_FILE``), the harness's exit report (``EXIT_REPORT``), its figures (``FIGURE_INDEX``
and one SVG each) -- and the ``show_files`` in its working folder.

Those files are the program's to write: their folder is named in its environment, so a hostile
program can write any of them itself, of any size, or put a FIFO, a device or a symlink in their
place. So every bound holds here, on the reading side. A file is read only if it is a regular
file, its size is looked at first, it is read line by line or in chunks, and no more than about
the run's output limit (a figure: ``FIGURE_MAX_BYTES``) is held in memory at once: a 150 MB
recorded value costs labreport 64 KiB at a time, not 600 MiB, and a cache entry of its size. What
is left out is said in one line at the end of the output, like ``[output truncated: ...]``.
"""

from __future__ import annotations

import base64
import codecs
import json
import mimetypes
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from labreport.embed import MAX_EMBED_BYTES
from labreport.process import format_bytes
from labreport.protocol import EXIT_REPORT, FIGURE_INDEX, FIGURE_MAX_BYTES, RECORDS_FILE
from labreport.results import DEFAULT_OUTPUT_LIMIT, CapturedFigure, CapturedFile, RunLimits

_CHUNK = 64 * 1024  # bytes read at a time from a file that may be huge
# The exit report holds two texts that may be long (the error and the traceback, which repeats
# it), each cut to the output limit, and a few short fields: more than this many limits' worth
# once cut, and it was not the harness that wrote it.
_REPORT_LIMITS = 4
_INDEX_LINES = 100_000  # lines of FIGURE_INDEX read at most: ~100,000 figures shown or dropped
_NAMED = 5  # dropped values a note names; the others are counted
_NAME_CHARS = 40  # characters of a name or title that a note shows


@dataclass(frozen=True)
class Captured:
    """What a run left in its results folder, within its limits."""

    report: dict[str, Any] = field(default_factory=dict)  # the harness's exit report, or {}
    records: dict[str, Any] = field(default_factory=dict)
    figures: tuple[CapturedFigure, ...] = ()
    figures_dropped: int = 0  # figures over the figure limit, only counted
    environment: dict[str, str] = field(default_factory=dict)
    notes: str = ""  # for the end of the output: what was left out, one line each


def read_results(results: Path, limits: RunLimits) -> Captured:
    """Everything the run left in ``results``, each file read within ``limits``."""
    notes: list[str] = []
    report = read_exit_report(results, limits.output_limit, notes)
    records = read_records(results, limits.output_limit, notes)
    figures, dropped = read_figures(results, limits, notes)
    return Captured(
        report=report,
        records=records,
        figures=figures,
        figures_dropped=dropped,
        environment=environment(report),
        notes="".join(f"\n{note}\n" for note in notes),
    )


# ------------------------------------------------------------------------------ text and files

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


def _open_regular(path: Path) -> BinaryIO | None:
    """``path`` opened for reading if it is a regular file; None if it is missing, a symlink (the
    program's files are never links: one may lead anywhere), a FIFO (reading it would wait for a
    writer forever) or a device (``/dev/zero`` never ends)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")


def _size(fh: BinaryIO) -> int:
    return os.fstat(fh.fileno()).st_size


def _read_at_most(fh: BinaryIO, most: int) -> bytes | None:
    """All of ``fh``, or None when it holds more than ``most`` bytes (then none is read)."""
    if _size(fh) > most:
        return None
    data = fh.read(most + 1)
    return None if len(data) > most else data


def _lines(fh: BinaryIO, longest: int) -> Iterator[tuple[bytes, int]]:
    """Each line of ``fh`` without its newline, with its length. A line longer than ``longest``
    bytes comes as its first ``longest + 1`` bytes, the rest skipped a chunk at a time. Reading
    stops at the size the file had when opened, so a file that keeps growing is not followed."""
    left = _size(fh)
    while left > 0 and (line := fh.readline(longest + 1)):
        left -= len(line)
        size = len(line)
        if line.endswith(b"\n"):
            yield line[:-1], size - 1
            continue
        while left > 0 and (rest := fh.readline(_CHUNK)):
            left -= len(rest)
            size += len(rest)
            if rest.endswith(b"\n"):
                size -= 1
                break
        yield line, size


def _quoted(text: str) -> str:
    """A name or title as a note shows it: quoted, escaped (a note is not program output, so
    nothing else makes its control characters harmless), and short."""
    short = text if len(text) <= _NAME_CHARS else text[:_NAME_CHARS] + "…"
    return repr(short)


# ------------------------------------------------------------------------------ recorded values

_NAME = re.compile(rb'\s*\{\s*"name"\s*:\s*("(?:[^"\\]|\\.){0,200}")')


def _name_of(line: bytes) -> str | None:
    """The name a record's line starts with, as ``record()`` writes it; read from the start of a
    line too long to parse, so that the note can say which value was dropped."""
    match = _NAME.match(line)
    if match is None:
        return None
    try:
        return str(valid_text(json.loads(match.group(1).decode("utf-8", errors="replace"))))
    except ValueError:
        return None


class _Records:
    """The recorded values kept so far, within ``limit`` bytes of JSON lines in all."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.values: dict[str, Any] = {}
        self.sizes: dict[str, int] = {}  # the line each kept value came from, in bytes
        self.total = 0
        self.dropped = 0
        self.named: dict[str, int] = {}  # the first few names dropped: the size of their line

    def add(self, line: bytes, size: int) -> None:
        """Keep the value of ``line``, which replaces any earlier value of its name; a line cut
        short by a kill, or written by hand, is skipped."""
        if size > self.limit:
            name = _name_of(line)
            if name is not None:
                self.drop(name, size)
            return
        try:
            entry = json.loads(line.decode("utf-8", errors="replace"))
            name, value = valid_text(str(entry["name"])), valid_text(entry["value"])
        except (ValueError, KeyError, TypeError, RecursionError):
            return
        total = self.total - self.sizes.get(name, 0) + size
        if total > self.limit:
            self.drop(name, size)
            return
        self.values[name], self.sizes[name], self.total = value, size, total

    def drop(self, name: str, size: int) -> None:
        """Leave the value out, and any earlier value of its name: the record would show a
        number the program had replaced."""
        self.values.pop(name, None)
        self.total -= self.sizes.pop(name, 0)
        self.dropped += 1
        if name in self.named or len(self.named) < _NAMED:
            self.named[name] = size

    def note(self) -> str:
        named = ", ".join(
            f"{_quoted(name)} ({format_bytes(size)})" for name, size in self.named.items()
        )
        more = self.dropped - len(self.named)
        if more > 0:
            named += f" and {more} more"
        return (
            f"[records truncated: {self.dropped} recorded value(s) not kept: {named} "
            f"(limit {format_bytes(self.limit)} in all)]"
        )


def read_records(
    results: Path, limit: int = DEFAULT_OUTPUT_LIMIT, notes: list[str] | None = None
) -> dict[str, Any]:
    """The values the program recorded; a later value wins a repeated name.

    The values kept take at most ``limit`` bytes of JSON lines in all, as the output does: a
    value whose line is longer, or that would take the total past it, is dropped and ``notes``
    gets a line naming it (the prose then says no program recorded it, and the output says why).
    """
    fh = _open_regular(results / RECORDS_FILE)
    if fh is None:
        return {}
    records = _Records(limit)
    with fh:
        for line, size in _lines(fh, limit):
            records.add(line, size)
    if records.dropped and notes is not None:
        notes.append(records.note())
    return records.values


# ------------------------------------------------------------------------------ the exit report

# Inside a JSON string: characters and whole escapes ("\n", "\u00e9"), up to a quote or a
# backslash that starts an escape not all there yet.
_STRING_RUN = re.compile(r'(?:[^"\\]+|\\u[0-9a-fA-F]{4}|\\[^u])*')


def _run_end(text: str, start: int, stop: int) -> int:
    """Where the run of whole string characters and escapes from ``start`` ends, by ``stop``."""
    match = _STRING_RUN.match(text, start, stop)
    return match.end() if match else start


class _Shortener:
    """Streams a JSON text, keeping at most ``longest`` characters of each string; a string cut
    short ends with a marker that says how much was left out. Only the shortened text is held."""

    def __init__(self, longest: int) -> None:
        self.longest = longest
        self.parts: list[str] = []
        self.size = 0  # of the shortened text
        self.in_string = False
        self.kept = self.skipped = 0  # of the current string
        self.pending = ""  # an escape cut by the end of a chunk

    def _keep(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)

    def feed(self, chunk: str) -> None:
        text, self.pending = self.pending + chunk, ""
        at = 0
        while at < len(text):
            if not self.in_string:
                quote = text.find('"', at)
                end = len(text) if quote < 0 else quote + 1
                self._keep(text[at:end])
                self.in_string, self.kept, self.skipped, at = quote >= 0, 0, 0, end
            elif text[at] == '"':
                if self.skipped:
                    limit = format_bytes(self.longest)
                    self._keep(
                        f"\\n[truncated: {self.skipped} more bytes not shown (limit {limit})]"
                    )
                self._keep('"')
                self.in_string, at = False, at + 1
            else:
                at = self._string_run(text, at)
                if at < 0:  # an escape not all there yet: wait for the next chunk
                    return

    def _string_run(self, text: str, at: int) -> int:
        """Where the run of string characters at ``at`` ends, having kept what fits; -1 when
        ``text`` ends inside an escape (kept in ``pending``)."""
        end = _run_end(text, at, len(text))
        if end == at:  # a backslash whose escape is cut by the chunk's end, or invalid
            if len(text) - at < 6:
                self.pending = text[at:]
                return -1
            end = at + 1  # not JSON: json.loads will say so
        room = max(0, self.longest - self.kept)
        fits = _run_end(text, at, min(end, at + room))
        self._keep(text[at:fits])
        self.kept += fits - at
        self.skipped += end - fits
        if fits < end:
            self.kept = self.longest  # cut: the rest of this string is only counted
        return end

    def text(self) -> str:
        return "".join(self.parts) + self.pending


def _shortened_json(fh: BinaryIO, longest: int, budget: int) -> str | None:
    """The JSON text of ``fh`` with each string cut to ``longest`` characters; None when even
    so it is over ``budget`` characters (then it is dropped as soon as it passes it)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    shortener = _Shortener(longest)
    left = _size(fh)
    while left > 0 and (chunk := fh.read(min(_CHUNK, left))):
        left -= len(chunk)
        shortener.feed(decoder.decode(chunk))
        if shortener.size > budget:
            return None
    shortener.feed(decoder.decode(b"", final=True))
    return shortener.text()


def read_exit_report(
    results: Path, limit: int = DEFAULT_OUTPUT_LIMIT, notes: list[str] | None = None
) -> dict[str, Any]:
    """The harness's exit report, its error message and traceback cut to ``limit`` characters
    each with a marker; {} when there is none (the program died before the harness wrote it),
    and {} with a note when it is too large even so (the program wrote it itself)."""
    fh = _open_regular(results / EXIT_REPORT)
    if fh is None:
        return {}
    with fh:
        text = _shortened_json(fh, limit, _REPORT_LIMITS * limit)
    if text is None:
        if notes is not None:
            notes.append(
                f"[exit report not read: over {format_bytes(_REPORT_LIMITS * limit)} "
                f"with each text cut to {format_bytes(limit)}]"
            )
        return {}
    try:
        report = valid_text(json.loads(text))
    except (ValueError, RecursionError):
        return {}
    if not isinstance(report, dict):
        return {}
    if not isinstance(report.get("traceback"), str | None):
        del report["traceback"]  # the program wrote over the harness's report
    return report


def environment(report: dict[str, Any]) -> dict[str, str]:
    """What the program computed with, as the exit report says."""
    found = report.get("environment")
    if not isinstance(found, dict):
        return {}
    return {str(k): str(v) for k, v in found.items()}


# ------------------------------------------------------------------------------ figures


def _figure_index(results: Path, limits: RunLimits) -> tuple[dict[int, dict[str, Any]], int]:
    """The latest index entry of each figure captured (at most the figure limit: the program
    may have written the index itself), and how many more figures were dropped."""
    latest: dict[int, dict[str, Any]] = {}
    dropped: set[int] = set()
    fh = _open_regular(results / FIGURE_INDEX)
    if fh is None:
        return latest, 0
    with fh:
        for count, (line, size) in enumerate(_lines(fh, limits.output_limit)):
            if count >= _INDEX_LINES:
                break
            if size > limits.output_limit:
                continue  # not the child's: its lines are a number, a file name and a title
            try:
                entry = json.loads(line.decode("utf-8", errors="replace"))
                number = int(entry["number"])
            except (ValueError, KeyError, TypeError, RecursionError):
                continue  # a line cut short by a kill
            full = len(latest) >= limits.figure_limit and number not in latest
            if entry.get("dropped") or full:
                dropped.add(number)
            else:
                latest[number] = entry
    return latest, len(dropped - set(latest))


def _read_figure(
    results: Path, number: int, entry: dict[str, Any], notes: list[str] | None
) -> CapturedFigure | None:
    """The figure's SVG, if it is a file of the results folder and not over the byte budget."""
    name = str(entry.get("file"))
    title = valid_text(str(entry.get("title", "")))
    if not name or name.startswith(".") or any(sep and sep in name for sep in (os.sep, os.altsep)):
        return None  # not a file the child wrote: it names no path
    fh = _open_regular(results / name)
    if fh is None:
        return None
    with fh:
        size = _size(fh)
        data = _read_at_most(fh, FIGURE_MAX_BYTES)
    if data is None:
        if notes is not None:
            shown = f" ({_quoted(title)})" if title else ""
            notes.append(
                f"[figures truncated: figure {number}{shown} not shown: its SVG is "
                f"{format_bytes(size)} (limit {format_bytes(FIGURE_MAX_BYTES)})]"
            )
        return None
    return CapturedFigure(number, data.decode("utf-8", errors="replace"), title)


def read_figures(
    results: Path, limits: RunLimits, notes: list[str] | None = None
) -> tuple[tuple[CapturedFigure, ...], int]:
    """The captured figures in creation order, and how many were dropped over the limit; a
    figure whose file is over ``FIGURE_MAX_BYTES`` is not read, and ``notes`` says so."""
    latest, dropped = _figure_index(results, limits)
    figures = []
    for number in sorted(latest):
        figure = _read_figure(results, number, latest[number], notes)
        if figure is not None:
            figures.append(figure)
    if dropped and notes is not None:
        notes.append(
            f"[figures truncated: {dropped} more figure(s) not captured "
            f"(limit {limits.figure_limit})]"
        )
    return tuple(figures), dropped


# ------------------------------------------------------------------------------ show_files

_TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".json", ".md", ".log")


def read_files(work: Path, names: Sequence[str]) -> tuple[CapturedFile, ...]:
    """The ``show_files`` the program left in ``work``, as the record shows them; a file that
    is missing, outside ``work`` or too large to carry is left out (the build says so)."""
    found = []
    root = work.resolve()
    for name in names:
        path = (root / name).resolve()
        fh = _open_regular(path) if path.is_relative_to(root) else None
        if fh is None:
            continue
        with fh:
            data = _read_at_most(fh, MAX_EMBED_BYTES)
        if data is None:
            continue
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix.lower() in _TEXT_SUFFIXES or mime.startswith("text/"):
            text = data.decode("utf-8", errors="replace")
            found.append(CapturedFile(name, mime, text))
        else:
            found.append(CapturedFile(name, mime, base64.b64encode(data).decode(), binary=True))
    return tuple(found)
