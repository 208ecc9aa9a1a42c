"""Where a laid-out record breaks badly between pages, in words (#16: pages that break well).

Walks WeasyPrint's own boxes after layout, so nothing is guessed from the PDF's text. The
built-in themes' CSS avoids every one of these on the shipped course (a test walks it); a
teacher's theme or an unusual record can still hit one, and the build says where instead of
leaving it to be found on paper:

- a page less than :data:`MIN_FILL` filled that is not the record's last;
- a last page holding nothing but the closing furniture (marks table, evaluator's block);
- a heading as the last line of a page;
- a question whose answer starts only on a later page;
- a listing that leaves fewer than :data:`MIN_LISTING_LINES` of its lines alone on a page;
- a figure cut from its caption.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MIN_FILL = 0.15
MIN_LISTING_LINES = 5
HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# what a theme prints as a heading without a heading element (the classic theme's "Code:")
HEADING_CLASSES = frozenset({"label", "sublabel", "program-title", "task", "caption"})
CLOSING_CLASSES = frozenset({"assessment", "closing", "evaluator", "evaluator-note", "provenance"})


@dataclass(frozen=True)
class Line:
    """A line box (or a picture) of the page's flow, with the elements it lies in."""

    page: int  # 1-based
    bottom: float
    ancestors: tuple[Any, ...]  # elements, outermost first

    def within(self, tags: frozenset[str], classes: frozenset[str]) -> bool:
        return any(
            element.tag in tags or not classes.isdisjoint(_classes(element))
            for element in self.ancestors
        )


def _classes(element: Any) -> list[str]:
    return str(element.get("class") or "").split()


def _lines(box: Any, page: int, ancestors: tuple[Any, ...]) -> Iterator[Line]:
    from weasyprint.formatting_structure import boxes

    element = getattr(box, "element", None)
    if element is not None and (not ancestors or ancestors[-1] is not element):
        ancestors = (*ancestors, element)
    if isinstance(box, (boxes.LineBox, boxes.ReplacedBox)):
        yield Line(page, box.position_y + box.margin_height(), ancestors)
        return
    for child in getattr(box, "children", ()):
        yield from _lines(child, page, ancestors)


def flow(document: Any) -> list[list[Line]]:
    """Each page's lines in the main flow (not the running header and footer), in order."""
    from weasyprint.formatting_structure import boxes

    pages = []
    for number, page in enumerate(document.pages, start=1):
        root = [c for c in page._page_box.children if not isinstance(c, boxes.MarginBox)]
        pages.append([line for box in root for line in _lines(box, number, ())])
    return pages


def fill(document: Any, lines: list[Line], index: int) -> float:
    """The share of page ``index``'s text area that its flow covers, top to lowest line."""
    page = document.pages[index]._page_box
    if not lines:
        return 0.0
    return float((max(line.bottom for line in lines) - page.content_box_y()) / page.height)


def _text(element: Any) -> str:
    return " ".join("".join(element.itertext()).split())[:40]


def problems(document: Any) -> list[str]:
    """Every bad break in ``document`` (one laid-out record), each as "page N: what"."""
    pages = flow(document)
    found: list[str] = []
    for i, lines in enumerate(pages):
        last = i == len(pages) - 1
        if not last and fill(document, lines, i) < MIN_FILL:
            found.append(f"page {i + 1}: only {fill(document, lines, i):.0%} of it filled")
        if (
            last
            and i
            and lines
            and all(line.within(frozenset(), CLOSING_CLASSES) for line in lines)
        ):
            found.append(f"page {i + 1}: holds only the marks or evaluator's block")
        if lines and not last and lines[-1].within(HEADING_TAGS, HEADING_CLASSES):
            found.append(f"page {i + 1}: ends with the heading {_text(lines[-1].ancestors[-1])!r}")
    found += _split_blocks(pages)
    return found


def _split_blocks(pages: list[list[Line]]) -> list[str]:
    """Questions cut from their answers, listings that leave a few lines alone on a page,
    figures cut from their captions."""
    where: dict[int, list[int]] = {}  # id(element) -> the page of each of its lines
    elements: dict[int, tuple[Any, tuple[Any, ...]]] = {}
    for lines in pages:
        for line in lines:
            for depth, element in enumerate(line.ancestors):
                where.setdefault(id(element), []).append(line.page)
                elements.setdefault(id(element), (element, line.ancestors[:depth]))
    found: list[str] = []
    for key, (element, outer) in elements.items():
        classes, seen = _classes(element), where[key]
        if "question" in classes and outer:
            answer = next((e for e in outer[-1].iter() if "answer" in _classes(e)), None)
            if answer is not None and id(answer) in where and min(where[id(answer)]) > max(seen):
                found.append(
                    f"page {max(seen)}: the question {_text(element)!r} is cut from its answer"
                )
        elif element.tag == "pre" and "listing" in classes:
            per_page = {page: seen.count(page) for page in set(seen)}
            short = [p for p, n in sorted(per_page.items()) if n < MIN_LISTING_LINES]
            if len(per_page) > 1 and short:
                alone = per_page[short[0]]
                found.append(f"page {short[0]}: a listing leaves {alone} of its lines alone there")
        elif element.tag == "figure" and len(set(seen)) > 1:
            found.append(f"page {min(seen)}: a figure is cut from its caption")
    return found
