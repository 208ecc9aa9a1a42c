"""A program listing typeset like a book's: which lines show, and how a long one wraps.

Knows nothing of Pygments or of the spec: it takes a program's lines as ``(css class, text)``
tokens (a class of ``""`` for text the style leaves plain) and gives HTML.

* **Which lines** (the spec's ``show:``): every line, line ranges (``"1-5, 20-40"``) or a region
  marked in the source by ``# region NAME`` … ``# endregion`` (the VS Code / PyCharm
  convention; the marker lines are not printed). A gap is one marker line,
  ``⋮ (lines 6–19 not shown)``. Line numbers, when shown, are the source's.
* **How a long line wraps**: before layout, at :attr:`ListingOptions.columns` characters (the
  listing's width on the page, a theme setting), at a boundary between tokens, never inside a
  name, a number or a string unless that one token is wider than the line. The rest goes on a
  continuation line that starts with :data:`MARK` at the line's own indentation, so its text
  hangs two characters further in. WeasyPrint cannot mark a line it wraps itself, so it never
  has to: every laid-out line is at most ``columns`` long (which also bounds its layout time,
  see ``longlines.py``).
* **Pages**: each line is a block of its own; the first and the last :data:`KEEP` lines are
  kept together, so a page break never leaves fewer than that many lines of a listing alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

from labreport.longlines import MAX_LINE

MARK = "↪"  # starts a continuation line (editors mark wrapped lines so)
KEEP = 5  # lines at either end of a listing that a page break cannot separate
ELIDED = "⋮ (lines {first}–{last} not shown)"
DEFAULT_COLUMNS = 90
MIN_COLUMNS = 20
MAX_COLUMNS = MAX_LINE  # no laid-out line is longer (see longlines.py)

Token = tuple[str, str]  # (css class, text); "" is plain text
# What a break may follow without looking odd (a space, an opening bracket, a comma...).
_GOOD_BREAK_AFTER = frozenset(" \t,([{=+-*/%<>|&:;")
_REGION = re.compile(r"^\s*#\s*region\b[ \t]*(?P<name>.*?)\s*$")
_ENDREGION = re.compile(r"^\s*#\s*endregion\b")


class ShowError(ValueError):
    """A ``show:`` value that does not fit the program; ``fix`` says what would."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix


@dataclass(frozen=True)
class ListingOptions:
    """The theme's settings for listings (``theme.toml``'s ``[listing]`` table)."""

    columns: int = DEFAULT_COLUMNS
    line_numbers: bool = False


# ----------------------------------------------------------------------------- which lines


