"""A process and everything it started, read from ``/proc``, and the means to end them all.

Sessions and process groups can be left (``setsid``), environments cleared, parents can die
so that their children are adopted elsewhere. The parent link cannot be forged: a run's
supervisor (:mod:`labreport.child.harness`) is a *child subreaper*, so every process the
program starts, however it detaches, stays its descendant while it lives -- orphans are
adopted by it, not by init. Killing a run is then: every descendant of its supervisor, in
rounds (a killed process cannot fork again), and the supervisor last.

A leaf of the standard library only: the supervisor, inside the program's process tree, uses
it as labreport does.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

PROC = Path("/proc")
_PR_SET_CHILD_SUBREAPER = 36
KILL_ROUNDS = 10  # enough for a fork loop


def supported() -> bool:
    """Whether this system has a Linux-style ``/proc`` to read processes from."""
    return (PROC / "self" / "stat").is_file()


def pids() -> Iterator[int]:
    """Every process id on the machine (that this user can see)."""
    with contextlib.suppress(OSError), os.scandir(PROC) as entries:
        for entry in entries:
            if entry.name.isdigit():
                yield int(entry.name)


def stat_fields(pid: int) -> list[str] | None:
    """``/proc/PID/stat`` from the state on (field 3 onwards), or None if gone or a zombie."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces and ')'
    return None if fields[0] in ("Z", "X") else fields


def descendants(root: int) -> list[int]:
    """Every live process below ``root``, by parent links."""
    children: dict[int, list[int]] = {}
    for pid in pids():
        fields = stat_fields(pid)
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(pid)
    found: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found and child != root:
                found.append(child)
                todo.append(child)
    return found


def kill_until_gone(find: Callable[[], Iterable[int]]) -> int:
    """SIGKILL what ``find`` finds, again and again until it finds nothing (or the rounds run
    out): a killed process cannot fork again, so each round reaches what the last one missed.
    Returns how many kills were sent."""
    killed = 0
    for _ in range(KILL_ROUNDS):
        found = list(find())
        if not found:
            break
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
        time.sleep(0.01)
    return killed


def kill_descendants(root: int) -> int:
    """SIGKILL everything below ``root`` until nothing is left; how many kills were sent."""
    return kill_until_gone(lambda: descendants(root))


def become_subreaper() -> bool:
    """Adopt the orphans of this process's descendants (Linux 3.4+), so none can leave the
    tree; False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    with contextlib.suppress(OSError, AttributeError):
        return bool(
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
        )
    return False
