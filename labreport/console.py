"""Bytes a program wrote to its terminal → text a record can show.

Student programs print progress bars (``\\r``), colours (ANSI escapes), stray bytes that are not
UTF-8 and even NULs. A record shows what a reader would have seen on the terminal: invalid bytes
decoded with replacement, escape sequences removed, each ``\\r``-rewritten line reduced to its
final state, other control characters dropped.
"""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _overwrite(line: str) -> str:
    """Apply carriage returns the way a terminal does: later text overwrites earlier text.

    Built from the last part backwards, so each character is copied once: a long line followed
    by a hundred thousand ``\\r`` updates costs no more than reading it.
    """
    if "\r" not in line:
        return line
    pieces: list[str] = []
    shown = 0
    for part in reversed(line.split("\r")):
        if len(part) > shown:  # the part still visible beyond what later parts covered
            pieces.append(part[shown:])
            shown = len(part)
    return "".join(pieces)


def terminal_text(raw: bytes) -> str:
    """Decode and clean captured output; the result holds only printable text, tabs and newlines."""
    text = raw.decode("utf-8", errors="replace")
    text = _ANSI.sub("", text)
    text = text.replace("\r\n", "\n")
    text = "\n".join(_overwrite(line) for line in text.split("\n"))
    return _CONTROL.sub("", text)
