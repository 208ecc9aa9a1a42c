"""A program's process tree, read from ``/proc``: how much memory it holds, and every process in it.

Each run is led by a supervisor that is a child subreaper (:mod:`labreport.proctree`), so every
process the program starts stays its descendant, whatever session it moves to and whatever
environment it clears: the tree is found by parent links. The run's session and a per-run token
in the environment are a second net, for a supervisor that could not become a subreaper.

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

from labreport import proctree
from labreport.proctree import PROC

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
TREE_SCAN_INTERVAL = 0.5  # seconds between scans of all of /proc for the program's descendants
supported = proctree.supported


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


def children(pid: int) -> list[int]:
    """The direct children of ``pid``, from one small read (the supervisor's program)."""
    try:
        return [
            int(c) for c in (PROC / str(pid) / "task" / str(pid) / "children").read_text().split()
        ]
    except (OSError, ValueError):
        return []


def tree(leader: int, token: bytes | None = None) -> set[int]:
    """Every live process of a run but its leader: its descendants (all of them, as the leader
    is a subreaper), and as a second net those still in its session or carrying ``token``."""
    found = set(proctree.descendants(leader))
    own = os.getpid()
    for pid in proctree.pids():
        if pid in (own, leader) or pid in found:
            continue
        fields = proctree.stat_fields(pid)
        if fields is None:
            continue
        if int(fields[3]) == leader or (token is not None and _has_token(pid, token)):
            found.add(pid)
    return found


SHM = PROC.parent / "dev" / "shm"


def shm_files() -> dict[str, int]:
    """Name → bytes held of each of this user's files in the machine's shared memory."""
    found = {}
    with contextlib.suppress(OSError), os.scandir(SHM) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                if info.st_uid == os.getuid():
                    found[entry.name] = info.st_blocks * 512
    return found


class MemoryWatch:
    """Tells when a program's tree holds more than ``limit`` bytes.

    The leader's children (the program, under its supervisor) are read on every poll;
    the rest of the tree, which needs a scan of all of ``/proc``, every
    :data:`TREE_SCAN_INTERVAL` seconds, its last total standing in between. With
    ``shared_shm`` (the run could not have a /dev/shm of its own), each file this user made in
    /dev/shm since the run began counts too: over-counting what a concurrent run writes there
    errs on the safe side.
    """

    def __init__(self, leader: int, limit: int, shared_shm: bool = False) -> None:
        self.leader, self.limit = leader, limit
        self._others = 0
        self._next_scan = time.monotonic() + TREE_SCAN_INTERVAL
        # Where the run has no /dev/shm of its own, what it writes there is memory it holds.
        self._shm_before = set(shm_files()) if shared_shm else None

    def over_limit(self) -> int | None:
        """The bytes in use when over the limit, else None."""
        now = time.monotonic()
        # The supervisor only waits, on pages it shares with the program: count the program.
        near = children(self.leader) or [self.leader]
        if now >= self._next_scan:
            far = proctree.descendants(self.leader)
            self._others = sum(resident_bytes(pid) for pid in far if pid not in near)
            if self._shm_before is not None:
                new = shm_files().items()
                self._others += sum(size for name, size in new if name not in self._shm_before)
            self._next_scan = now + TREE_SCAN_INTERVAL
        used = sum(resident_bytes(pid) for pid in near) + self._others
        return used if used > self.limit else None


def kill_tree(leader: int, token: bytes) -> int:
    """SIGKILL every process of the run, its leader last: while the leader lives, it adopts
    the orphans of those killed, so none escapes between two rounds. Returns the kills sent."""
    killed = proctree.kill_descendants(leader)
    killed += proctree.kill_until_gone(lambda: tree(leader, token))
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(leader, signal.SIGKILL)
    return killed


def format_bytes(size: int) -> str:
    """``104857600`` → ``100 MiB``: limits as a person writes them."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
