"""A program's skeleton for the handout: the parts a student writes, cut out of the solution.

The teacher keeps one program, the solution, which the record runs. The lines a student is to
write are marked in it, as nbgrader's ``### BEGIN SOLUTION`` marks them in a notebook::

    def forward(self, x):
        # handout: hide compute the hidden states
        ...the solution...
        # handout: end

The skeleton is the program with each marked region (markers included) replaced by one line at
the marker's indentation, ``...  # compute the hidden states`` (``...  # your code here`` when
the marker says nothing): an ellipsis keeps the skeleton valid Python whatever block the region
was the body of. The record runs and lists the program as written, markers and all.

Knows nothing of the spec or of rendering, so that the spec's checks and the handout share it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from labreport.listing import source_lines

HIDE = "# handout: hide"  # starts a region the handout leaves out
END = "# handout: end"  # ends it
DEFAULT_PLACEHOLDER = "your code here"
_HIDE = re.compile(r"^(?P<indent>\s*)#\s*handout:\s*hide\b[ \t]*(?P<text>.*?)\s*$")
_END = re.compile(r"^\s*#\s*handout:\s*end\b\s*$")
_ANY = re.compile(r"^\s*#\s*handout\s*:")
_FIX = f"mark each part to leave out with a line '{HIDE}' before it and '{END}' after it"


class SkeletonError(ValueError):
    """Markers that do not pair up: ``line`` (1-based) is where, ``fix`` what would."""

    def __init__(self, what: str, line: int, fix: str = _FIX) -> None:
        super().__init__(what)
        self.what = what
        self.line = line
        self.fix = fix


@dataclass(frozen=True)
class Region:
    """Lines ``first``..``last`` (1-based, markers included) replaced by one placeholder."""

    first: int
    last: int
    indent: str
    text: str

    @property
    def placeholder(self) -> str:
        return f"{self.indent}...  # {self.text or DEFAULT_PLACEHOLDER}"


def hidden_regions(text: str) -> list[Region]:
    """The marked regions of a program, in order; SkeletonError where the markers do not pair
    up (a region left open, an end without a start, a region inside another, a misspelt
    marker)."""
    regions: list[Region] = []
    open_at: tuple[int, str, str] | None = None
    for number, line in enumerate(source_lines(text), start=1):
        hide, end = _HIDE.match(line), _END.match(line)
        if hide:
            if open_at is not None:
                raise SkeletonError(
                    f"'{HIDE}' inside the region opened at line {open_at[0]}", number,
                    f"close that region with '{END}' first: regions do not nest",
                )  # fmt: skip
            open_at = (number, hide.group("indent"), hide.group("text"))
        elif end:
            if open_at is None:
                raise SkeletonError(f"'{END}' without a '{HIDE}' before it", number)
            regions.append(Region(open_at[0], number, open_at[1], open_at[2]))
            open_at = None
        elif _ANY.match(line):
            raise SkeletonError(
                f"{line.strip()!r} is not a handout marker", number,
                f"write '{HIDE} [what to write]' or '{END}'",
            )  # fmt: skip
    if open_at is not None:
        raise SkeletonError(f"the region opened at line {open_at[0]} is never closed", open_at[0])
    return regions


def skeleton_source(text: str) -> str:
    """The program with each marked region replaced by its placeholder line."""
    lines = source_lines(text)
    out: list[str] = []
    position = 1
    for region in hidden_regions(text):
        out += lines[position - 1 : region.first - 1]
        out.append(region.placeholder)
        position = region.last + 1
    out += lines[position - 1 :]
    return "\n".join(out) + "\n"
