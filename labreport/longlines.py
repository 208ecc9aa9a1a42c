"""Long lines of pre-formatted text cut before layout, so that a PDF is laid out in seconds.

A record shows text as it was printed or written (``<pre>``: program output, shown files, code
listings, code blocks in the prose), wrapped by the page at any character. WeasyPrint's time for
that grows with the square of a line that has no space to break at. Measured (WeasyPrint 70,
2-core machine): one line of 20,000 characters takes 2.5 s to lay out and one of 100,000 about a
minute; the same 100,000 characters in lines of 1,000 take under 3 s, as many short lines do.

So no such line is longer than :data:`MAX_LINE` characters: a longer one is cut every
``MAX_LINE`` characters and each piece after the first starts a new line with :data:`CONTINUED`,
so that a reader sees that the line goes on. Nothing is left out: how much output there is at
all is bounded already (``output_limit:``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

MAX_LINE = 1_000
CONTINUED = "↪ "  # the mark of a line cut by labreport (editors show wrapped lines so)

T = TypeVar("T")


def cut_long_lines(text: str) -> str:
    """``text`` with every line longer than :data:`MAX_LINE` cut, each cut marked."""
    lines = text.split("\n")
    if all(len(line) <= MAX_LINE for line in lines):
        return text
    return "\n".join(("\n" + CONTINUED).join(_pieces(line)) for line in lines)


def _pieces(line: str) -> list[str]:
    return [line[i : i + MAX_LINE] for i in range(0, len(line), MAX_LINE)] or [line]


def cut_long_tokens(tokens: Iterable[tuple[T, str]], mark: T) -> Iterator[tuple[T, str]]:
    """A highlighter's ``(type, text)`` tokens, with lines cut as :func:`cut_long_lines` cuts
    them; the cut is a newline and ``CONTINUED`` of type ``mark``, so a token (a long string
    literal) keeps its colour on both sides of the cut."""
    column = 0
    for kind, value in tokens:
        for i, part in enumerate(value.split("\n")):
            if i:
                yield kind, "\n"
                column = 0
            while column + len(part) > MAX_LINE:
                room = MAX_LINE - column
                if room:
                    yield kind, part[:room]
                yield kind, "\n"
                yield mark, CONTINUED
                part, column = part[room:], 0
            if part:
                yield kind, part
                column += len(part)
