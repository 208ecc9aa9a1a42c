"""HTML → PDF with WeasyPrint, which fetches nothing but ``data:`` URLs and project files.

WeasyPrint is imported here only (0.8 s), so HTML-only builds never pay for it. PDFs are
reproducible: fontTools stamps the current time into embedded fonts unless ``SOURCE_DATE_EPOCH``
is set, so it is fixed when the user has not set it.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

log = logging.getLogger(__name__)
FIXED_EPOCH = "946684800"  # 2000-01-01: any constant makes PDFs byte-identical across builds


def project_fetcher(root: Path) -> Any:
    """A WeasyPrint URL fetcher that reads only ``data:`` URLs and files under ``root``."""
    return _fetcher_class(root.resolve())()


def _fetcher_class(root: Path) -> Any:
    import weasyprint

    class ProjectOnlyFetcher(weasyprint.URLFetcher):  # type: ignore[misc]
        """Allows ``data:`` URLs and files under the project root; refuses everything else."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            scheme = urlparse(url).scheme.lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file":
                path = Path(unquote(urlparse(url).path)).resolve()
                if path.is_relative_to(root):
                    return super().fetch(url, headers)
            log.warning("not fetched (outside the project): %s", url)
            raise ValueError(f"labreport fetches nothing outside the project: {url}")

    return ProjectOnlyFetcher


def load_weasyprint() -> Any:
    """Import WeasyPrint set up for reproducible, quiet output."""
    os.environ.setdefault("SOURCE_DATE_EPOCH", FIXED_EPOCH)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    import weasyprint

    return weasyprint


def render_pdf(html: str, *, root: Path) -> bytes:
    """The PDF of ``html``; relative URLs resolve against ``root``, the project folder."""
    weasyprint = load_weasyprint()
    fetcher = project_fetcher(root)
    document = weasyprint.HTML(string=html, base_url=str(root) + os.sep, url_fetcher=fetcher)
    buffer = io.BytesIO()
    document.write_pdf(buffer, uncompressed_pdf=False)
    return buffer.getvalue()
