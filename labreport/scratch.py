"""The scratch folders programs run in: creating them, copying an experiment into one, reaping
the ones a killed labreport left behind.

Each folder (``labreport-run-*`` for one program, ``labreport-pipeline-*`` for a ``workdir:
shared`` pipeline) lives in the temp dir and holds a marker file that its owner keeps locked
(``flock``) from the moment the folder can be seen under its marker until it is removed. The
kernel drops the lock when the owner dies, however it dies, so a folder whose lock can be taken
was abandoned (``kill -9``, a power cut): :func:`reap_abandoned` removes those, and never a
folder of a labreport that still runs. A folder without a marker (an older labreport's, or one
killed in the instant between creating it and locking its marker) is never touched.

The copy follows no symlink and opens nothing but regular files (see
:func:`labreport.fingerprint.folder_entries`): a symlink is copied as a symlink, pointing into
the copy when its target is inside the experiment folder and to the same absolute target when
it leaves it, so ``a -> .`` is no loop, ``zero -> /dev/zero`` costs nothing and ``data ->
~/datasets/mnist`` still reads at run time. A named pipe, socket or device node is refused.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any, Literal

from labreport.errors import SpecError
from labreport.fingerprint import FolderEntry, folder_entries, open_regular

try:
    import fcntl
except ImportError:  # Windows: no flock, so no way to tell a live owner from a dead one
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

PREFIXES = {"run": "labreport-run-", "pipeline": "labreport-pipeline-", "class": "labreport-class-"}
MARKER = ".labreport-owner"  # locked by the folder's owner while it lives
_NEW_MARKER = MARKER + ".new"  # locked before it is renamed into place: never seen unlocked
_OPEN_FLAGS = os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


# ------------------------------------------------------------------------------ creating


@contextlib.contextmanager
def scratch_folder(kind: Literal["run", "pipeline", "class"]) -> Iterator[Path]:
    """A new, empty folder in the temp dir, owned (its marker locked) until the block ends and
    it is removed. Removal happens under the lock, so no reaper ever races the owner."""
    folder = Path(tempfile.mkdtemp(prefix=PREFIXES[kind]))
    try:
        marker = _lock_marker(folder)
    except BaseException:
        _remove_folder(folder)
        raise
    try:
        yield folder
    finally:
        _remove_folder(folder)
        if marker is not None:
            os.close(marker)  # releases the lock, after the folder is gone


def _lock_marker(folder: Path) -> int | None:
    """Create the folder's marker and lock it: under another name first, renamed once locked,
    so a reaper finds either no marker (and leaves the folder alone) or a locked one."""
    if fcntl is None:
        return None
    new = folder / _NEW_MARKER
    marker = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _OPEN_FLAGS, 0o600)
    try:
        fcntl.flock(marker, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(new, folder / MARKER)
    except BaseException:
        os.close(marker)
        raise
    return marker


# ------------------------------------------------------------------------------ copying


def copy_experiment(
    experiment_dir: Path, work: Path, leave_out: frozenset[str] = frozenset()
) -> None:
    """The scratch copy a program runs in: the experiment folder without caches, so programs
    read their data by relative path and cannot litter the project. ``leave_out``: names of
    top-level entries not copied (``labreport class`` leaves a submission's ``.labreport/``
    cache and ``build/`` out, so that no result of a student's own making is reused).

    Every entry is listed before anything is copied, so a special file is refused before a
    large folder is copied for nothing. Raises SpecError for a special file, OSError when the
    folder cannot be read or the copy written.
    """
    entries = [
        entry for entry in folder_entries(experiment_dir, strict=True)
        if entry.relative.split("/", 1)[0] not in leave_out
    ]  # fmt: skip
    refuse_special(experiment_dir, entries)
    work.mkdir()
    for entry in entries:
        target = work / entry.relative
        if entry.kind == "folder":
            target.mkdir()
        elif entry.kind == "symlink":
            os.symlink(entry.link, target)
        else:
            _copy_file(experiment_dir, entry, target)


def refuse_special(experiment_dir: Path, entries: Iterable[FolderEntry]) -> None:
    """SpecError for the first special file (a named pipe, a socket, a device) among
    ``entries``: no copy of the folder, here or on a Dask worker, can hold one."""
    for entry in entries:
        if entry.kind == "special":
            raise _special_file_error(experiment_dir, entry.relative, entry.special)


def _copy_file(experiment_dir: Path, entry: FolderEntry, target: Path) -> None:
    """Copy one regular file with its permissions and times; never open anything else."""
    reader = open_regular(entry.path)
    if reader is None:  # swapped for a named pipe or a link since the folder was listed
        raise SpecError(
            "was replaced by something other than a file while it was copied",
            where=_shown(experiment_dir, entry.relative), fix="build again",
        )  # fmt: skip
    with reader:
        found = os.fstat(reader.fileno())
        with open(target, "xb") as writer:
            shutil.copyfileobj(reader, writer, 1 << 20)
    os.chmod(target, stat.S_IMODE(found.st_mode))
    os.utime(target, ns=(found.st_atime_ns, found.st_mtime_ns))


def _special_file_error(experiment_dir: Path, relative: str, what: str) -> SpecError:
    return SpecError(
        f"{what} cannot be copied into the folder the programs run in",
        where=_shown(experiment_dir, relative),
        fix="remove it from the experiment folder, or keep it elsewhere and link to it: "
        "symlinks are copied as links",
    )


def _shown(experiment_dir: Path, relative: str) -> str:
    """A file of the experiment as messages name it: ``experiments/<id>/<path>``."""
    return Path(experiment_dir.parent.name, experiment_dir.name, relative).as_posix()


# ------------------------------------------------------------------------------ reaping


@cache
def reap_once() -> None:
    """:func:`reap_abandoned`, the first time a process asks: when its builds begin."""
    removed = reap_abandoned()
    if removed:
        log.info("removed %d scratch folder(s) of killed labreport runs", len(removed))


def reap_abandoned(temp_dir: Path | None = None) -> list[Path]:
    """Remove the scratch folders in ``temp_dir`` (default: the temp dir) whose owner is dead:
    those whose marker's lock can be taken. Never one of another user, one without a marker, or
    one whose owner lives; never through a symlink. The folders removed."""
    if fcntl is None:
        return []
    try:
        root = temp_dir or Path(tempfile.gettempdir())
        with os.scandir(root) as listing:
            candidates = [
                Path(item.path) for item in listing
                if item.name.startswith(tuple(PREFIXES.values()))
                and item.is_dir(follow_symlinks=False)
            ]  # fmt: skip
    except OSError:
        return []
    return [folder for folder in candidates if _reap(folder)]


def _reap(folder: Path) -> bool:
    """Remove ``folder`` if its owner is dead; whether it did."""
    assert fcntl is not None
    try:
        if os.lstat(folder).st_uid != os.getuid():
            return False
        marker = os.open(folder / MARKER, os.O_RDONLY | _OPEN_FLAGS)
    except OSError:  # no marker: being created, or not a folder this labreport can judge
        return False
    try:
        try:
            fcntl.flock(marker, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # its owner lives
        if not _same_file(marker, folder / MARKER):
            return False  # its owner removed it while we looked
        _remove_folder(folder)
        return True
    finally:
        os.close(marker)


def _same_file(descriptor: int, path: Path) -> bool:
    """Whether ``path`` is still the regular file open as ``descriptor``."""
    try:
        found, held = os.lstat(path), os.fstat(descriptor)
    except OSError:
        return False
    same = (found.st_dev, found.st_ino) == (held.st_dev, held.st_ino)
    return same and stat.S_ISREG(held.st_mode)


# ------------------------------------------------------------------------------ removing


def _remove_folder(folder: Path) -> None:
    """Remove a scratch folder, its marker last: if this is cut short, the folder still has
    its marker, so the next reaping finishes the job. Errors are left to that next reaping."""
    try:
        with os.scandir(folder) as listing:
            items = [item for item in listing if item.name != MARKER]
    except OSError:
        items = []
    for item in items:
        _remove(item.path, item.is_dir(follow_symlinks=False))
    with contextlib.suppress(OSError):
        os.unlink(folder / MARKER)
    with contextlib.suppress(OSError):
        os.rmdir(folder)


def _remove(path: str, is_folder: bool) -> None:
    """Remove a file, a symlink (never what it points to) or a whole folder."""
    if not is_folder:
        with contextlib.suppress(OSError):
            os.unlink(path)
        return
    retried: set[str] = set()
    shutil.rmtree(path, onerror=_give_permission_back(retried))  # follows no symlink


def _give_permission_back(retried: set[str]) -> Callable[[Any, str, Any], None]:
    """An ``rmtree`` error handler: a program may leave a folder it cannot write or list
    (``chmod 0``); everything under a scratch folder is ours, so give the permission back
    and try once more. Any other error is left for the next reaping."""

    def handle(function: Any, path: str, error: Any) -> None:
        if not issubclass(error[0], PermissionError) or path in retried:
            return
        retried.add(path)
        try:
            for folder in (os.path.dirname(path), path):
                if not os.path.islink(folder):
                    os.chmod(folder, 0o700)
        except OSError:
            return
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, onerror=handle)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)

    return handle
