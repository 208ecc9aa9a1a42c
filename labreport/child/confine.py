"""Runs *inside* the program's process, before the program: what it may write, and its own /dev/shm.

A program may read what its user can read (datasets live anywhere), but it may write only in
its scratch copy, its results folder, its own temp folder, ``/dev/shm`` and a few device files.
Two Linux mechanisms, both unprivileged and both optional:

* **Landlock** (Linux ≥ 5.13): a ruleset that handles every write-like access and allows it
  only beneath those folders. Landlock also stops the process from reaching into processes
  outside its domain (``/proc/<labreport's pid>/fd/2``, ``/proc/<pid>/cwd``: ptrace checks),
  and from ABI 6 on (Linux 6.12) from signalling them.
* **A user and mount namespace** with a tmpfs of the run's memory limit on ``/dev/shm``: what the
  program writes there is private to the run and goes with its last process, instead of
  outliving it in the machine's shared memory beyond its memory limit.

Each is tried on its own; what was achieved is returned, so the record's run environment and
the build's one-line warning can say what held. Only the standard library is imported: ctypes
speaks to the kernel, as no well-kept Landlock binding exists on PyPI for Python 3.11.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
from collections.abc import Sequence
from pathlib import Path

# Linux's syscall numbers, the same on every architecture that has Landlock (the "generic" table).
_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

# Write-like file-system rights (linux/landlock.h), with the ABI version that brought each.
_WRITE_FILE = 1 << 1
_FILE_RIGHTS = {1: _WRITE_FILE, 3: 1 << 14}  # TRUNCATE: ABI 3
_DIR_RIGHTS = {
    1: (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11)
    | (1 << 12),  # REMOVE_DIR/FILE, MAKE_CHAR/DIR/REG/SOCK/FIFO/BLOCK/SYM
    2: 1 << 13,  # REFER: rename and link across folders
}  # fmt: skip
_SCOPES = {6: (1 << 0) | (1 << 1)}  # ABSTRACT_UNIX_SOCKET, SIGNAL: ABI 6

#: Device files a program may write: the bit buckets, and GPUs (CUDA opens its devices for
#: writing). Never a terminal: the program's output goes through labreport, filtered.
WRITABLE_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
GPU_DEVICE_GLOBS = ("nvidia*", "dri", "kfd")
SHM = "/dev/shm"


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _rights(table: dict[int, int], abi: int) -> int:
    return sum(bits for version, bits in table.items() if abi >= version)


def landlock_abi() -> int:
    """The Landlock ABI version the kernel offers; 0 where there is none."""
    if platform.system() != "Linux":
        return 0
    try:
        version = _libc().syscall(_SYS_LANDLOCK_CREATE_RULESET, None, 0, _CREATE_RULESET_VERSION)
    except (OSError, AttributeError):
        return 0
    return max(int(version), 0)


def _writable_devices() -> list[str]:
    devices = [path for path in WRITABLE_DEVICES if os.path.exists(path)]
    for pattern in GPU_DEVICE_GLOBS:
        devices += [str(path) for path in Path("/dev").glob(pattern)]
    return devices


def _add_rule(libc: ctypes.CDLL, ruleset: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a folder that does not exist cannot be written to anyway
    try:
        attr = _PathBeneathAttr(access, fd)
        if libc.syscall(_SYS_LANDLOCK_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(attr), 0):
            err = ctypes.get_errno()
            raise OSError(err, f"landlock_add_rule({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


def restrict_writes(folders: Sequence[str]) -> int:
    """Allow this process and its descendants to write only beneath ``folders`` (and to the
    device files above): the Landlock ABI enforced, or 0 where Landlock is unavailable."""
    abi = landlock_abi()
    if abi <= 0:
        return 0
    libc = _libc()
    file_rights, dir_rights = _rights(_FILE_RIGHTS, abi), _rights(_DIR_RIGHTS, abi)
    attr = _RulesetAttr(file_rights | dir_rights, 0, _rights(_SCOPES, abi))
    ruleset = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.sizeof(attr), 0)
    if ruleset < 0:
        return 0
    try:
        for folder in folders:
            _add_rule(libc, ruleset, folder, file_rights | dir_rights)
        for device in _writable_devices():
            is_dir = os.path.isdir(device)
            _add_rule(libc, ruleset, device, file_rights | (dir_rights if is_dir else 0))
        if not _restrict_self(libc, ruleset):
            return 0
    except OSError:
        return 0
    finally:
        os.close(ruleset)
    return abi


def _restrict_self(libc: ctypes.CDLL, ruleset: int) -> bool:
    """Enforce ``ruleset`` on this process and its future children (no new privileges first,
    as Landlock requires of an unprivileged process); False where the kernel refused."""
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0):
        return False
    return not libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0)


# Read-like rights: EXECUTE, READ_FILE (files) and READ_DIR (folders), all of ABI 1.
_READ_FILE_RIGHTS = (1 << 0) | (1 << 2)
_READ_DIR_RIGHTS = 1 << 3


def restrict_reads(readable: Sequence[str]) -> int:
    """Allow this process and its descendants to read (list, open, run) only beneath
    ``readable``: the Landlock ABI enforced, or 0 where Landlock is unavailable. Writes are not
    handled here (``restrict_writes`` adds its own layer). ``labreport class`` confines each
    student's build with it, so that its programs cannot read other submissions."""
    abi = landlock_abi()
    if abi <= 0:
        return 0
    libc = _libc()
    handled = _READ_FILE_RIGHTS | _READ_DIR_RIGHTS
    attr = _RulesetAttr(handled, 0, 0)
    ruleset = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.sizeof(attr), 0)
    if ruleset < 0:
        return 0
    try:
        for path in readable:
            folder = os.path.isdir(path)
            _add_rule(libc, ruleset, path, handled if folder else _READ_FILE_RIGHTS)
        if not _restrict_self(libc, ruleset):
            return 0
    except OSError:
        return 0
    finally:
        os.close(ruleset)
    return abi


