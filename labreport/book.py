"""The bound lab record: a cover, an index page, then every experiment with continuous pages.

Each experiment keeps its own format. Its HTML (from the normal build, so runs are cached) is laid
out by WeasyPrint with its first page numbered where it falls in the book, so the index's
"Page No." column and every page's own number agree. The index is laid out twice: once to learn
how many pages the front matter takes, once with the real numbers.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labreport.errors import RenderError
from labreport.output import write_atomic
from labreport.project import PLACEHOLDER, Project
from labreport.spec import load_experiment
from labreport.themes import ThemeSearchPath


@dataclass(frozen=True)
class BookEntry:
    number: int
    title: str
    date: str
    html: str
    pdf: str | None
    page: int | str = ""


BOOK_PDF = "lab-record.pdf"
INDEX_HTML = "index.html"


def _front_context(project: Project, entries: list[BookEntry]) -> dict[str, Any]:
    """What book/index.html and book/front.html receive: ``book`` is the bound PDF beside the
    index, and ``placeholder`` the text of a blank field (the printed index leaves a blank date
    cell empty, to be written in by hand, rather than wrapping the placeholder over 3 lines)."""
    return {
        "course": project.course(),
        "student": project.student(),
        "entries": entries,
        "book": BOOK_PDF,
        "placeholder": PLACEHOLDER,
    }


def collect_entries(project: Project, ids: list[str], out_dir: Path) -> list[BookEntry]:
    """One entry per experiment whose HTML record exists in ``out_dir``."""
    entries = []
    for exp_id in ids:
        spec = load_experiment(project.experiments_dir / exp_id, display_root=project.root).spec
        html = out_dir / f"{exp_id}.html"
        if not html.is_file():
            raise RenderError(f"{html}: missing; build the experiment first")
        pdf = out_dir / f"{exp_id}.pdf"
        entries.append(
            BookEntry(
                number=spec.number,
                title=spec.title,
                date=project.date(exp_id, spec.date),
                html=html.name,
                pdf=pdf.name if pdf.is_file() else None,
            )
        )
    return entries


def write_index_html(project: Project, entries: list[BookEntry], search: ThemeSearchPath) -> str:
    template = search.environment().get_template("book/index.html")
    return template.render(_front_context(project, entries))


def render_book(
    project: Project,
    entries: list[BookEntry],
    out_dir: Path,
    search: ThemeSearchPath,
    breaks: list[str] | None = None,
    variant: str | None = None,
) -> bytes:
    """The whole lab record as one PDF; with ``breaks`` given, where its cover and index break
    badly (each record's own pages were checked when it was built); ``variant``: the archival
    PDF asked for (:mod:`labreport.pdfvariant`), None for a plain one."""
    from labreport import pagecheck
    from labreport.pdf import load_weasyprint, project_fetcher, variant_options

    weasyprint = load_weasyprint()
    fetcher = project_fetcher(project.root)
    base_url = str(project.root) + os.sep
    front_template = search.environment().get_template("book/front.html")

    def front(with_pages: list[BookEntry]) -> Any:
        html = front_template.render(_front_context(project, with_pages))
        return weasyprint.HTML(string=html, base_url=base_url, url_fetcher=fetcher).render()

    draft = front([BookEntry(**{**e.__dict__, "page": 999}) for e in entries])
    next_page = len(draft.pages) + 1
    documents, numbered = [], []
    for entry in entries:
        html = (out_dir / entry.html).read_text(encoding="utf-8")
        offset = weasyprint.CSS(string=f"@page :first {{ counter-reset: page {next_page} }}")
        document = weasyprint.HTML(string=html, base_url=base_url, url_fetcher=fetcher).render(
            stylesheets=[offset]
        )
        numbered.append(BookEntry(**{**entry.__dict__, "page": next_page}))
        documents.append(document)
        next_page += len(document.pages)
    cover = front(numbered)
    if breaks is not None:
        breaks += [
            f"{BOOK_PDF} (cover and index) {problem}" for problem in pagecheck.problems(cover)
        ]
    if len(cover.pages) != len(draft.pages):
        raise RenderError("the index changed length when numbered; please report this")
    pages = [page for document in (cover, *documents) for page in document.pages]
    buffer = io.BytesIO()
    cover.copy(pages).write_pdf(buffer, **variant_options(variant))
    return buffer.getvalue()


def bind_book(
    project: Project,
    ids: list[str],
    out_dir: Path,
    search: ThemeSearchPath,
    breaks: list[str] | None = None,
    variant: str | None = None,
) -> tuple[Path, Path]:
    """Write ``index.html`` and ``lab-record.pdf`` into ``out_dir`` from the records built
    there (``labreport book`` builds them first); returns the two paths. ``breaks``: as for
    :func:`render_book`; ``variant``: the bound PDF's archival variant."""
    entries = collect_entries(project, ids, out_dir)
    # Laid out first: the index links the bound PDF, so it is written only once that exists.
    book = render_book(project, entries, out_dir, search, breaks, variant)
    target = out_dir / BOOK_PDF
    write_atomic(target, book)
    index = out_dir / INDEX_HTML
    write_atomic(index, write_index_html(project, entries, search).encode())
    return index, target
