"""Files carried inside a record as ``data:`` URIs: theme assets, and the pictures and linked
files of the prose.

A record is one self-contained file (mailed, uploaded to a course site) and the PDF needs
nothing from outside, so every picture travels inside the HTML, never as a link that breaks
once the file moves.
"""

from __future__ import annotations

import base64
import mimetypes
import os
import re
from pathlib import Path
from urllib.parse import unquote

from labreport.fingerprint import open_regular

MAX_EMBED_BYTES = 2 * 1024 * 1024  # records are mailed around
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|^//")


class EmbedError(ValueError):
    """A picture that cannot be embedded: ``what`` went wrong and the ``fix``."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(what)
        self.what, self.fix = what, fix


def data_uri(data: bytes, filename: str) -> str:
    mime = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def check_size(data: bytes, size: int | None = None) -> None:
    """EmbedError if ``data`` (or a file of ``size`` bytes, not read) is over the limit."""
    size = len(data) if size is None else size
    if size > MAX_EMBED_BYTES:
        raise EmbedError(
            f"is {size // 1024} KiB",
            f"shrink it below {MAX_EMBED_BYTES // 1024 // 1024} MiB (records are mailed around)",
        )


def embed_picture(folder: Path, src: str) -> str:
    """``src`` of a Markdown picture (``![a GRU cell](gru_cell.png)``) as a ``data:`` URI of
    the file in the experiment ``folder``; a URL (``https:``, ``data:``) is left as written."""
    if _SCHEME.match(src):
        return src
    path = _file_inside(folder, src, "picture")
    return data_uri(_read(folder, path, src, "picture"), path.name)


def embed_link(folder: Path, href: str) -> tuple[str, str | None]:
    """``href`` of a Markdown link (``[the data](data.csv)``), and the name to save it under.

    A URL or a place in the record (``#results``) is left as written. A file of the experiment
    ``folder`` is carried in the record as a ``data:`` URI, like a picture: a relative link
    would break once the record is mailed, and the PDF would hold the builder's absolute path
    (WeasyPrint makes every link absolute). A path out of the folder is an EmbedError.
    """
    if _SCHEME.match(href) or href.startswith("#") or not href:
        return href, None
    path = _file_inside(folder, href, "link")
    if path.is_dir():
        raise EmbedError(
            f"link {href!r} is a folder, not a file", "link a file, which the record carries"
        )
    return data_uri(_read(folder, path, href, "link"), path.name), path.name


def _file_inside(folder: Path, src: str, kind: str) -> Path:
    """The file a relative ``src`` names in ``folder`` (symlinks resolved), or an EmbedError
    if it is outside."""
    name = unquote(src.split("#", 1)[0].split("?", 1)[0])
    root = folder.resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root):
        raise EmbedError(
            f"{kind} {src!r} is outside the experiment folder",
            f"copy it into {folder.name}/ and write its path relative to it",
        )
    return path


def _read(folder: Path, path: Path, src: str, kind: str) -> bytes:
    try:
        # Never a named pipe or a device (reading one blocks or never ends), never more than
        # the limit and one byte: enough to say it is too large.
        opened = open_regular(path)
        if opened is None:
            raise EmbedError(
                f"{kind} {src!r} is not a regular file", "link or show a file, not a pipe or device"
            )
        with opened:
            size = os.fstat(opened.fileno()).st_size
            data = b"" if size > MAX_EMBED_BYTES else opened.read(MAX_EMBED_BYTES + 1)
    except OSError:
        raise EmbedError(
            f"{kind} {src!r} not found in {folder.name}/",
            f"put the file in {folder.name}/, or correct the path: it is relative to that folder",
        ) from None
    try:
        check_size(data, max(size, len(data)))
    except EmbedError as exc:
        raise EmbedError(f"{kind} {src!r} {exc.what}", exc.fix) from None
    return data
