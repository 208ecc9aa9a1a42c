"""LaTeX formulas in the prose → inline SVG images, drawn by matplotlib's mathtext.

Why mathtext: no TeX install and no JavaScript, and the same SVG is shown by browsers and by
WeasyPrint, so a formula looks identical in the HTML and the PDF. Glyphs are drawn as paths
(nothing depends on the reader's fonts) in DejaVu Sans, the records' body font. matplotlib is
imported only when a record has a formula that is not in the formula cache: drawing costs
~0.1 s a formula plus ~0.7 s to import matplotlib, so a rebuild takes every drawing it has seen
before from ``.labreport/cache/formulas`` (one small JSON file per formula, named by a hash of the
TeX, the drawing settings and matplotlib's version) and the parent process never imports
matplotlib at all.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import functools
import hashlib
import html
import io
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from labreport.errors import OutputError
from labreport.fingerprint import installed_version
from labreport.output import write_atomic

#: Font size the formula is drawn at; the image is then sized in em, so it follows the text.
FONT_PT = 10.0
_MEASURE_DPI = 720.0
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_lock = threading.Lock()  # mathtext's parser and font caches are not thread-safe
# Bump when the drawing changes (settings below, the SVG post-processing): old entries then miss.
_DRAWING_VERSION = 1
# Where drawn formulas are kept while a build renders; unset (None) means memory only.
_cache_dir: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "labreport_formula_cache", default=None
)


class FormulaError(ValueError):
    """A formula mathtext cannot parse; the message is one line, for the field's error."""


# A record draws at most this many formulas, of at most this many characters of TeX in all.
# Measured on the course's 2-core machines: drawing costs 10 to 55 ms a formula (idle to busy)
# plus ~0.3 ms a character of TeX, on a first build (the formula cache keeps them), and each is
# a picture of ~4 KB plus ~55 bytes a character, carried each time it occurs. 2,000 distinct
# short formulas took 109 s and made 8.7 MB of HTML; ~1 MiB of them would take hours. The
# course's richest record (exp12) has 127 formulas of 2,304 characters: these limits leave it
# four times as many, and keep a first build's drawing under half a minute.
MAX_FORMULAS = 500
MAX_FORMULA_CHARS = 20_000
_FEWER = "write simple symbols as text, or split the experiment in two"


class TooManyFormulas(FormulaError):
    """A record over :data:`MAX_FORMULAS` or :data:`MAX_FORMULA_CHARS`; ``what`` and ``fix``."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(f"{what} ({fix})")
        self.what, self.fix = what, fix


@dataclass
class FormulaBudget:
    """The formulas of one record so far, counted before any is drawn, each time it occurs (a
    repeated formula is drawn once but carried in the record each time)."""

    count: int = 0
    chars: int = 0

    def charge(self, texs: list[str]) -> None:
        """Add one field's formulas; raise TooManyFormulas if the record goes over a limit."""
        self.count += len(texs)
        self.chars += sum(len(tex.strip()) for tex in texs)
        if self.count > MAX_FORMULAS:
            raise TooManyFormulas(
                f"more than {MAX_FORMULAS:,} formulas in the record: this field brings them "
                f"to {self.count:,} (each is drawn as a picture)",
                _FEWER,
            )
        if self.chars > MAX_FORMULA_CHARS:
            raise TooManyFormulas(
                f"more than {MAX_FORMULA_CHARS:,} characters of formulas in the record: this "
                f"field brings them to {self.chars:,} (each is drawn as a picture)",
                _FEWER,
            )


@dataclass(frozen=True)
class Formula:
    svg: bytes
    width_em: float
    height_em: float
    depth_em: float

    def img(self, display: bool, tex: str) -> str:
        """An ``<img>`` whose baseline sits on the text's baseline; its alt text is the TeX."""
        data = base64.b64encode(self.svg).decode("ascii")
        css = "math-display" if display else "math-inline"
        style = (
            f"width:{self.width_em:.3f}em;height:{self.height_em:.3f}em;"
            f"vertical-align:{-self.depth_em:.3f}em"
        )
        alt = html.escape(tex.strip())
        src = f"data:image/svg+xml;base64,{data}"
        return f'<img class="{css}" style="{style}" alt="{alt}" src="{src}">'


