"""Hiding folders from a process tree: what ``labreport class`` confines each student's build to.

Landlock is an allow-list, so "everything but these folders" is written as the entries that
may be read: every entry of ``/`` except the ancestors of the folders to hide, and inside each
such ancestor, its other children, down to the hidden folders themselves, which get no rule. A
folder to keep inside a hidden one (a student's own scratch folder inside the class build's
scratch root) is allowed again, whole. Landlock does not govern walking a path, so a build still
reaches its files through an ancestor that it cannot list.

``python -P -m labreport.readjail READABLE_JSON -- COMMAND...`` confines itself to the JSON list
of readable paths and then ``exec``s COMMAND: the confinement holds for COMMAND and everything it
starts (its own programs add their write rules as a further layer).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from labreport.child.confine import landlock_abi, restrict_reads


def _under(path: Path, folders: Sequence[Path]) -> bool:
    return any(path == folder or folder in path.parents for folder in folders)


def _above(path: Path, folders: Sequence[Path]) -> bool:
    return any(path in folder.parents for folder in folders)


def readable_paths(
    hide: Sequence[Path], keep: Sequence[Path] = (), root: Path = Path("/")
) -> list[Path]:
    """The paths to allow so that nothing under ``hide`` can be read but what lies under
    ``keep``. A symlink is judged by its target, so a link into a hidden folder is not allowed
    either. Paths are resolved first; a folder that cannot be listed is left out (unreadable)."""
    hidden = [Path(os.path.realpath(path)) for path in hide]
    kept = [Path(os.path.realpath(path)) for path in keep]
    allowed: list[Path] = []
    pending = [Path(os.path.realpath(root))]
    while pending:
        folder = pending.pop()
        try:
            children = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in children:
            entry = folder / name
            target = Path(os.path.realpath(entry))
            if _under(target, kept):
                allowed.append(target)
            elif _under(target, hidden):
                if _above(target, kept) and not entry.is_symlink():
                    pending.append(target)  # a hidden folder that holds one to keep
            elif _above(target, hidden):
                if not entry.is_symlink():  # reached through its real path instead
                    pending.append(target)
            else:
                allowed.append(target)
    return sorted(set(allowed))


def jailed(readable: Sequence[Path], command: Sequence[str]) -> list[str]:
    """``command`` started through this module, confined to ``readable``."""
    paths = json.dumps([str(path) for path in readable])
    return [sys.executable, "-P", "-m", "labreport.readjail", paths, "--", *command]


def main(argv: Sequence[str]) -> int:
    """Confine this process to the readable paths, then become the command."""
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m labreport.readjail READABLE_JSON -- COMMAND...", file=sys.stderr)
        return 2
    readable = json.loads(argv[0])
    if landlock_abi() > 0 and not restrict_reads(readable):
        print("labreport: could not hide the other submissions (Landlock refused)", file=sys.stderr)
        return 70
    os.execv(argv[2], list(argv[2:]))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
