"""A program's process tree, read from ``/proc``: how much memory it holds, and every process in it.

The runner starts each program as the leader of a new session, so everything the program starts
carries that session id -- unless it calls ``setsid()`` itself, as a daemonising child does. Those
still inherit the run's token in their environment, so the two together find the whole tree.

Memory is measured as the resident set (RSS) of the tree, polled, not as an rlimit: importing torch
maps ~0.8 GB of address space for ~0.35 GB resident, and a CUDA context reserves tens of GB of
address space it never touches, so ``RLIMIT_AS`` fails healthy programs; ``RLIMIT_DATA`` is per
process, so four DataLoader workers would get four times the limit. RSS is what takes a machine
down. It counts pages shared between forked workers once per process, which errs on the safe side.

Linux only, with no third-party package: where there is no ``/proc`` (macOS, Windows) memory is
not limited -- :func:`supported` says so -- and the runner kills only the process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

PROC = Path("/proc")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
TREE_SCAN_INTERVAL = 0.5  # seconds between scans of all of /proc for the program's descendants


def supported() -> bool:
    """Whether this system has a Linux-style ``/proc`` to read processes from."""
    return (PROC / "self" / "stat").is_file()


def _pids() -> Iterator[int]:
    with contextlib.suppress(OSError), os.scandir(PROC) as entries:
        for entry in entries:
            if entry.name.isdigit():
                yield int(entry.name)


def _session_and_rss(pid: int) -> tuple[int, int] | None:
    """(session id, resident bytes) of a live process, or None if it is gone or a zombie."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces and ')'
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[3]), int(fields[21]) * _PAGE


def _has_token(pid: int, token: bytes) -> bool:
    try:
        environ = (PROC / str(pid) / "environ").read_bytes()
    except OSError:  # another user's process, or gone
        return False
    return token in environ.split(b"\0")


def resident_bytes(pid: int) -> int:
    """Resident memory of one process (0 when gone): one small read, cheap enough to poll."""
    try:
        return int((PROC / str(pid) / "statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def members(session: int, token: bytes | None = None) -> dict[int, int]:
    """pid → resident bytes of every live process in ``session`` or carrying ``token``."""
    found = {}
    own = os.getpid()
    for pid in _pids():
        if pid == own:
            continue
        info = _session_and_rss(pid)
        if info is None:
            continue
        if info[0] == session or (token is not None and _has_token(pid, token)):
            found[pid] = info[1]
    return found


class MemoryWatch:
    """Tells when a program's tree holds more than ``limit`` bytes.

    The leader is read on every poll; the rest of the tree, which needs a scan of all of ``/proc``,
    every :data:`TREE_SCAN_INTERVAL` seconds, its last total standing in between.
    """

    def __init__(self, leader: int, limit: int) -> None:
        self.leader, self.limit = leader, limit
        self._others = 0
        self._next_scan = time.monotonic() + TREE_SCAN_INTERVAL

    def over_limit(self) -> int | None:
        """The bytes in use when over the limit, else None."""
        now = time.monotonic()
        if now >= self._next_scan:
            tree = members(self.leader)
            tree.pop(self.leader, None)
            self._others = sum(tree.values())
            self._next_scan = now + TREE_SCAN_INTERVAL
        used = resident_bytes(self.leader) + self._others
        return used if used > self.limit else None


def kill_tree(session: int, token: bytes) -> int:
    """SIGKILL every process of the program's tree, rescanning until none is left.

    A killed process cannot fork again, so a few rounds reach everything a fork loop had started.
    Returns how many processes were killed.
    """
    killed = 0
    for _ in range(10):
        pids = members(session, token)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
        time.sleep(0.01)
    return killed


def format_bytes(size: int) -> str:
    """``104857600`` → ``100 MiB``: limits as a person writes them."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
