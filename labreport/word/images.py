"""Pictures for Word: what the HTML embeds as ``data:`` URIs, as PNG at print resolution.

The run captures figures as SVG, and formulas are SVG too; Word needs a bitmap (its own SVG
support still wants one as a fallback), so each is drawn by CairoSVG at :data:`PRINT_DPI`
(formulas at their printed size, so their strokes stay as sharp as the text around them). A
PNG, JPEG or GIF picture from the prose is kept as it is.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from functools import lru_cache

PRINT_DPI = 300
_POINTS_PER_INCH = 72
_DATA_URI = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)(?P<b64>;base64)?,(?P<data>.*)", re.S)
_SVG = "http://www.w3.org/2000/svg"
_XLINK = "http://www.w3.org/1999/xlink"
_KEPT = ("image/png", "image/jpeg", "image/gif")


@dataclass(frozen=True)
class Picture:
    """A bitmap and the size it prints at, in points (0: the size the bitmap says)."""

    png: bytes
    width: float = 0.0
    height: float = 0.0


def decode(src: str) -> tuple[str, bytes] | None:
    """A ``data:`` URI's type and bytes; None for anything else (a web address: a link)."""
    match = _DATA_URI.fullmatch(src.strip())
    if not match:
        return None
    data = match.group("data")
    try:
        raw = base64.b64decode(data) if match.group("b64") else data.encode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return match.group("mime"), raw


@lru_cache(maxsize=256)  # a formula such as $t$ comes back many times in one record
def picture(src: str, width: float = 0.0, height: float = 0.0) -> Picture | None:
    """The picture of ``src`` (a ``data:`` URI) at ``width`` by ``height`` points (0: its own
    size), or None where it is no picture Word can show."""
    decoded = decode(src)
    if decoded is None:
        return None
    mime, raw = decoded
    if mime in _KEPT:
        return Picture(raw, width, height)
    if mime != "image/svg+xml":
        return None
    import cairosvg

    raw = without_uses(raw)
    try:
        if width:
            pixels = max(1, round(width / _POINTS_PER_INCH * PRINT_DPI))
            png = cairosvg.svg2png(bytestring=raw, output_width=pixels, unsafe=False)
        else:  # its own size: the SVG's points at print resolution
            png = cairosvg.svg2png(bytestring=raw, dpi=PRINT_DPI, unsafe=False)
    except Exception:  # noqa: BLE001 - a picture CairoSVG cannot read is left out, not fatal
        return None
    if not width:
        width, height = (v / PRINT_DPI * _POINTS_PER_INCH for v in png_size(png))
    return Picture(png, width, height)


def without_uses(svg: bytes) -> bytes:
    """``svg`` with each ``<use>`` replaced by a copy of what it refers to. matplotlib draws
    every letter and marker as a ``<use>``, and CairoSVG reads the whole file again for each
    one: a figure took a second and a half, and takes a tenth of that so. An SVG this cannot
    read is returned as it is (CairoSVG then says what is wrong with it)."""
    from copy import deepcopy
    from xml.etree import ElementTree

    ElementTree.register_namespace("", _SVG)
    ElementTree.register_namespace("xlink", _XLINK)
    try:
        root = ElementTree.fromstring(svg)
    except ElementTree.ParseError:
        return svg
    ids = {element.get("id"): element for element in root.iter() if element.get("id")}
    href = f"{{{_XLINK}}}href"
    uses = 0
    for parent in list(root.iter()):
        for i, child in enumerate(list(parent)):
            if child.tag != f"{{{_SVG}}}use":
                continue
            ref = child.get(href) or child.get("href") or ""
            target = ids.get(ref[1:]) if ref.startswith("#") else None
            if target is None or target.tag == f"{{{_SVG}}}use":
                continue
            moved = ("x", "y", "width", "height", "href", href)
            group = ElementTree.Element(
                f"{{{_SVG}}}g", {k: v for k, v in child.attrib.items() if k not in moved}
            )
            x, y = child.get("x", "0"), child.get("y", "0")
            transform = child.get("transform", "")
            if x not in ("0", "") or y not in ("0", ""):  # x, y translate after the transform
                transform = f"{transform} translate({x} {y})".strip()
            if transform:
                group.set("transform", transform)
            copy = deepcopy(target)
            copy.attrib.pop("id", None)
            group.append(copy)
            parent[i] = group
            uses += 1
    return ElementTree.tostring(root) if uses else svg


def png_size(png: bytes) -> tuple[int, int]:
    """Pixels across and down, from the PNG's header."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def css_size(style: str, font_size: float) -> tuple[float, float, float]:
    """Width, height and vertical offset in points of a formula's ``style`` (em units, as
    render.py writes them: ``width:4.844em;height:1.175em;vertical-align:-0.294em``)."""
    values = {
        key: float(value) * font_size
        for key, value in re.findall(r"([\w-]+)\s*:\s*(-?[\d.]+)em", style)
    }
    return values.get("width", 0.0), values.get("height", 0.0), values.get("vertical-align", 0.0)