@contextlib.contextmanager
def cached_in(folder: Path) -> Iterator[None]:
    """Within this block (and this thread), keep and reuse drawn formulas in ``folder``."""
    token = _cache_dir.set(folder)
    try:
        yield
    finally:
        _cache_dir.reset(token)


def render_formula(tex: str) -> Formula:
    """``tex`` (the text between the dollars) drawn, from the formula cache when it was drawn
    before; raise FormulaError if it is malformed (malformed ones are never cached)."""
    tex = _LONE_SURROGATE.sub("\ufffd", tex)  # as prose shows a value UTF-8 cannot encode
    folder = _cache_dir.get()
    if folder is None:
        return _draw(tex)
    path = folder / f"{_key(tex)}.json"
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        return Formula(
            entry["svg"].encode("utf-8"),
            float(entry["width_em"]), float(entry["height_em"]), float(entry["depth_em"]),
        )  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # not drawn yet, or unreadable: draw it (again)
    formula = _draw(tex)
    entry = {
        "tex": tex, "svg": formula.svg.decode("utf-8"), "width_em": formula.width_em,
        "height_em": formula.height_em, "depth_em": formula.depth_em,
    }  # fmt: skip
    with contextlib.suppress(OutputError):  # a cache is a shortcut: drawn, only not kept
        write_atomic(path, json.dumps(entry).encode("utf-8"))
    return formula


# Braces nested deeper than this are refused before mathtext sees them. mathtext recurses per
# level and runs out of stack somewhere past 20, but where exactly depends on how deep the
# caller's stack already is: a fixed limit makes the same formula an error on every machine.
MAX_FORMULA_DEPTH = 12


def _depth(tex: str) -> int:
    deepest = level = 0
    for char in tex.replace("\\{", "").replace("\\}", ""):
        level += char == "{"
        level -= char == "}"
        deepest = max(deepest, level)
    return deepest


def _too_deep(tex: str) -> str:
    """The error of a formula nested deeper than mathtext (or :data:`MAX_FORMULA_DEPTH`) allows."""
    shown = tex.strip()
    shown = shown if len(shown) <= 60 else f"{shown[:57]}..."
    return (
        f"cannot typeset ${shown}$: nested too deeply for matplotlib's mathtext (at most "
        f"{MAX_FORMULA_DEPTH} levels of braces)"
    )


def _key(tex: str) -> str:
    material = [tex.strip(), FONT_PT, _DRAWING_VERSION, installed_version("matplotlib")]
    return hashlib.sha256(json.dumps(material).encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=1024)
def _draw(tex: str) -> Formula:
    if not tex.strip():
        raise FormulaError("empty formula")
    if _depth(tex) > MAX_FORMULA_DEPTH:
        raise FormulaError(_too_deep(tex))
    import matplotlib
    from matplotlib import mathtext
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    source = f"${tex.strip()}$"
    prop = FontProperties(size=FONT_PT)
    style = {
        "svg.hashsalt": "labreport",
        "svg.fonttype": "path",
        "mathtext.fontset": "dejavusans",
        "svg.image_inline": True,
    }
    with _lock, matplotlib.rc_context(style):  # type: ignore[arg-type]  # literal keys
        try:
            parsed = mathtext.MathTextParser("path").parse(source, dpi=_MEASURE_DPI, prop=prop)
        except ValueError as exc:
            detail = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            raise FormulaError(f"cannot typeset ${tex.strip()}$: {detail}") from exc
        except RecursionError as exc:  # mathtext's parser recurses per level of braces
            raise FormulaError(_too_deep(tex)) from exc
        scale = 72.0 / _MEASURE_DPI  # measured pixels → points
        width, height, depth = (parsed.width * scale, parsed.height * scale, parsed.depth * scale)
        figure = Figure(figsize=(max(width, 0.5) / 72.0, max(height, 0.5) / 72.0))
        figure.text(0.0, depth / height if height else 0.0, source, fontproperties=prop)
        buffer = io.BytesIO()
        try:
            figure.savefig(
                buffer, dpi=72, format="svg", transparent=True,
                metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
            )  # fmt: skip
        except RecursionError as exc:  # the drawing recurses per level too
            raise FormulaError(_too_deep(tex)) from exc
    return Formula(buffer.getvalue(), width / FONT_PT, height / FONT_PT, depth / FONT_PT)
