"""The capture stage: what a program's run left behind, read back.

A build goes spec → run → capture → render → write. :mod:`labreport.runner` runs the program;
this module reads what it left in the run's results folder -- the values it recorded
(``RECORDS_FILE``), the harness's exit report (``EXIT_REPORT``), its figures (``FIGURE_INDEX``
and one SVG each) -- and the ``show_files`` in its working folder.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from labreport.embed import MAX_EMBED_BYTES
from labreport.protocol import EXIT_REPORT, FIGURE_INDEX, RECORDS_FILE
from labreport.results import CapturedFigure, CapturedFile

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


def read_figures(results: Path) -> tuple[tuple[CapturedFigure, ...], int]:
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


def read_records(results: Path) -> dict[str, Any]:
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


def read_exit_report(results: Path) -> dict[str, Any]:
    """The harness's exit report; {} when the program died before the harness wrote it."""
    try:
        report = valid_text(json.loads((results / EXIT_REPORT).read_text(encoding="utf-8")))
    except (OSError, ValueError, RecursionError):
        return {}  # no report: the program died before the harness could write it
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


_TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".json", ".md", ".log")


def read_files(work: Path, names: Sequence[str]) -> tuple[CapturedFile, ...]:
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
