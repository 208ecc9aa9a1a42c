"""LaTeX formulas in the prose → inline SVG images, typeset by ziamath.

Why ziamath: pure Python (it reads the TeX with latex2mathml and lays the MathML out with the
OpenType MATH table of the STIX Two Math font it ships), so no TeX install, no JavaScript and no
network. It typesets what a course's theory needs and matplotlib's mathtext could not: matrices
(``bmatrix``, ``pmatrix``), ``aligned`` blocks aligned on ``&``, ``cases``,
``\\underbrace``/``\\overbrace``, and big operators with their limits above and below in
display style but beside them in text style, so an inline ``$\\sum_t$`` does not open a gap
between lines. Glyphs are drawn as paths (nothing depends on the reader's fonts), so browsers
and WeasyPrint show the same SVG and a formula looks identical in the HTML and the PDF.

A ``$...$`` formula is typeset in text style, a ``$$...$$`` one in display style; the image is
sized in em and its baseline set on the text's, so it follows the body's font size. A command
ziamath does not know is an error naming the field (latex2mathml would pass ``\\foo`` through
and it would be drawn as the letters "\\foo"). ziamath is imported only when a record has a
formula that is not in the formula cache: a rebuild takes every drawing it has seen before from
``.labreport/formulas`` (one small JSON file per formula, named by a hash of the TeX, the
style, the drawing settings and the typesetters' versions).
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import functools
import hashlib
import html
import json
import re
import threading
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labreport.errors import OutputError
from labreport.fingerprint import installed_version
from labreport.output import write_atomic

#: Units of the SVG to one em: the image is sized in em, so it follows the text's font size.
EM_UNITS = 24.0
#: STIX Two's lower case is smaller than DejaVu Sans's (the body's): a formula is drawn this
#: much larger than the text's em, so that its x and the text's x are about the same height.
MATH_SCALE = 1.1
_MARGIN = 0.5  # units of blank around the ink, so antialiasing is not cut off
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_lock = threading.Lock()  # ziamath's configuration and font caches are global, not thread-safe
# Bump when the drawing changes (settings above, the checks, the SVG): old entries then miss.
_DRAWING_VERSION = 4  # 4: inline, a big operator's scripts beside it
# Where drawn formulas are kept while a build renders; unset (None) means memory only.
_cache_dir: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "labreport_formula_cache", default=None
)
#: What to do about a formula that cannot be typeset.
TYPESET_FIX = (
    "write it in the LaTeX that labreport typesets (docs/formulas.md lists it), or as text"
)


class FormulaError(ValueError):
    """A formula that cannot be typeset: ``what`` is one line, ``fix`` says what to do."""

    def __init__(self, what: str, fix: str | None = None) -> None:
        super().__init__(f"{what} ({fix})" if fix else what)
        self.what, self.fix = what, fix


# A record draws at most this many formulas, of at most this many characters of TeX in all.
# Measured on the course's 2-core machines with matplotlib's mathtext: drawing cost 10 to 55 ms
# a formula (idle to busy) plus ~0.3 ms a character of TeX, on a first build (the formula cache
# keeps them), and each is a picture of ~4 KB plus ~55 bytes a character, carried each time it
# occurs. 2,000 distinct short formulas took 109 s and made 8.7 MB of HTML; ~1 MiB of them
# would take hours. ziamath draws in 2 to 30 ms, pictures of the same size. The course's
# richest record (exp12) has 127 formulas of 2,304 characters: these limits leave it four
# times as many, and keep a first build's drawing under half a minute.
MAX_FORMULAS = 500
MAX_FORMULA_CHARS = 20_000
_FEWER = "write simple symbols as text, or split the experiment in two"


class TooManyFormulas(FormulaError):
    """A record over :data:`MAX_FORMULAS` or :data:`MAX_FORMULA_CHARS`; ``what`` and ``fix``."""


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
    depth_em: float  # how far the image reaches below the baseline

    def img(self, display: bool, tex: str) -> str:
        """An ``<img>`` whose alt text is the TeX. Inline, its baseline sits on the text's;
        displayed, only its width is set, so that the theme's ``max-width`` can shrink a
        formula wider than the page (its height follows the SVG's proportions)."""
        data = base64.b64encode(self.svg).decode("ascii")
        css = "math-display" if display else "math-inline"
        style = f"width:{self.width_em:.3f}em"
        if not display:
            style += f";height:{self.height_em:.3f}em;vertical-align:{-self.depth_em:.3f}em"
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


def render_formula(tex: str, display: bool = False) -> Formula:
    """``tex`` (the text between the dollars) drawn in display style (``$$``) or text style
    (``$``), from the formula cache when it was drawn before; raise FormulaError if it cannot
    be typeset (those are never cached)."""
    tex = _LONE_SURROGATE.sub("\ufffd", tex)  # as prose shows a value UTF-8 cannot encode
    folder = _cache_dir.get()
    if folder is None:
        return _draw(tex, display)
    path = folder / f"{_key(tex, display)}.json"
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        return Formula(
            entry["svg"].encode("utf-8"),
            float(entry["width_em"]), float(entry["height_em"]), float(entry["depth_em"]),
        )  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # not drawn yet, or unreadable: draw it (again)
    formula = _draw(tex, display)
    entry = {
        "tex": tex, "display": display, "svg": formula.svg.decode("utf-8"),
        "width_em": formula.width_em, "height_em": formula.height_em,
        "depth_em": formula.depth_em,
    }  # fmt: skip
    with contextlib.suppress(OutputError):  # a cache is a shortcut: drawn, only not kept
        write_atomic(path, json.dumps(entry).encode("utf-8"))
    return formula


# Braces nested deeper than this are refused before the typesetter sees them. latex2mathml and
# ziamath recurse per level, and where they run out of stack depends on how deep the caller's
# stack already is: a fixed limit makes the same formula an error on every machine.
MAX_FORMULA_DEPTH = 12


def _depth(tex: str) -> int:
    deepest = level = 0
    for char in tex.replace("\\{", "").replace("\\}", ""):
        level += char == "{"
        level -= char == "}"
        deepest = max(deepest, level)
    return deepest


def _shown(tex: str) -> str:
    shown = tex.strip()
    return f"${shown}$" if len(shown) <= 60 else f"${shown[:57]}...$"


def _too_deep(tex: str) -> FormulaError:
    """The error of a formula nested deeper than :data:`MAX_FORMULA_DEPTH` allows."""
    return FormulaError(
        f"cannot typeset {_shown(tex)}: nested too deeply (at most {MAX_FORMULA_DEPTH} levels "
        "of braces)",
        "split it into smaller formulas",
    )


def drawing_fingerprint() -> list[Any]:
    """What a drawn formula depends on besides its TeX: a record built before any of it
    changed is out of date (labreport.state), as is each cached drawing."""
    versions = [installed_version(name) for name in ("ziamath", "ziafont", "latex2mathml")]
    return [EM_UNITS, MATH_SCALE, _DRAWING_VERSION, versions]


def _key(tex: str, display: bool) -> str:
    material = [tex.strip(), display, *drawing_fingerprint()]
    return hashlib.sha256(json.dumps(material).encode("utf-8")).hexdigest()


# Commands ziamath reads but labreport refuses: \tag numbers an equation in a box 6.5 inches
# wide, and \newcommand/\def would make one formula's meaning depend on another's.
_REFUSED = re.compile(r"\\(tag|label|newcommand|renewcommand|def)(?![A-Za-z])")
# latex2mathml passes a command it does not know through as the text of a token: <mi>\foo</mi>.
_COMMAND = re.compile(r"\\[A-Za-z]+")


def _unknown_command(mathml: str) -> str | None:
    """The first command latex2mathml did not know in ``mathml``, or None."""
    for element in ET.fromstring(mathml).iter():
        found = _COMMAND.search(element.text or "")
        if found:
            return found.group()
    return None


def _reason(exc: Exception) -> str:
    """latex2mathml's exceptions say what is wrong in their name (``MissingEndError``), and
    its assertions say nothing at all."""
    message = " ".join(str(exc).split())
    name = type(exc).__name__
    if type(exc).__module__.startswith("latex2mathml") and name.endswith("Error"):
        words = re.sub(r"(?<!^)(?=[A-Z])", " ", name[: -len("Error")]).lower()
        return f"{words}: {message}" if message else words
    if message and not isinstance(exc, (AssertionError, LookupError)):
        return message
    return "malformed (a brace, an argument or an \\end missing?)"


@functools.lru_cache(maxsize=1024)
def _draw(tex: str, display: bool) -> Formula:
    source = tex.strip()
    if not source:
        raise FormulaError("empty formula")
    if _depth(source) > MAX_FORMULA_DEPTH:
        raise _too_deep(tex)
    refused = _REFUSED.search(source)
    if refused:
        what = f"cannot typeset {_shown(tex)}: {refused.group()} is not supported"
        raise FormulaError(what, "remove it; number an equation in the text beside it")
    # ziamath and ziafont open their fonts with importlib.resources.path, deprecated: a
    # DeprecationWarning on import, and where a font is first loaded.
    with _lock, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            mathml = _mathml(source, display)
            unknown = _unknown_command(mathml)
            if unknown is not None:
                what = f"cannot typeset {_shown(tex)}: unknown command {unknown}"
                raise FormulaError(what, TYPESET_FIX)
            svg = _typeset(mathml)
        except FormulaError:
            raise
        except RecursionError as exc:  # a cap on braces alone does not bound every recursion
            raise _too_deep(tex) from exc
        except Exception as exc:  # noqa: BLE001
            # latex2mathml raises bare Exception subclasses, AssertionError and IndexError on
            # malformed TeX, and ziamath what its layout trips on: the spec's mistake, whatever
            # its kind, is an error of the field, never a crash of the build.
            what = f"cannot typeset {_shown(tex)}: {_reason(exc)}"
            raise FormulaError(what, TYPESET_FIX) from exc
    return _measured(svg)


# ziamath puts 0.3 em between the columns of a matrix or of cases; TeX puts about 1 em
# (2 \\arraycolsep, a \\quad). An aligned block's own spacing (tex2mml sets it) is left alone.
_TABLE = re.compile(r"<mtable(?![^>]*columnspacing)")


# tex2mml gives an aligned block TeX's \\jot (3 pt) as the gap between its rows, but TeX adds
# that to a full line's distance: ziamath then stacks the equations almost touching.
_ALIGNED_ROWS = 'rowspacing="3pt"'


_SIGNS = frozenset("\u2212+\u00b1\u2213")  # − + ± ∓
_CLOSING = frozenset(")]}|\u2016\u27e9\u230b\u2309!\u2032")  # what a binary sign may follow


def _mathml(source: str, display: bool) -> str:
    """``source`` as MathML: display style (limits above and below) or text style."""
    from ziamath.tex import tex2mml

    mathml = _TABLE.sub('<mtable columnspacing="1em"', tex2mml(source, not display))
    root = ET.fromstring(mathml.replace(_ALIGNED_ROWS, 'rowspacing="0.55em"'))
    # ziamath takes a sign between two things for a binary one (L = − ∑ ...): one right after
    # an operator (=, a comma, an opening bracket) is a unary sign, spaced like one.
    for parent in root.iter():
        for before, sign in zip(parent, parent[1:], strict=False):
            if (
                _local(sign.tag) == "mo" and (sign.text or "").strip() in _SIGNS
                and _local(before.tag) == "mo" and (before.text or "").strip() not in _CLOSING
                and "form" not in sign.attrib
            ):  # fmt: skip
                sign.set("form", "prefix")
    if not display:
        _scripts_beside_operators(root)
    return ET.tostring(root, encoding="unicode")


_BIG_OPERATORS = frozenset("\u2211\u220f\u2210\u222b\u222c\u222d\u222e\u22c3\u22c2\u2a01\u2a02")
_SCRIPTED = frozenset({"msub", "msup", "msubsup"})


def _scripts_beside_operators(root: ET.Element) -> None:
    """Inline, a big operator's scripts sit beside it as any letter's do (TeX's text style):
    ziamath hangs them below the operator's own depth, and an inline ``\\sum_t`` then reached
    0.65 em under the baseline (``\\int_0^1`` 1.2 em), pushing the next line of text away. The
    operator is set as an ordinary symbol of text size, with the thin space an operator has
    after it."""
    for parent in list(root.iter()):
        for i in reversed(range(len(parent))):  # from the end: an insertion moves what follows
            scripted = parent[i]
            base = scripted[0] if len(scripted) else None
            if (
                _local(scripted.tag) in _SCRIPTED and base is not None
                and _local(base.tag) == "mo" and (base.text or "").strip() in _BIG_OPERATORS
            ):  # fmt: skip
                namespace = base.tag[: -len("mo")]
                base.tag = namespace + "mn"
                parent.insert(i + 1, ET.Element(namespace + "mspace", {"width": "0.167em"}))


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _typeset(mathml: str) -> ET.Element:
    """The MathML laid out as an SVG of paths (SVG 1.1: no <symbol>/<use>), baseline at y=0."""
    from ziamath.config import config
    from ziamath.zmath import Math

    config.svg2 = False  # every glyph a <path> where it stands
    config.precision = 3
    config.numbering.autonumber = False
    return Math(mathml, size=EM_UNITS * MATH_SCALE, margin=_MARGIN).svgxml()


def _measured(svg: ET.Element) -> Formula:
    """The SVG's bytes and its box in em. ziamath's viewBox is the ink's box (plus the margin)
    with the baseline at y = 0."""
    _, top, width, height = (float(v) for v in svg.attrib["viewBox"].split())
    depth = top + height  # the part of the box below the baseline (< 0: all of it above)
    data = ET.tostring(svg, encoding="utf-8", xml_declaration=False)
    return Formula(data, width / EM_UNITS, height / EM_UNITS, depth / EM_UNITS)
