"""A number and its unit kept on one line: ``75 %`` never breaks between ``75`` and ``%``.

Applied to the HTML of rendered prose (and so of check claims and ``shows:``): the space
between a number and a unit that follows it becomes a no-break space. Only text between
tags is touched, never a tag, an attribute or code (``1 % 2`` is an operator there).
"""

from __future__ import annotations

import re

NO_BREAK_SPACE = "\u00a0"
#: Units kept with their number: percent and per mille, degrees, and the units of time, size
#: and count that lab records print.
UNITS = (
    "%", "‰", "°", "ms", "µs", "us", "ns", "s", "min", "h", "KiB", "MiB", "GiB", "TiB",
    "kB", "KB", "MB", "GB", "TB", "B", "px", "pt", "mm", "cm", "epochs", "epoch", "steps",
)  # fmt: skip
_UNIT = "|".join(re.escape(unit) for unit in sorted(UNITS, key=len, reverse=True))
# A digit, then spaces (or the entity &nbsp;), then a unit not followed by a letter or digit.
_NUMBER_UNIT = re.compile(rf"(?<=\d)(?: |&#32;)+(?=(?:{_UNIT})(?![\w]))")
_TAG = re.compile(r"(<[^>]*>)")
_CODE = re.compile(r"<(/?)(?:code|pre)\b", re.IGNORECASE)


def keep_units(html: str) -> str:
    """``html`` with a no-break space between each number and the unit after it."""
    if not any(char.isdigit() for char in html):
        return html
    parts = _TAG.split(html)
    code = 0  # how many <code> or <pre> the text is inside
    for i, part in enumerate(parts):
        if i % 2:  # the odd parts are tags, the even ones text
            name = _CODE.match(part)
            if name:
                code = max(0, code + (-1 if name.group(1) else 1))
        elif not code:
            parts[i] = _NUMBER_UNIT.sub(NO_BREAK_SPACE, part)
    return "".join(parts)
