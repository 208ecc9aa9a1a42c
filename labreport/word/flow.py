"""The prose's HTML (Markdown rendered, values filled in, formulas drawn) as Word paragraphs.

labreport renders each prose field once, to HTML (:mod:`labreport.prose`); the Word record
reads that HTML back rather than rendering the Markdown a second way, so both records say the
same. What Markdown makes is what this knows: paragraphs, bold, italic, code, links, lists
(nested), block quotes, fenced code, tables, headings, pictures and formulas (inline ones sit
on the baseline at the text's size, displayed ones centred on a line of their own).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt

from labreport.word import images, ooxml, styles

if TYPE_CHECKING:
    from docx.document import Document
    from docx.table import Table
    from docx.text.paragraph import Paragraph
    from lxml.html import HtmlElement

# Characters XML 1.0 cannot carry (python-docx refuses them): shown as U+FFFD.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_SPACES = re.compile(r"[ \t\r\n]+")
_BLOCKS = frozenset(
    [
        "p",
        "div",
        "pre",
        "ul",
        "ol",
        "li",
        "blockquote",
        "table",
        "figure",
        "hr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "header",
        "footer",
    ]
)
_WP = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
_HEADINGS = {"h1": "Heading 2", "h2": "Heading 3", "h3": "Heading 4"}


def xml_text(text: str) -> str:
    """``text`` with what XML cannot hold replaced."""
    return _NOT_XML.sub("\ufffd", text)


@dataclass(frozen=True)
class Format:
    """How a run of text looks, as the inline elements around it say."""

    bold: bool = False
    italic: bool = False
    code: bool = False
    superscript: bool = False
    subscript: bool = False
    strike: bool = False
    link: str | None = None


_INLINE: dict[str, dict[str, Any]] = {
    "strong": {"bold": True}, "b": {"bold": True}, "em": {"italic": True},
    "i": {"italic": True}, "code": {"code": True}, "kbd": {"code": True},
    "samp": {"code": True}, "sup": {"superscript": True}, "sub": {"subscript": True},
    "s": {"strike": True}, "del": {"strike": True},
}  # fmt: skip

Container = Any  # the document body, a table cell, a header or footer: what has add_paragraph


class Flow:
    """Writes HTML fragments into a Word document, ``text_width`` points wide."""

    def __init__(self, document: Document, text_width: float) -> None:
        self.document = document
        self.text_width = text_width
        self.missing = 0  # pictures that could not be drawn (each noted in the text)
        self._lead: list[tuple[str, Format]] = []  # runs the next paragraph starts with
        self._at_start = True  # no text yet in the paragraph being filled: spaces dropped
        self._style_ids: dict[str, str] = {}

    # ------------------------------------------------------------------ entry points
    def inline(self, paragraph: Paragraph, markup: str, fmt: Format = Format()) -> None:
        """Inline HTML (a one-line prose field) appended to ``paragraph``."""
        root = _parse(markup)
        self._inline_nodes(paragraph, _children(root), fmt, first=not paragraph.text)

    def blocks(
        self,
        container: Container,
        markup: str,
        lead: Sequence[tuple[str, Format]] = (),
        style: str | None = None,
        level: int = 0,
    ) -> None:
        """Block HTML (paragraphs, lists...) as paragraphs of ``container``; ``lead``: runs
        that start the first paragraph (a label such as "Result:"); ``level`` 1 for prose
        that belongs to a list item (an answer), whose own lists go one step further in."""
        root = _parse(markup)
        self._lead = list(lead)
        self._blocks(container, root, style, level)
        if self._lead:  # nothing came: the label stands alone
            self.new_paragraph(container, style)

    def text(self, paragraph: Paragraph, text: str, fmt: Format = Format()) -> None:
        """Plain ``text`` as one run looking as ``fmt`` says."""
        if not text:
            return
        run = paragraph.add_run(xml_text(text))
        run.bold = fmt.bold or None
        run.italic = fmt.italic or None
        if fmt.code:
            run._r.style = self.style_id(styles.INLINE_CODE)
        if fmt.superscript:
            run.font.superscript = True
        if fmt.subscript:
            run.font.subscript = True
        if fmt.strike:
            run.font.strike = True

    def picture(self, paragraph: Paragraph, src: str, style: str, alt: str) -> None:
        """An ``<img>``: a formula (its CSS size in ems) or a picture (at most the text width)."""
        width, height, offset = images.css_size(style, styles.BODY_SIZE.pt)
        drawn = images.picture(src, width, height)
        if drawn is None:
            self.missing += 1
            self.text(paragraph, f"[picture not shown: {alt or 'it could not be drawn'}]",
                      Format(italic=True))  # fmt: skip
            return
        scale = min(1.0, self.text_width / drawn.width) if drawn.width else 1.0
        run = paragraph.add_run()
        run.add_picture(
            io.BytesIO(drawn.png),
            width=Pt(drawn.width * scale) if drawn.width else None,
            height=Pt(drawn.height * scale) if drawn.height else None,
        )
        describe(run, alt)
        set_inline(run)
        if offset:
            ooxml.lower(run, -offset)

    # ------------------------------------------------------------------ blocks
    def style_id(self, name: str) -> str:
        """The id of the style ``name`` (python-docx looks a name up by XPath on every use:
        a third of the time of a record, before this cache)."""
        found = self._style_ids.get(name)
        if found is None:
            found = self._style_ids[name] = self.document.styles[name].style_id
        return found

    def new_paragraph(self, container: Container, style: str | None) -> Paragraph:
        """A paragraph at the end of ``container``, starting with the pending lead, if any."""
        paragraph = _new_paragraph(container, self.style_id(style) if style else None)
        for text, fmt in self._lead:
            self.text(paragraph, text, fmt)
        self._lead = []
        return paragraph

    def _blocks(
        self, container: Container, root: HtmlElement, style: str | None, level: int
    ) -> None:
        pending: list[Any] = []
        for node in _children(root):
            if isinstance(node, str) or node.tag not in _BLOCKS:
                pending.append(node)
                continue
            self._flush(container, pending, style)
            pending = []
            self._block(container, node, style, level)
        self._flush(container, pending, style)

    def _flush(self, container: Container, nodes: list[Any], style: str | None) -> None:
        if any(not isinstance(n, str) or n.strip() for n in nodes):
            paragraph = self.new_paragraph(container, style)
            self._inline_nodes(paragraph, nodes, Format(), first=not paragraph.text)

    def _block(
        self, container: Container, node: HtmlElement, style: str | None, level: int
    ) -> None:
        tag = node.tag
        classes = (node.get("class") or "").split()
        if tag == "p":
            paragraph = self.new_paragraph(container, style)
            self._inline_nodes(paragraph, _children(node), Format(), first=not paragraph.text)
        elif tag in _HEADINGS or tag in ("h4", "h5", "h6"):
            paragraph = self.new_paragraph(container, _HEADINGS.get(tag, styles.LABEL))
            self._inline_nodes(paragraph, _children(node), Format(), first=True)
        elif tag == "div" and "math" in classes:
            paragraph = self.new_paragraph(container, style)
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            self._inline_nodes(paragraph, _children(node), Format(), first=True)
        elif tag == "pre":
            self.lines(container, node.text_content(), styles.CODE)
        elif tag in ("ul", "ol"):
            self._list(container, node, tag == "ol", level)
        elif tag == "blockquote":
            self._blocks(container, node, "Quote", level)
        elif tag == "table":
            self._table(container, node)
        elif tag == "hr":
            self.new_paragraph(container, style)
        else:  # div, figure, section...: their content
            self._blocks(container, node, style, level)

    def lines(self, container: Container, text: str, style: str) -> list[Paragraph]:
        """Preformatted ``text``, one paragraph per line in ``style`` (Code, Output)."""
        made = []
        for line in text.rstrip("\n").split("\n"):
            paragraph = self.new_paragraph(container, style)
            self.text(paragraph, line)
            made.append(paragraph)
        return made

    def _list(self, container: Container, node: HtmlElement, ordered: bool, level: int) -> None:
        depth = " 2" if level else ""
        style = ("List Number" if ordered else "List Bullet") + depth
        start = node.get("start", "1")
        first = int(start) if start.isdigit() else 1  # Markdown's "3. item" starts at 3
        numbering = ooxml.restarted_list(self.document, style, first) if ordered else None
        for item in node:
            if not isinstance(item.tag, str) or item.tag != "li":
                continue
            paragraph = self.new_paragraph(container, style)
            if numbering is not None:
                ooxml.number(paragraph, numbering)
            inline: list[Any] = []
            rest: list[HtmlElement] = []
            for child in _children(item):
                if rest or (not isinstance(child, str) and child.tag in _BLOCKS):
                    if isinstance(child, str):
                        if child.strip():
                            rest.append(_wrap_text(child))
                    elif child.tag == "p" and not rest and not inline:
                        inline.extend(_children(child))  # a loose list's first paragraph
                    else:
                        rest.append(child)
                else:
                    inline.append(child)
            self._inline_nodes(paragraph, inline, Format(), first=True)
            for child in rest:
                if child.tag in ("ul", "ol"):
                    self._list(container, child, child.tag == "ol", level + 1)
                else:
                    self._block(container, child, "List Continue" + depth, level)

    def _table(self, container: Container, node: HtmlElement) -> None:
        rows = [row for row in node.iter("tr")]
        width = max((len([c for c in r if c.tag in ("td", "th")]) for r in rows), default=0)
        if not rows or not width:
            return
        table = add_table(container, len(rows), width, self.text_width)
        for r, row in enumerate(rows):
            cells = [c for c in row if c.tag in ("td", "th")]
            for c, cell in enumerate(cells):
                paragraph = table.cell(r, c).paragraphs[0]
                bold = Format(bold=cell.tag == "th")
                self._inline_nodes(paragraph, _children(cell), bold, first=True)

    # ------------------------------------------------------------------ inline
    def _inline_nodes(
        self, paragraph: Paragraph, nodes: Iterable[Any], fmt: Format, first: bool
    ) -> None:
        self._at_start = first
        for node in nodes:
            self._inline(paragraph, node, fmt)

    def _inline(self, paragraph: Paragraph, node: Any, fmt: Format) -> None:
        if isinstance(node, str):
            text = node if fmt.code else _SPACES.sub(" ", node)
            if self._at_start:
                text = text.lstrip()
            if text:
                self._at_start = False
                self._run(paragraph, text, fmt)
            return
        tag = node.tag
        if not isinstance(tag, str):  # a comment
            return
        if tag == "br":
            paragraph.add_run().add_break()
            self._at_start = True
            return
        if tag == "img":
            self.picture(paragraph, node.get("src", ""), node.get("style", ""), node.get("alt", ""))
            self._at_start = False
            return
        if tag == "a":
            href = node.get("href", "")
            if re.match(r"(https?|mailto):", href):
                fmt = replace(fmt, link=href)
        elif tag in _INLINE:
            fmt = replace(fmt, **_INLINE[tag])
        for child in _children(node):
            self._inline(paragraph, child, fmt)

    def _run(self, paragraph: Paragraph, text: str, fmt: Format) -> None:
        if fmt.link is None:
            self.text(paragraph, text, fmt)
            return
        link = ooxml.add_link(paragraph, fmt.link)
        self.text(paragraph, text, fmt)
        run = paragraph.runs[-1]
        run.font.underline = True
        run.font.color.rgb = styles.LINK
        link.append(run._r)


def _parse(markup: str) -> HtmlElement:
    from lxml import html

    return html.fragment_fromstring(str(markup) or "<br>", create_parent="div")  # type: ignore[no-any-return]


def _children(node: HtmlElement) -> Iterator[Any]:
    """A node's text and child elements in order: its text, then each child and its tail."""
    if node.text:
        yield node.text
    for child in node:
        yield child
        if child.tail:
            yield child.tail


