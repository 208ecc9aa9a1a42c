"""The few pieces of WordprocessingML that python-docx has no API for: page fields, links,
borders and shading, a list that starts again at 1, a run lowered under the baseline.

Word refuses ("unreadable content") a property element out of the schema's order, so each is
put in its place by :func:`put`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

if TYPE_CHECKING:
    from docx.document import Document
    from docx.oxml.xmlchemy import BaseOxmlElement
    from docx.text.paragraph import Paragraph
    from docx.text.run import Run

# The schema's order of the children used here (ECMA-376 Part 1, CT_PPr, CT_RPr, CT_TcPr).
PPR_ORDER = [
    "pStyle",
    "keepNext",
    "keepLines",
    "pageBreakBefore",
    "framePr",
    "widowControl",
    "numPr",
    "suppressLineNumbers",
    "pBdr",
    "shd",
    "tabs",
    "suppressAutoHyphens",
    "kinsoku",
    "wordWrap",
    "overflowPunct",
    "topLinePunct",
    "autoSpaceDE",
    "autoSpaceDN",
    "bidi",
    "adjustRightInd",
    "snapToGrid",
    "spacing",
    "ind",
    "contextualSpacing",
    "mirrorIndents",
    "suppressOverlap",
    "jc",
    "textDirection",
    "textAlignment",
    "textboxTightWrap",
    "outlineLvl",
    "divId",
    "cnfStyle",
    "rPr",
    "sectPr",
    "pPrChange",
]
RPR_ORDER = [
    "rStyle",
    "rFonts",
    "b",
    "bCs",
    "i",
    "iCs",
    "caps",
    "smallCaps",
    "strike",
    "dstrike",
    "outline",
    "shadow",
    "emboss",
    "imprint",
    "noProof",
    "snapToGrid",
    "vanish",
    "webHidden",
    "color",
    "spacing",
    "w",
    "kern",
    "position",
    "sz",
    "szCs",
    "highlight",
    "u",
    "effect",
    "bdr",
    "shd",
    "fitText",
    "vertAlign",
    "rtl",
    "cs",
    "em",
    "lang",
    "eastAsianLayout",
    "specVanish",
    "oMath",
]
TCPR_ORDER = [
    "cnfStyle",
    "tcW",
    "gridSpan",
    "hMerge",
    "vMerge",
    "tcBorders",
    "shd",
    "noWrap",
    "tcMar",
    "textDirection",
    "tcFitText",
    "vAlign",
    "hideMark",
]


def element(tag: str, **attrs: str) -> BaseOxmlElement:
    """``<w:tag w:key="value"...>``."""
    made = OxmlElement(f"w:{tag}")
    for key, value in attrs.items():
        made.set(qn(f"w:{key}"), value)
    return made  # type: ignore[no-any-return]


def put(parent: BaseOxmlElement, child: BaseOxmlElement, order: list[str]) -> BaseOxmlElement:
    """``child`` in ``parent`` where the schema's ``order`` wants it, replacing one of its tag."""
    tag = child.tag.rsplit("}", 1)[-1]
    rank = order.index(tag)
    for old in parent.findall(qn(f"w:{tag}")):
        parent.remove(old)
    for i, existing in enumerate(parent):
        name = existing.tag.rsplit("}", 1)[-1]
        if name in order and order.index(name) > rank:
            parent.insert(i, child)
            return child
    parent.append(child)
    return child


def borders(
    tag: str, sides: tuple[str, ...], size: int = 4, color: str = "222222"
) -> BaseOxmlElement:
    """``<w:pBdr>``, ``<w:tcBorders>`` or ``<w:tblBorders>`` with single lines on ``sides``
    (``size`` in eighths of a point)."""
    made = element(tag)
    for side in sides:
        made.append(element(side, val="single", sz=str(size), space="0", color=color))
    return made


def shading(fill: str) -> BaseOxmlElement:
    return element("shd", val="clear", color="auto", fill=fill)


def add_field(paragraph: Paragraph, instruction: str, shown: str) -> None:
    """A field Word computes (``PAGE``, ``NUMPAGES``), showing ``shown`` until it does."""
    field = element("fldSimple", instr=f" {instruction} ")
    run = element("r")
    text = element("t")
    text.text = shown
    run.append(text)
    field.append(run)
    paragraph._p.append(field)


def add_link(paragraph: Paragraph, url: str) -> BaseOxmlElement:
    """An empty ``<w:hyperlink>`` to ``url`` at the end of ``paragraph``: append runs to it."""
    rel = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rel)
    paragraph._p.append(link)
    return link  # type: ignore[no-any-return]


def lower(run: Run, points: float) -> None:
    """Move ``run`` ``points`` below the baseline (a formula's depth), raise it if negative."""
    half_points = round(-points * 2)
    if half_points:
        put(run._r.get_or_add_rPr(), element("position", val=str(half_points)), RPR_ORDER)


def restarted_list(document: Document, style: str, start: int = 1) -> int:
    """A numbering that starts again at ``start``, of the same kind as the list style
    ``style``'s (every "List Number" paragraph shares one count in Word: each list needs its
    own)."""
    num_pr = document.styles[style].element.pPr.numPr
    numbering = document.part.numbering_part.element
    template = num_pr.numId.val
    abstract = next(n for n in numbering.num_lst if n.numId == template).abstractNumId.val
    num = numbering.add_num(abstract)
    num.add_lvlOverride(ilvl=0).add_startOverride(start)
    return int(num.numId)


def number(paragraph: Paragraph, num_id: int) -> None:
    """Put ``paragraph`` in the list ``num_id`` (see :func:`restarted_list`)."""
    ppr = paragraph._p.get_or_add_pPr()
    num_pr = element("numPr")
    num_pr.append(element("ilvl", val="0"))
    num_pr.append(element("numId", val=str(num_id)))
    put(ppr, num_pr, PPR_ORDER)