def source_lines(text: str) -> list[str]:
    """The lines of a program as Python (and Pygments) count them: ``\\n``, ``\\r\\n`` or ``\\r``
    end one; a last newline starts no line."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return lines[:-1] if len(lines) > 1 and not lines[-1] else lines


def parse_ranges(text: str) -> list[tuple[int, int]]:
    """``"1-5, 20-40, 52"`` → ``[(1, 5), (20, 40), (52, 52)]``; ValueError if malformed."""
    ranges = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:[-–]\s*(\d+)\s*)?", part)
        if not match:
            raise ValueError(f"{part.strip()!r} is not a line or a range of lines")
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if first < 1 or last < first:
            raise ValueError(
                f"{part.strip()!r}: a range goes from line 1 or later up to a later line"
            )
        ranges.append((first, last))
    return ranges


def regions(lines: Sequence[str]) -> dict[str, tuple[int, int]]:
    """The marked regions of a program: name → (first, last) line of the code between its
    markers, 1-based (first > last for an empty region). Unclosed regions end at the end."""
    found: dict[str, tuple[int, int]] = {}
    open_: list[tuple[str, int]] = []
    for number, line in enumerate(lines, 1):
        if match := _REGION.match(line):
            open_.append((match.group("name"), number + 1))
        elif _ENDREGION.match(line) and open_:
            name, first = open_.pop()
            found.setdefault(name, (first, number - 1))
    for name, first in open_:
        found.setdefault(name, (first, len(lines)))
    return found


def is_marker(line: str) -> bool:
    return bool(_REGION.match(line) or _ENDREGION.match(line))


def shown_lines(lines: Sequence[str], ranges: str | None, region: str | None) -> list[int]:
    """The 1-based numbers of the lines to print, in order; ShowError if ``ranges`` or
    ``region`` does not fit ``lines``."""
    total = len(lines)
    if ranges is not None:
        try:
            parsed = parse_ranges(ranges)
        except ValueError as exc:
            raise ShowError(
                str(exc), 'write the lines as ranges, e.g. lines: "1-5, 20-40"'
            ) from exc
        for _, last in parsed:
            if last > total:
                raise ShowError(
                    f"line {last} is past the end: the program has {total} lines",
                    f"give lines between 1 and {total}",
                )
        return sorted({n for first, last in parsed for n in range(first, last + 1)})
    if region is not None:
        known = regions(lines)
        if region not in known:
            names = ", ".join(sorted(known)) or "none"
            raise ShowError(
                f"no region {region!r} in the program (regions: {names})",
                f"mark it with '# region {region}' and '# endregion' lines around the code",
            )
        first, last = known[region]
        return [n for n in range(first, last + 1) if not is_marker(lines[n - 1])]
    return list(range(1, total + 1))


# ----------------------------------------------------------------------------- wrapping


@dataclass(frozen=True)
class _Piece:
    """A token, and whether a line may break inside it (at its spaces)."""

    css: str
    text: str
    breakable: bool


def _indent(tokens: Sequence[Token]) -> int:
    text = "".join(t for _, t in tokens)
    return len(text) - len(text.lstrip(" \t"))


def wrap_line(tokens: Sequence[Token], columns: int) -> list[list[Token]]:
    """One source line as the lines it is printed on: the first as is, each continuation
    prefixed by the line's indentation and :data:`MARK` plus a space. Breaks fall between
    tokens (or at the spaces of a comment or of whitespace); a token wider than the room on a
    line is cut at its last space that fits, else at the width."""
    width = sum(len(t) for _, t in tokens)
    if width <= columns:
        return [list(tokens)]
    indent = min(_indent(tokens), columns // 2)
    hang = indent + len(MARK) + 1
    room = columns
    out: list[list[Token]] = []
    line: list[Token] = []
    used = 0
    fresh = True  # nothing of the source on this printed line yet
    # a token of thousands of characters (a data literal) in pieces, so cutting it is linear
    pending = [
        _Piece(c, t[i : i + MAX_COLUMNS], _breakable(c, t))
        for c, t in tokens
        for i in range(0, len(t), MAX_COLUMNS)
    ]
    pending.reverse()
    while pending:
        piece = pending.pop()
        if used + len(piece.text) <= room:
            line.append((piece.css, piece.text))
            used += len(piece.text)
            fresh = fresh and not piece.text.strip()
            continue
        space = room - used
        # Inside a string literal (an f-string's fields included) the line breaks only where
        # the whole literal cannot fit on a line of its own: then inside its text, at a space.
        start = _string_start(line, piece.css)
        alone = start is not None and not "".join(t for c, t in line[:start] if c != "cont").strip()
        cut = _cut_at(piece, space, fresh or alone)
        earlier = _space_in_string(line, start) if alone and " " not in piece.text[:cut] else None
        if earlier is not None:  # the literal's text breaks at its last space on the line
            i, at = earlier
            css, text = line[i]
            tail = [(css, text[at:]), *line[i + 1 :]]
            line = [*line[:i], (css, text[:at])]
            pending.append(piece)
            for c, t in reversed(tail):
                pending.append(_Piece(c, t, _breakable(c, t)))
        elif cut:
            line.append((piece.css, piece.text[:cut]))
            pending.append(_Piece(piece.css, piece.text[cut:], piece.breakable))
        else:
            pending.append(piece)
            back = start if start is not None and not alone else _better_break(line)
            if back is not None:  # move the tail after a better break point down too
                for css, text in reversed(line[back:]):
                    pending.append(_Piece(css, text, _breakable(css, text)))
                line = line[:back]
        out.append(line)
        line, used, room, fresh = [], 0, columns - hang, True
        # the continuation's own text starts at the hang: the blanks at the break end the line
        # above instead (invisible there), so that the printed text is still the source's
        while pending and not pending[-1].text.strip():
            blank = pending.pop()
            out[-1].append((blank.css, blank.text))
        if pending:
            top = pending.pop()
            text = top.text.lstrip(" \t")
            if len(text) < len(top.text):
                out[-1].append((top.css, top.text[: len(top.text) - len(text)]))
            pending.append(_Piece(top.css, text, top.breakable))
            line = [("", " " * indent), ("cont", MARK + " ")]
            used = 0
    if line:
        out.append(line)
    return out


def _breakable(css: str, text: str) -> bool:
    """Whitespace and comments (Pygments' classes ``c``, ``c1``, ``cm``...) break at spaces."""
    return (css == "" and not text.strip()) or (css[:1] == "c" and css != "cont")


def _cut_at(piece: _Piece, space: int, fresh: bool) -> int:
    """Where to cut ``piece`` so that its head fits in ``space`` (0: move it whole to the
    next line). Only whitespace and comments are cut, and a token (a long string) that is
    wider than a whole line: at its last space that fits, else where the line ends."""
    if space <= 0:
        return 0
    if piece.breakable or fresh:
        at = piece.text[: space + 1].rfind(" ")
        if at > 0:
            return at + 1 if at + 1 <= space else at
    return space if fresh else 0


def _in_string(left: str, right: str) -> bool:
    """Whether a boundary between tokens of these classes lies inside a string literal:
    between two parts of a string (Pygments' ``s``, ``s2``, ``sa``...) or next to an
    f-string's field delimiters (``si``: ``{``, ``:``, ``}``)."""
    return "si" in (left, right) or (left[:1] == "s" and right[:1] == "s")


def _string_start(line: list[Token], css: str) -> int | None:
    """Where in ``line`` the string literal that a token of class ``css`` would continue
    starts; None when the boundary before that token is not inside a string."""
    if not line or not _in_string(line[-1][0], css):
        return None
    start = len(line) - 1
    while start > 0 and _in_string(line[start - 1][0], line[start][0]):
        start -= 1
    return start


def _space_in_string(line: list[Token], start: int | None) -> tuple[int, int] | None:
    """The last space in the text of the string literal that starts at ``start`` in ``line``
    (as token index, offset just after the space), if there is one."""
    for i in range(len(line) - 1, (start or 0) - 1, -1):
        css, text = line[i]
        if css[:1] == "s" and css not in ("si", "sa") and " " in text[:-1]:
            return i, text[:-1].rfind(" ") + 1
    return None


def _better_break(line: list[Token]) -> int | None:
    """Index in ``line`` after which to break instead of at its end, when the end falls
    between tokens that read as one (``name`` and ``(``): the last token boundary after a
    space, comma, bracket or operator, if that keeps at least half the line."""
    if not line or line[-1][1][-1:] in _GOOD_BREAK_AFTER:
        return None
    total = sum(len(t) for _, t in line)
    used = total
    for i in range(len(line) - 1, 0, -1):
        used -= len(line[i][1])
        if used < total // 2:
            return None
        if (
            line[i - 1][1][-1:] in _GOOD_BREAK_AFTER
            and line[i - 1][0] != "cont"
            and not _in_string(line[i - 1][0], line[i][0])
        ):
            return i
    return None


# ----------------------------------------------------------------------------- HTML


def split_lines(tokens: Iterable[Token]) -> list[list[Token]]:
    """A token stream → one token list per source line (a token spanning lines is split)."""
    lines: list[list[Token]] = [[]]
    for css, text in tokens:
        for i, part in enumerate(text.split("\n")):
            if i:
                lines.append([])
            if part:
                lines[-1].append((css, part))
    if not lines[-1] and len(lines) > 1:
        lines.pop()  # the newline that ends the file
    return lines


def _merged(tokens: Iterable[Token]) -> list[Token]:
    """Neighbours of one class as one token (one inline box for WeasyPrint, not several)."""
    out: list[Token] = []
    for css, text in tokens:
        if out and out[-1][0] == css:
            out[-1] = (css, out[-1][1] + text)
        else:
            out.append((css, text))
    return out


def _html(tokens: Iterable[Token]) -> str:
    return "".join(
        f'<span class="{css}">{escape(text, quote=False)}</span>' if css else escape(text, False)
        for css, text in _merged(tokens)
    )


def listing_html(
    source_lines: Sequence[Sequence[Token]], shown: Sequence[int], options: ListingOptions
) -> str:
    """The listing: the ``shown`` lines (1-based numbers into ``source_lines``), each a block
    (``span.line``, numbered in ``data-n``), wrapped at ``options.columns``, gaps marked."""
    total = len(source_lines)
    gutter = len(str(max(shown, default=1))) + 1 if options.line_numbers else 0
    columns = max(MIN_COLUMNS, min(options.columns, MAX_COLUMNS)) - gutter
    rows: list[str] = []
    previous = 0
    for number in shown:
        if number > previous + 1:
            rows.append(_elided(previous + 1, number - 1))
        printed = wrap_line(source_lines[number - 1], columns)
        first = len(rows)
        for i, row in enumerate(printed):
            attrs = f' data-n="{number}"' if i == 0 else ' class="line cont-line"'
            # Each printed line ends in its newline, as in the source: text taken from the page
            # (a copy, a search, a screen reader) keeps the lines apart, and a line that is
            # only the newline keeps its height.
            body = _html(row) + "\n"
            rows.append(f'<span class="line"{attrs}>{body}</span>' if i == 0 else
                        f"<span{attrs}>{body}</span>")  # fmt: skip
        if len(printed) > 1:  # a line and its continuations go onto one page together
            rows[first:] = [_keep(rows[first:])]
        previous = number
    if shown and previous < total:
        rows.append(_elided(previous + 1, total))
    if len(rows) > 2 * KEEP:
        rows = [_keep(rows[:KEEP]), *rows[KEEP:-KEEP], _keep(rows[-KEEP:])]
    else:
        rows = [_keep(rows)] if rows else []
    numbered = " numbered" if options.line_numbers else ""
    style = f' style="--gutter: {gutter}ch"' if gutter else ""
    return (
        f'<div class="highlight"><pre class="listing{numbered}"{style}><code>'
        + "".join(rows)
        + "</code></pre></div>"
    )


@dataclass(frozen=True)
class Listing:
    """A program's listing before layout: its lines as tokens, and the numbers of those shown
    (all of them, or the spec's ``show:`` lines or region)."""

    lines: tuple[tuple[Token, ...], ...]
    shown: tuple[int, ...]

    @property
    def partial(self) -> bool:
        return len(self.shown) < len(self.lines)

    def html(self, options: ListingOptions) -> str:
        return listing_html(self.lines, self.shown, options)


def read_options(text: str) -> ListingOptions:
    """``theme.toml``'s ``[listing]`` table (``columns``, ``line_numbers``); ValueError says
    what is wrong with it."""
    import tomllib

    table = tomllib.loads(text).get("listing", {})
    if not isinstance(table, dict):
        raise ValueError("listing must be a table: [listing] with columns and line_numbers")
    unknown = set(table) - {"columns", "line_numbers"}
    if unknown:
        raise ValueError(f"listing.{sorted(unknown)[0]}: unknown; known: columns, line_numbers")
    columns = table.get("columns", DEFAULT_COLUMNS)
    numbers = table.get("line_numbers", False)
    if isinstance(columns, bool) or not isinstance(columns, int):
        raise ValueError(f"listing.columns: expected a whole number, got {columns!r}")
    if not MIN_COLUMNS <= columns <= MAX_COLUMNS:
        raise ValueError(
            f"listing.columns: {columns} is not between {MIN_COLUMNS} and {MAX_COLUMNS}"
        )
    if not isinstance(numbers, bool):
        raise ValueError(f"listing.line_numbers: expected true or false, got {numbers!r}")
    return ListingOptions(columns, numbers)


def _elided(first: int, last: int) -> str:
    what = ELIDED.format(first=first, last=last) if last > first else f"⋮ (line {first} not shown)"
    return f'<span class="line elided">{escape(what)}</span>'


def _keep(rows: list[str]) -> str:
    return '<span class="keep">' + "".join(rows) + "</span>"
