"""Write output files so that a reader never sees half of one: a temporary file, then a rename.

A write that fails -- a full disk, a folder without permission, a file where a folder should be --
leaves the target as it was (the last good record stays) and no temporary file behind, and is
reported as one :class:`OutputError` line that says what to do about it.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from labreport.errors import OutputError

_FIXES = {
    errno.ENOSPC: "the disk is full: free some space and build again",
    errno.EDQUOT: "the disk quota is used up: free some space and build again",
    errno.EACCES: "no permission to write there: fix its permissions or choose another folder",
    errno.EPERM: "no permission to write there: fix its permissions or choose another folder",
    errno.EROFS: "the file system is read-only: choose another folder",
    errno.ENOTDIR: "a file is in the way of a folder: remove it or choose another folder",
    errno.EEXIST: "a file is in the way of a folder: remove it or choose another folder",
    errno.EISDIR: "a folder is in the way of the file: remove it or choose another folder",
}


def _explain(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    fix = _FIXES.get(exc.errno or 0)
    return f"{reason} ({fix})" if fix else reason


def write_atomic(target: Path, data: bytes) -> bool:
    """Replace ``target`` with ``data`` in one step; on failure the old file stays as it was.

    A file that already holds exactly ``data`` is left untouched (its mtime too); returns whether
    the file was written.
    """
    try:
        if target.stat().st_size == len(data) and target.read_bytes() == data:
            return False
    except OSError:
        pass
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the folder {target.parent}: {_explain(exc)}") from exc
    tmp_name = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
        tmp_name = None
        return True
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {_explain(exc)}") from exc
    finally:
        if tmp_name is not None:  # also on KeyboardInterrupt: no half-written file is left
            Path(tmp_name).unlink(missing_ok=True)
