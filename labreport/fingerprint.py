"""Fingerprints: what a run's results depend on besides the spec -- library versions, the
runner's version, the CPU and its numeric-kernel settings, and the experiment folder's files.

A leaf (nothing of labreport is imported), read by the run cache for its keys, by the build
state for "up to date", by the formula cache and by the record's provenance line. Reading them
imports nothing heavy: versions come from the installed metadata, not from importing NumPy.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import hashlib
import io
import os
import platform
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

# Bump when what a run captures, or how, changes: cached results from older runners are redone.
RUNNER_VERSION = "8"  # 8: figures drawn at the size shown (or a little larger), labreport's style
LIBRARIES = ("numpy", "torch", "matplotlib")  # whose versions key the cache and the record
# Not inputs of a run: caches, and what editors leave beside the file being edited (vim's
# .x.swp, emacs's x~ and .#x, macOS's .DS_Store), rewritten while one types. Digests, scratch
# copies and serve's watch all skip them, so a long training is not re-run for a keystroke.
SKIPPED_DIRS = frozenset({"__pycache__", ".ipynb_checkpoints"})
SKIPPED_FILES = ("*.pyc", "*.swp", "*.swo", "*.swx", "*~", ".#*", "#*#", ".DS_Store")


def skipped_file(name: str) -> bool:
    """Whether a file named ``name`` is an editor's or a cache's, not an input."""
    return any(fnmatch.fnmatch(name, pattern) for pattern in SKIPPED_FILES)


# Environment variables that select other numeric kernels, so other float rounding, on the same
# CPU (../shared/tools/stranger-machine.sh uses the first three).
NUMERIC_SETTINGS = (
    "ATEN_CPU_CAPABILITY",
    "OPENBLAS_CORETYPE",
    "NPY_DISABLE_CPU_FEATURES",
    "NPY_ENABLE_CPU_FEATURES",
    "MKL_CBWR",
    "MKL_ENABLE_INSTRUCTIONS",
)


@cache
def environment_fingerprint() -> dict[str, str]:
    """Versions that change what a program computes (read from metadata, nothing imported),
    the CPU and the settings that pick other numeric kernels on it."""
    versions = {"python": platform.python_version(), "runner": RUNNER_VERSION}
    for name in LIBRARIES:
        versions[name] = installed_version(name)
    return {**versions, **machine_fingerprint()}


def installed_version(name: str) -> str:
    """The version of the distribution ``name`` that ``import name`` would find, or "absent".

    The ``*.dist-info`` folder names on ``sys.path`` say it without importing anything; only
    when that fails is :mod:`importlib.metadata` asked, which alone costs ~30 ms to import —
    a tenth of a no-op build.
    """
    prefix = name.replace("-", "_").lower() + "-"
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as listing:
                found = [
                    item.name for item in listing
                    if item.name.lower().startswith(prefix) and item.name.endswith(".dist-info")
                ]  # fmt: skip
        except OSError:
            continue
        if len(found) == 1:
            return found[0][len(prefix) : -len(".dist-info")]
        if found:
            break  # several versions in one folder: let importlib.metadata decide
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


EntryKind = Literal["file", "folder", "symlink", "special"]
# What each kind of special file is called in messages (stat's file type → words).
_SPECIAL_NAMES = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


@dataclass(frozen=True)
class FolderEntry:
    """One thing in an experiment folder, as found without following any symlink."""

    path: Path  # where it is
    relative: str  # its path under the folder, with /
    kind: EntryKind
    # A symlink: where a copy of it must point to mean the same. A target inside the folder is
    # a path relative to the link's own folder (so the copy points into the copy), any other
    # the absolute target (so a copy elsewhere still reaches it).
    link: str = ""
    leaves: bool = False  # a symlink whose target is outside the folder (or dangling there)
    special: str = ""  # a special file: what it is, in words ("a named pipe (FIFO)")


def skipped_name(name: str) -> bool:
    """Whether a file or folder named ``name`` is a cache's or an editor's, not an input."""
    return name in SKIPPED_DIRS or skipped_file(name)


def folder_entries(folder: Path, *, strict: bool = False) -> Iterator[FolderEntry]:
    """Everything under ``folder`` but caches and editors' files, parents before children.

    No symlink is followed, so a link to ``.`` or to a dataset is one entry, never a loop
    or a walk through someone's home; nothing is opened, so a named pipe cannot block. A
    folder that cannot be listed is left out, or raises OSError when ``strict``.
    """
    root = os.path.realpath(folder)
    pending = [(folder, "")]
    while pending:
        directory, prefix = pending.pop()
        try:
            with os.scandir(directory) as listing:
                items = sorted(listing, key=lambda item: item.name)
        except OSError:
            if strict:
                raise
            continue
        folders = []
        for item in items:
            if skipped_name(item.name):
                continue
            try:
                entry = _entry(item, prefix + item.name, root)
            except FileNotFoundError:
                continue  # removed since the folder was listed
            yield entry
            if entry.kind == "folder":
                folders.append((entry.path, entry.relative + "/"))
        pending.extend(reversed(folders))


def _entry(item: os.DirEntry[str], relative: str, root: str) -> FolderEntry:
    """What ``item`` is, from its own lstat; a symlink is resolved as a path, never opened."""
    path = Path(item.path)
    mode = item.stat(follow_symlinks=False).st_mode
    if stat.S_ISLNK(mode):
        target = os.path.realpath(path)  # never raises: a loop or a dangling link is a path too
        if target == root or target.startswith(root + os.sep):
            here = os.path.join(root, os.path.dirname(relative))
            return FolderEntry(path, relative, "symlink", os.path.relpath(target, here))
        return FolderEntry(path, relative, "symlink", target, leaves=True)
    if stat.S_ISDIR(mode):
        return FolderEntry(path, relative, "folder")
    if stat.S_ISREG(mode):
        return FolderEntry(path, relative, "file")
    name = _SPECIAL_NAMES.get(stat.S_IFMT(mode), "a special file")
    return FolderEntry(path, relative, "special", special=name)


def open_regular(path: Path) -> io.BufferedReader | None:
    """``path`` opened for reading if it is a regular file, else None (a symlink, a named pipe,
    a device: swapped in since the folder was listed). Opened without following a symlink and
    without blocking, so a named pipe put in its place is seen, not waited on."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink
            return None
        raise
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        return None
    return open(descriptor, "rb")


