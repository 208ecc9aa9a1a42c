"""The page and the named styles of a Word record.

Everything a reader may want to restyle at once is a named style (Home > Styles in Word): the
listings are ``Code``, the program output ``Output``, inline code ``Inline Code``, captions
``Caption``, the small print ``Provenance``, the page furniture ``Furniture``. Change the style
and every listing follows.

Fonts are Arial and Courier New: every Word has them, and LibreOffice draws them with the
metric-compatible Liberation fonts, so lines break where they would in Word.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Length, Mm, Pt, RGBColor

from labreport.word.ooxml import PPR_ORDER, borders, put, shading

if TYPE_CHECKING:
    from docx.document import Document
    from docx.styles.style import CharacterStyle, ParagraphStyle

BODY_FONT = "Arial"
MONO_FONT = "Courier New"
BODY_SIZE = Pt(10.5)  # as the PDF's --body-size
CODE_SIZE = Pt(8.5)
MONO_ADVANCE = 0.6  # a Courier New character's width, in ems
TEXT = RGBColor(0x11, 0x11, 0x11)
MUTED = RGBColor(0x55, 0x55, 0x55)
ERROR = RGBColor(0xA4, 0x00, 0x00)
PASSED = RGBColor(0x1A, 0x6B, 0x1A)
LINK = RGBColor(0x1A, 0x4D, 0x8F)

CODE = "Code"
OUTPUT = "Output"
INLINE_CODE = "Inline Code"
CAPTION = "Caption"
PROVENANCE = "Provenance"
FURNITURE = "Furniture"
LABEL = "Label"
TABLE = "Table Grid"


@dataclass(frozen=True)
class PageLayout:
    """An A4 page's margins (as the theme's ``@page`` rule) and how far from the paper's edge
    the header and footer start."""

    top: Length
    right: Length
    bottom: Length
    left: Length
    header: Length
    footer: Length

    @property
    def text_width(self) -> Length:
        return Length(Mm(210) - self.left - self.right)


def set_up(document: Document, layout: PageLayout) -> None:
    """A4 with ``layout``'s margins, and every style a record uses."""
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = layout.top, layout.bottom
    section.left_margin, section.right_margin = layout.left, layout.right
    section.header_distance, section.footer_distance = layout.header, layout.footer
    styles = document.styles
    normal = styles["Normal"]
    _font(normal, BODY_FONT, BODY_SIZE, TEXT)
    normal.paragraph_format.space_after = Pt(4)
    normal.paragraph_format.line_spacing = 1.15
    for level, size in ((1, 16), (2, 12), (3, 11), (4, 10.5)):
        heading = styles[f"Heading {level}"]
        _font(heading, BODY_FONT, Pt(size), TEXT, bold=True)
        heading.font.italic = False
        heading.paragraph_format.space_before = Pt(12 if level < 3 else 8)
        heading.paragraph_format.space_after = Pt(4)
        heading.paragraph_format.keep_with_next = True
    for name in ("List Bullet", "List Bullet 2", "List Number", "List Number 2", "List Paragraph"):
        styles[name].paragraph_format.space_after = Pt(2)
    label = _paragraph_style(document, LABEL, BODY_FONT, BODY_SIZE, TEXT)
    label.font.bold = True
    label.paragraph_format.space_before = Pt(8)
    label.paragraph_format.keep_with_next = True
    code = _paragraph_style(document, CODE, MONO_FONT, CODE_SIZE, TEXT)
    _block(code, shade="F6F6F6")
    output = _paragraph_style(document, OUTPUT, MONO_FONT, CODE_SIZE, TEXT)
    _block(output, shade=None)
    inline = styles.add_style(INLINE_CODE, WD_STYLE_TYPE.CHARACTER)
    _font(inline, MONO_FONT, None, None)
    caption = styles[CAPTION]
    _font(caption, BODY_FONT, Pt(9), MUTED, bold=False)
    caption.font.italic = False
    caption.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    caption.paragraph_format.space_after = Pt(8)
    _paragraph_style(document, PROVENANCE, BODY_FONT, Pt(8), MUTED)
    furniture = _paragraph_style(document, FURNITURE, BODY_FONT, Pt(8.5), TEXT)
    furniture.paragraph_format.space_after = Pt(0)
    furniture.paragraph_format.line_spacing = 1.0


def _paragraph_style(
    document: Document, name: str, font: str, size: Length, color: RGBColor
) -> ParagraphStyle:
    style: ParagraphStyle = document.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = document.styles["Normal"]
    style.quick_style = True
    _font(style, font, size, color)
    return style


def _font(
    style: ParagraphStyle | CharacterStyle,
    name: str,
    size: Length | None,
    color: RGBColor | None,
    bold: bool | None = None,
) -> None:
    """Set a style's font; the template's theme fonts (Calibri, Cambria) are removed, as they
    would win over the named one."""
    style.font.name = name
    rfonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    for theme in ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme"):
        rfonts.attrib.pop(qn(f"w:{theme}"), None)
    rfonts.set(qn("w:cs"), name)
    if size is not None:
        style.font.size = size
    if color is not None:
        style.font.color.rgb = color
    if bold is not None:
        style.font.bold = bold


def _block(style: ParagraphStyle, shade: str | None) -> None:
    """A monospace block: no space between its lines, a light frame (and background), lines
    wrapped by Word hanging under their text (see blocks.code_line)."""
    fmt = style.paragraph_format
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.line_spacing = 1.0
    fmt.left_indent = Mm(1.5)
    fmt.right_indent = Mm(1.5)
    ppr = style.element.get_or_add_pPr()
    put(ppr, borders("pBdr", ("top", "left", "bottom", "right"), color="999999"), PPR_ORDER)
    if shade:
        put(ppr, shading(shade), PPR_ORDER)