def _wrap_text(text: str) -> HtmlElement:
    from lxml import html

    paragraph = html.Element("p")
    paragraph.text = text
    return paragraph


def _new_paragraph(container: Container, style_id: str | None) -> Paragraph:
    """A new paragraph at the end of ``container``; a table cell's own first, empty one is
    used first (every cell starts with one)."""
    paragraphs = None if hasattr(container, "sections") else container.paragraphs
    if (
        paragraphs
        and len(paragraphs) == 1
        and len(paragraphs[0]._p) == len(paragraphs[0]._p.xpath("./w:pPr"))
    ):
        paragraph = paragraphs[0]
    else:
        paragraph = container.add_paragraph()
    if style_id:
        paragraph._p.style = style_id
    return paragraph  # type: ignore[no-any-return]


def add_table(container: Container, rows: int, cols: int, width: float) -> Table:
    """A grid table in ``container`` (the body, a cell, a header), ``width`` points wide."""
    from docx.document import Document as DocumentType
    from docx.table import _Cell

    if isinstance(container, DocumentType | _Cell):
        table = container.add_table(rows, cols)
    else:
        table = container.add_table(rows, cols, Pt(width))
    table.style = styles.TABLE
    return table


def set_widths(table: Table, widths: Sequence[float]) -> None:
    """Column widths in points, in the table's grid and in each cell: Word reads the cells',
    LibreOffice the grid's."""
    for column, width in zip(table.columns, widths, strict=True):
        column.width = Pt(width)
    for row in table.rows:
        for cell, width in zip(row.cells, widths, strict=True):
            cell.width = Pt(width)


def set_inline(run: Any) -> None:
    """No gap around an inline picture: Word's default, which LibreOffice needs said (it
    leaves 0.3 cm on either side of a formula otherwise)."""
    for inline in run._r.iter(f"{{{_WP}}}inline"):
        for side in ("distT", "distB", "distL", "distR"):
            inline.set(side, "0")


def describe(run: Any, alt: str) -> None:
    """The picture's alternative text (``descr``), for screen readers as in the HTML."""
    for doc_pr in run._r.iter(f"{{{_WP}}}docPr"):
        doc_pr.set("descr", xml_text(alt))