def folder_digest(folder: Path, *, skip: frozenset[str]) -> dict[str, str]:
    """What every file under ``folder`` holds (relative path → SHA-256), ``skip`` excluded.

    Read as the scratch copy is made (see :func:`folder_entries`), so a cache key says what a
    program will find. A symlink or a special file is never opened: each is described instead,
    under its path followed by a NUL (a name no file can have), so that code reading the files
    of a digest by name (``cache.program_inputs``) never opens one. A symlink is keyed by where
    it points; one leaving the folder for a file also by that file's size and modification
    time (from ``stat``, never reading it), so a changed dataset or shared helper is noticed.
    """
    digests = {}
    for entry in folder_entries(folder):
        if entry.relative in skip:
            continue
        if entry.kind == "file":
            try:
                digests[entry.relative] = _file_digest(entry.path)
            except OSError as exc:  # unreadable: the build says so when it copies the folder
                digests[entry.relative] = f"unreadable: {exc.strerror or exc}"
        elif entry.kind == "symlink":
            digests[entry.relative + "\0"] = _link_digest(entry)
        elif entry.kind == "special":
            digests[entry.relative + "\0"] = entry.special
    return digests


def _file_digest(path: Path) -> str:
    """SHA-256 of a regular file's bytes; of what it is, if it was swapped for something else."""
    reader = open_regular(path)
    if reader is None:
        return "not a regular file"
    with reader:
        return hashlib.file_digest(reader, "sha256").hexdigest()


def _link_digest(entry: FolderEntry) -> str:
    """What a symlink stands for: where it points, and what is there when it leaves the folder."""
    described = f"symlink to {entry.link}"
    if entry.leaves:
        with contextlib.suppress(OSError):
            found = os.stat(entry.path)
            if stat.S_ISREG(found.st_mode):
                described += f" ({found.st_size} bytes, modified {found.st_mtime_ns})"
    return described


@cache
def cpu_model() -> str:
    """The CPU's model name and architecture, e.g. ``Intel(R) Xeon(R) Platinum 8488C (x86_64)``."""
    name = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "cpu model", "uarch"):
                    name = " ".join(value.split())
                    break
    except OSError:
        pass
    name = name or platform.processor()
    machine = platform.machine()
    return f"{name} ({machine})" if name and machine and machine not in name else name or machine


@cache
def machine_fingerprint() -> dict[str, str]:
    """The CPU and the numeric-kernel settings in force: part of every run's cache key."""
    fingerprint = {"cpu": cpu_model()}
    for name in NUMERIC_SETTINGS:
        if os.environ.get(name):
            fingerprint[name] = os.environ[name]
    return fingerprint
