"""LaTeX formulas in the prose → inline SVG images, drawn by matplotlib's mathtext.

Why mathtext: no TeX install and no JavaScript, and the same SVG is shown by browsers and by
WeasyPrint, so a formula looks identical in the HTML and the PDF. Glyphs are drawn as paths
(nothing depends on the reader's fonts) in DejaVu Sans, the records' body font. matplotlib is
imported only when a record has a formula: a record without one does not pay for it.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import threading
from dataclasses import dataclass

#: Font size the formula is drawn at; the image is then sized in em, so it follows the text.
FONT_PT = 10.0
_MEASURE_DPI = 720.0
_lock = threading.Lock()  # mathtext's parser and font caches are not thread-safe


class FormulaError(ValueError):
    """A formula mathtext cannot parse; the message is one line, for the field's error."""


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


@functools.lru_cache(maxsize=1024)
def render_formula(tex: str) -> Formula:
    """Draw ``tex`` (the text between the dollars); raise FormulaError if it is malformed."""
    if not tex.strip():
        raise FormulaError("empty formula")
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
        scale = 72.0 / _MEASURE_DPI  # measured pixels → points
        width, height, depth = (parsed.width * scale, parsed.height * scale, parsed.depth * scale)
        figure = Figure(figsize=(max(width, 0.5) / 72.0, max(height, 0.5) / 72.0))
        figure.text(0.0, depth / height if height else 0.0, source, fontproperties=prop)
        buffer = io.BytesIO()
        figure.savefig(
            buffer, dpi=72, format="svg", transparent=True,
            metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
        )  # fmt: skip
    return Formula(buffer.getvalue(), width / FONT_PT, height / FONT_PT, depth / FONT_PT)
