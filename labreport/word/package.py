"""The Word package around a record: the extra loaded (or one clear error), and the same
record always the same bytes.

python-docx stamps the time of the call into every zip entry and keeps its template's core
properties (a 2013 date, "python-docx" as author). A build fixes both from the record's build
date (``SOURCE_DATE_EPOCH`` when set), so two builds of one record are byte-identical and
"up to date" can compare the file.
"""

from __future__ import annotations

import datetime
import io
import zipfile
from typing import TYPE_CHECKING

from labreport.errors import RenderError

if TYPE_CHECKING:
    from docx.document import Document

INSTALL = "pip install 'labreport[docx]'"


def require_word() -> None:
    """Raise a one-line RenderError when Word output cannot be made here: python-docx or
    CairoSVG not installed, or the Cairo library CairoSVG draws with not found. Called before
    any program runs, so a build that asks for ``docx`` fails at once, not after training."""
    try:
        import docx  # noqa: F401
    except ImportError as exc:
        raise RenderError(
            "Word output needs python-docx, which is not installed",
            where="--format docx", fix=f"install it with: {INSTALL}",
        ) from exc  # fmt: skip
    try:
        import cairosvg  # noqa: F401
    except ImportError as exc:
        raise RenderError(
            "Word output needs CairoSVG, which is not installed",
            where="--format docx", fix=f"install it with: {INSTALL}",
        ) from exc  # fmt: skip
    except OSError as exc:  # cairocffi found no libcairo
        raise RenderError(
            "Word output draws figures with the Cairo library, which was not found",
            where="--format docx",
            fix="install it: apt install libcairo2 (Debian, Ubuntu), brew install cairo (macOS)",
        ) from exc


def set_properties(document: Document, title: str, author: str, date: datetime.date) -> None:
    """The core properties a reader sees under File > Info, with the build date as the
    document's dates (never the clock: that would make every build differ)."""
    moment = datetime.datetime.combine(date, datetime.time(), datetime.UTC)
    props = document.core_properties
    props.title = title
    props.author = author
    props.last_modified_by = author
    props.comments = ""
    props.created = moment
    props.modified = moment
    props.last_printed = moment
    props.revision = 1
    package = document.part.package
    for rel_id, rel in list(package.rels.items()):  # the template's picture of a blank page
        if rel.reltype.endswith("/thumbnail"):
            package.rels.pop(rel_id)


def fixed_package(data: bytes, date: datetime.date) -> bytes:
    """``data`` (a .docx) rewritten with every zip entry dated ``date``, in the same order."""
    stamp = (max(date.year, 1980), date.month, date.day, 0, 0, 0)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for entry in source.infolist():
            fixed = zipfile.ZipInfo(entry.filename, date_time=stamp)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            target.writestr(fixed, source.read(entry))
    return out.getvalue()
