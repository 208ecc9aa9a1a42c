"""The scratch folders programs run in: creating them and copying an experiment into one.

Each folder (``labreport-run-*`` for one program, ``labreport-pipeline-*`` for a ``workdir:
shared`` pipeline) lives in the temp dir and is removed when its block ends.

The copy follows no symlink and opens nothing but regular files (see
:func:`labreport.fingerprint.folder_entries`): a symlink is copied as a symlink, pointing into
the copy when its target is inside the experiment folder and to the same absolute target when
it leaves it, so ``a -> .`` is no loop, ``zero -> /dev/zero`` costs nothing and ``data ->
~/datasets/mnist`` still reads at run time. A named pipe, socket or device node is refused.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from labreport.errors import SpecError
from labreport.fingerprint import FolderEntry, folder_entries, open_regular

PREFIXES = {"run": "labreport-run-", "pipeline": "labreport-pipeline-"}


# ------------------------------------------------------------------------------ creating


@contextlib.contextmanager
def scratch_folder(kind: Literal["run", "pipeline"]) -> Iterator[Path]:
    """A new, empty folder in the temp dir, removed when the block ends."""
    folder = Path(tempfile.mkdtemp(prefix=PREFIXES[kind]))
    try:
        yield folder
    finally:
        _remove_folder(folder)


# ------------------------------------------------------------------------------ copying


def copy_experiment(experiment_dir: Path, work: Path) -> None:
    """The scratch copy a program runs in: the experiment folder without caches, so programs
    read their data by relative path and cannot litter the project.

    Every entry is listed before anything is copied, so a special file is refused before a
    large folder is copied for nothing. Raises SpecError for a special file, OSError when the
    folder cannot be read or the copy written.
    """
    entries = list(folder_entries(experiment_dir, strict=True))
    for entry in entries:
        if entry.kind == "special":
            raise _special_file_error(experiment_dir, entry.relative, entry.special)
    work.mkdir()
    for entry in entries:
        target = work / entry.relative
        if entry.kind == "folder":
            target.mkdir()
        elif entry.kind == "symlink":
            os.symlink(entry.link, target)
        else:
            _copy_file(experiment_dir, entry, target)


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


# ------------------------------------------------------------------------------ removing


def _remove_folder(folder: Path) -> None:
    """Remove a scratch folder and everything in it, following no symlink."""
    _remove(str(folder), True)


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
    and try once more. Any other error is ignored: a leftover is the temp dir's business."""

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
