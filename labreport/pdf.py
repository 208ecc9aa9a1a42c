"""HTML → PDF with WeasyPrint, which fetches nothing but ``data:`` URLs and project files.

A template or a spec may name ``http://...`` or ``file:///etc/passwd``; nothing outside the
project is ever fetched or read, and each such reference is reported so the build can warn:
:func:`outside_references` finds them in the HTML (which a browser would fetch), the fetcher
refuses those WeasyPrint asks for (stylesheets may add more).

Nor does a PDF hold a path of the builder's machine: WeasyPrint makes every link absolute, so
a relative ``<a href>`` of a template would become ``file:///home/...``; such links are left
out of the PDF (prose carries the files it links, see :func:`labreport.embed.embed_link`).

WeasyPrint is imported here only (0.8 s), so HTML-only builds never pay for it. PDFs are
reproducible: fontTools stamps the current time into embedded fonts unless ``SOURCE_DATE_EPOCH``
is set, so it is fixed when the user has not set it.
"""

from __future__ import annotations

import io
import logging
import os
import re
import threading
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlparse

log = logging.getLogger(__name__)
FIXED_EPOCH = "946684800"  # 2000-01-01: any constant makes PDFs byte-identical across builds


def is_inside(url: str, root: Path) -> bool:
    """Whether ``url`` is a ``data:`` URL or a file under ``root`` (symlinks resolved)."""
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme == "data":
        return True
    if scheme != "file":
        return False
    try:
        return Path(unquote(parsed.path)).resolve().is_relative_to(root.resolve())
    except (OSError, ValueError, RuntimeError):
        return False


def project_fetcher(root: Path, refused: list[str] | None = None) -> Any:
    """A WeasyPrint URL fetcher that reads only ``data:`` URLs and files under ``root``.

    Each refused URL is appended to ``refused`` when given (the caller warns once per build),
    else logged as a warning.
    """
    return _fetcher_class(root.resolve(), refused)()


def _fetcher_class(root: Path, refused: list[str] | None) -> Any:
    base: Any = load_weasyprint().URLFetcher

    class ProjectOnlyFetcher(base):  # type: ignore[misc]
        """Allows ``data:`` URLs and files under the project root; refuses everything else."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            if is_inside(url, root):
                return super().fetch(url, headers)
            if refused is None:
                log.warning("not fetched (outside the project): %s", url)
            elif url not in refused:
                refused.append(url)
            raise ValueError(f"labreport fetches nothing outside the project: {url}")

    return ProjectOnlyFetcher


# Attributes through which a page loads something (links a reader follows are not listed).
_RESOURCE_ATTRS = {"src", "poster", "data", "background"}
_LOADING_LINKS = {"stylesheet", "icon", "preload", "prefetch", "import", "manifest"}
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""", re.I)


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        rel = set((values.get("rel") or "").lower().split())
        for name, value in attrs:
            if not value:
                continue
            loads = tag in ("image", "use") or bool(rel & _LOADING_LINKS)
            if name == "srcset":
                self.urls += [part.split()[0] for part in value.split(",") if part.strip()]
            elif name in _RESOURCE_ATTRS or (name in ("href", "xlink:href") and loads):
                self.urls.append(value)
            elif name == "style":
                self._css(value)
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self._css(data)

    def _css(self, text: str) -> None:
        self.urls += [a or b for a, b in _CSS_URL.findall(text)]


def outside_references(html: str, root: Path) -> list[str]:
    """The resources ``html`` loads from outside ``root`` (relative ones resolve against it), in
    order, once each: what a browser opening the record would fetch and the PDF leaves out."""
    parser = _References()
    parser.feed(html)
    parser.close()
    base = root.resolve().as_uri() + "/"
    found: list[str] = []
    for ref in parser.urls:
        url = urljoin(base, ref.strip())
        if not is_inside(url, root) and url not in found:
            found.append(url)
    return found


_IMPORT_LOCK = threading.Lock()  # imports of large packages from two threads at once can fail


def load_weasyprint() -> Any:
    """Import WeasyPrint set up for reproducible, quiet output; once, whatever the threads."""
    with _IMPORT_LOCK:
        os.environ.setdefault("SOURCE_DATE_EPOCH", FIXED_EPOCH)
        logging.getLogger("weasyprint").setLevel(logging.ERROR)
        logging.getLogger("fontTools").setLevel(logging.ERROR)
        import weasyprint

        return weasyprint


def render_pdf(
    html: str,
    *,
    root: Path,
    refused: list[str] | None = None,
    breaks: list[str] | None = None,
    variant: str | None = None,
) -> bytes:
    """The PDF of ``html``; relative URLs resolve against ``root``, the project folder. URLs
    outside the project are left out and, with ``refused`` given, appended to it; with
    ``breaks`` given, the pages that break badly (:mod:`labreport.pagecheck`) are. ``variant``:
    the archival PDF asked for (:mod:`labreport.pdfvariant`), None for a plain one."""
    from labreport import pagecheck

    weasyprint = load_weasyprint()
    fetcher = project_fetcher(root, refused)
    source = weasyprint.HTML(string=html, base_url=str(root) + os.sep, url_fetcher=fetcher)
    document = source.render(uncompressed_pdf=False)
    if breaks is not None:
        breaks += pagecheck.problems(document)
    for page in document.pages:
        page.links[:] = [link for link in page.links if not _local_file(link)]
    buffer = io.BytesIO()
    document.write_pdf(buffer, uncompressed_pdf=False, **variant_options(variant))
    return buffer.getvalue()


def _local_file(link: tuple[Any, ...]) -> bool:
    """Whether a link WeasyPrint laid out leads to a file of this machine (``file:``): it
    would carry the builder's absolute path, and lead nowhere on a reader's machine."""
    kind, target = link[0], link[1]
    return kind == "external" and urlparse(str(target)).scheme.lower() == "file"


def variant_options(variant: str | None) -> dict[str, Any]:
    """``write_pdf``'s options for ``variant``: none for a plain PDF, so its bytes stay what
    they were before variants existed."""
    return {} if variant is None else {"pdf_variant": variant}
