"""Files carried inside a record as ``data:`` URIs: theme assets and the pictures of the prose.

A record is one self-contained file (mailed, uploaded to a course site) and the PDF needs
nothing from outside, so every picture travels inside the HTML, never as a link that breaks
once the file moves.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from pathlib import Path
from urllib.parse import unquote

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


def check_size(data: bytes) -> None:
    if len(data) > MAX_EMBED_BYTES:
        raise EmbedError(
            f"is {len(data) // 1024} KiB",
            f"shrink it below {MAX_EMBED_BYTES // 1024 // 1024} MiB (records are mailed around)",
        )


def embed_picture(folder: Path, src: str) -> str:
    """``src`` of a Markdown picture (``![a GRU cell](gru_cell.png)``) as a ``data:`` URI of
    the file in the experiment ``folder``; a URL (``https:``, ``data:``) is left as written."""
    if _SCHEME.match(src):
        return src
    name = unquote(src.split("#", 1)[0].split("?", 1)[0])
    root = folder.resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root):
        raise EmbedError(
            f"picture {src!r} is outside the experiment folder",
            f"copy it into {folder.name}/ and write its path relative to it",
        )
    try:
        data = path.read_bytes()
    except OSError:
        raise EmbedError(
            f"picture {src!r} not found in {folder.name}/",
            f"put the file in {folder.name}/, or correct the path: it is relative to that folder",
        ) from None
    try:
        check_size(data)
    except EmbedError as exc:
        raise EmbedError(f"picture {src!r} {exc.what}", exc.fix) from None
    return data_uri(data, path.name)