_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_MS_NOSUID, _MS_NODEV, _MS_REC, _MS_PRIVATE = 2, 4, 1 << 14, 1 << 18


def probe() -> int:
    """Exit status 0 when this process could get a private /dev/shm: labreport runs this in a
    throwaway interpreter once, before it asks any program's process to (``python -m
    labreport.child.confine``)."""
    return 0 if private_shm(1 << 20) and os.access(SHM, os.W_OK) else 1


def private_shm(size: int | None) -> bool:
    """Give this process (and what it starts) a ``/dev/shm`` of its own: a tmpfs of at most
    ``size`` bytes in a new user and mount namespace, gone with the run's last process.

    False where the kernel or the container refuses namespaces to this user; the machine's
    ``/dev/shm`` is then shared as before. Must run while the process has one thread.
    """
    if platform.system() != "Linux" or not os.path.isdir(SHM):
        return False
    libc = _libc()
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNS):
        return False
    try:
        # Map our own ids onto themselves, so files keep their owners and the program its uid.
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
        Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    except OSError:
        return False  # in a namespace of our own without ids; still as free as before
    if libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None):
        return False
    options = f"mode=1777,size={size}" if size else "mode=1777"
    return not libc.mount(
        b"tmpfs", SHM.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, options.encode()
    )


def confine(writable: Sequence[str], shm_size: int | None) -> dict[str, str]:
    """Both confinements, as far as this machine allows; what held, for the run's report.
    ``shm_size`` None: do not try a private /dev/shm (labreport's probe found none possible:
    a failed attempt could leave the process in a namespace where its files have no owner)."""
    achieved: dict[str, str] = {}
    with contextlib.suppress(OSError):
        if shm_size is not None and private_shm(shm_size or None):
            achieved["shm"] = "private"
    abi = restrict_writes([*writable, SHM])
    achieved["landlock"] = str(abi) if abi else "none"
    return achieved


if __name__ == "__main__":
    raise SystemExit(probe())
