"""Bytes a program wrote to its terminal → text a record can show.

Student programs print progress bars, colours (ANSI escapes), stray bytes that are not UTF-8 and
even NULs. A record shows what a reader would have seen on the terminal at the end: invalid bytes
decoded with replacement, colours and other escape sequences removed, other control characters
dropped, and every redrawn line in its final state. Lines are redrawn three ways:

- a carriage return (``\\r``, tqdm and most hand-written bars) goes back to the line's start;
- backspaces (``\\b``, Keras's progress bar) go back one column each;
- cursor movement (``ESC[nA`` up, ``ESC[nB`` down, ``ESC[nC``/``ESC[nD`` right/left,
  ``ESC[nE``/``ESC[nF`` next/previous line, ``ESC[nG`` to a column) and erasing (``ESC[K`` the
  rest of the line, ``ESC[2K`` all of it, ``ESC[J`` everything below) redraw earlier lines, as
  nested tqdm bars and multi-line dashboards do.

Text written over text replaces it column by column, as on a terminal. Clearing the whole screen
(``ESC[2J``) and absolute positions (``ESC[H``) are ignored: there is no screen here, and a
record keeps what came before.

Every step costs at most the length of what it writes plus a constant, so the worst output a
program can send costs time and memory in proportion to its length: a gap the cursor leaves
beyond a line's end is at most ``_MAX_GAP`` spaces, and erasing the start of a line
(``ESC[1K``), which would cost the line's length each time, is ignored.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r"\x1b\[([0-?]*)[ -/]*([@-~])"  # CSI: parameters, then the command letter
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC (window titles, hyperlinks)
    r"|\x1b[@-Z\\-_]"  # other two-byte escapes
    r"|(\x08+)|(\r)|(\n)"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_MAX_GAP = 80  # spaces filled in where the cursor moved past a line's end, at most


def _count(parameters: str) -> int:
    """The first numeric parameter of a CSI sequence, at least 1 (as for cursor movement)."""
    first = parameters.split(";", 1)[0]
    if not first.isdigit() or len(first) > 9:  # no number, or none a terminal would take
        return 1
    return max(int(first), 1)


class _Screen:
    """Lines of characters and a cursor; each write costs the length of what it writes."""

    def __init__(self) -> None:
        self.lines: list[list[str]] = [[]]
        self.row = 0
        self.col = 0

    def write(self, text: str) -> None:
        line = self.lines[self.row]
        if self.col > len(line):
            line.extend(" " * min(self.col - len(line), _MAX_GAP))
            self.col = len(line)
        end = self.col + len(text)
        line[self.col : end] = text
        self.col = end

    def newline(self) -> None:
        self.row += 1
        self.col = 0
        if self.row == len(self.lines):
            self.lines.append([])

    def move(self, rows: int) -> None:
        self.row = min(max(self.row + rows, 0), len(self.lines) - 1)

    def control(self, parameters: str, command: str) -> None:
        n = _count(parameters)
        if command == "A":
            self.move(-n)
        elif command == "B":
            self.move(n)
        elif command == "C":
            self.col += n
        elif command == "D":
            self.col = max(self.col - n, 0)
        elif command in "EF":
            self.move(n if command == "E" else -n)
            self.col = 0
        elif command == "G":
            self.col = n - 1
        elif command == "K" and parameters in ("", "0"):
            del self.lines[self.row][self.col :]
        elif command == "K" and parameters == "2":
            self.lines[self.row].clear()
        elif command == "J" and parameters in ("", "0"):
            del self.lines[self.row][self.col :]
            del self.lines[self.row + 1 :]

    def text(self) -> str:
        return "\n".join("".join(line) for line in self.lines)


def terminal_text(raw: bytes) -> str:
    """Decode and clean captured output; the result holds only printable text, tabs and newlines."""
    text = raw.decode("utf-8", errors="replace")
    screen = _Screen()
    start = 0
    for match in _TOKEN.finditer(text):
        if match.start() > start:
            screen.write(_CONTROL.sub("", text[start : match.start()]))
        start = match.end()
        parameters, command, backspaces, carriage_return, newline = match.groups()
        if command is not None:
            screen.control(parameters, command)
        elif backspaces is not None:
            screen.col = max(screen.col - len(backspaces), 0)
        elif carriage_return is not None:
            screen.col = 0
        elif newline is not None:
            screen.newline()
    if start < len(text):
        screen.write(_CONTROL.sub("", text[start:]))
    return screen.text()


# What must not reach a terminal raw from a program or a spec: C0 and C1 control codes (ESC
# starts window-title, clipboard and screen-clearing sequences; a newline fakes a line of
# labreport's own), DEL, the bidirectional controls that reorder what is shown (Trojan Source),
# and the Unicode line and paragraph separators.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def terminal_line(text: str) -> str:
    """``text`` (from a program or a spec) as one line that is safe to print on a terminal:
    every control character, newlines included, is shown as its escape (``\\x1b``, ``\\n``,
    ``\\u202e``), so it can neither drive the terminal nor fake a line of labreport's own.
    Everything labreport prints that came from a program or a spec passes through here."""
    return _UNSAFE.sub(_escaped, text)


def terminal_lines(text: str) -> list[str]:
    """``text`` that is several lines by design (an error with several problems, a traceback),
    each line made safe by :func:`terminal_line`."""
    return [terminal_line(line) for line in text.split("\n")]
