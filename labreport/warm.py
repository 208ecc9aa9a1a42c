"""The runner's side of the warm interpreter (:mod:`labreport.child.zygote`).

:class:`WarmPool` starts at most one zygote per kind (``plain``, ``numpy``, ``torch``) on first
need and hands out :class:`WarmChild` objects that look to the runner like a ``subprocess.Popen``:
a ``pid`` (also its session and process group), an output pipe, ``wait`` and ``returncode``.
Which kind a program needs is read from its imports, so a NumPy-only program never waits for
torch, and a program of the standard library alone never waits for NumPy and matplotlib (it
runs in any zygote that is ready, rather than start one of its own).
If a zygote cannot start or dies, :meth:`WarmPool.spawn` returns None and the runner falls back
to a fresh interpreter: the warm path is an optimisation, never a requirement.
"""

from __future__ import annotations

import ast
import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import IO

from labreport.fingerprint import open_regular
from labreport.protocol import PARENT_PID_ENV, PER_RUN_ENV, ForkReply, ForkRequest, RunRequest

log = logging.getLogger(__name__)

_START_TIMEOUT = 120.0  # importing torch on a busy machine
_MAX_SOURCE_BYTES = 4 << 20  # more is data, not a program whose imports matter


# One parse at a time: CPython 3.11's ast.parse keeps its recursion counter per interpreter, not
# per thread, so two batch workers parsing at once can fail with "SystemError: AST constructor
# recursion depth mismatch" (seen here with --jobs 2 on 3.11.7).
_PARSE_LOCK = threading.Lock()


#: Top-level packages a ``plain`` program may import: the record API, which every warm
#: interpreter has loaded already.
_PLAIN_PACKAGES = frozenset({"labreport"})


def program_kind(source: Path) -> str:
    """What the warm interpreter for ``source`` should have imported ahead: ``torch`` if the
    program (or a module next to it) imports torch; ``plain`` if they import nothing but the
    standard library, labreport and each other (print-and-compute programs: preloading NumPy
    and matplotlib would cost most of a second for nothing); else ``numpy``.

    Only the ``import`` statements are read, so a program that imports a library some other way
    (``importlib``, ``__import__``) may get ``plain`` and import it in the child, as a new
    interpreter would: slower, never different.
    """
    files = [source, *source.parent.glob("*.py")]
    local = {path.stem for path in files} | _PLAIN_PACKAGES
    kind = "plain"
    for path in files:
        try:
            # Never through a symlink or into a named pipe: `zero.py -> /dev/zero` or a FIFO
            # named x.py would read forever (the copy keeps links, and copies no special file).
            opened = open_regular(path)
            if opened is None:
                continue
            with opened, _PARSE_LOCK:
                tree = ast.parse(opened.read(_MAX_SOURCE_BYTES + 1)[:_MAX_SOURCE_BYTES])
        except (OSError, SyntaxError, ValueError, MemoryError, RecursionError):
            continue  # a syntax error is the program's to report, in any kind
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [(node.module or "").split(".")[0]]
            else:
                continue
            if "torch" in names:
                return "torch"
            if any(name not in local and name not in sys.stdlib_module_names for name in names):
                kind = "numpy"
    return kind


class WarmChild:
    """A program forked by a zygote, as the runner sees it."""

    def __init__(self, zygote: _Zygote, request_id: str, pid: int, stdout: IO[bytes]) -> None:
        self._zygote, self.id, self.pid, self.stdout = zygote, request_id, pid, stdout
        self.returncode: int | None = None

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is not None:
            return self.returncode
        done = self._zygote.finished(self.id, timeout)
        if done is None:
            raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
        self.returncode = done
        return done


class _Zygote:
    """One warm interpreter and the thread that reads its messages."""

    def __init__(self, kind: str, env: dict[str, str]) -> None:
        self.kind = kind
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock = ours
        self.proc = subprocess.Popen(
            [sys.executable, "-P", "-m", "labreport.child.zygote", kind, str(theirs.fileno())],
            pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        theirs.close()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._pids: dict[str, int] = {}
        self._ends: dict[str, int] = {}
        self.alive = True
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True, name=f"zygote-{kind}").start()

    def _read(self) -> None:
        try:
            while message := self.sock.recv(65536):
                for line in message.splitlines():
                    reply = ForkReply.from_line(line)
                    if reply.ready:
                        self.ready.set()
                    elif reply.id is not None:
                        with self._changed:
                            if reply.pid is not None:
                                self._pids[reply.id] = reply.pid
                            elif reply.status is not None:
                                status = os.waitstatus_to_exitcode(reply.status)
                                self._ends[reply.id] = status
                            self._changed.notify_all()
        except (OSError, ValueError):
            pass
        with self._changed:
            self.alive = False
            self.ready.set()
            self._changed.notify_all()

    def spawn(self, request: ForkRequest, out_fd: int) -> int | None:
        if not self.ready.wait(_START_TIMEOUT) or not self.alive:
            return None
        request_id = request.id
        try:
            socket.send_fds(self.sock, [request.to_bytes()], [out_fd])
        except OSError:
            return None
        with self._changed:
            self._changed.wait_for(lambda: request_id in self._pids or not self.alive, 30)
            return self._pids.get(request_id)

    def finished(self, request_id: str, timeout: float | None) -> int | None:
        with self._changed:
            self._changed.wait_for(lambda: request_id in self._ends or not self.alive, timeout)
            if request_id in self._ends:
                return self._ends.pop(request_id)
            if not self.alive:
                return -9  # the zygote died; so did (PDEATHSIG) or will its children
            return None

    def close(self) -> None:
        # shutdown, not just close: the reader thread's recv() holds the socket open, and the
        # zygote only leaves when it sees the end of the stream.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()
        if not self.ready.is_set():  # still importing: nothing to finish, and no one waits
            self.proc.kill()
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class WarmPool:
    """The warm interpreters of one build (or one ``labreport serve`` session)."""

    def __init__(self) -> None:
        self._zygotes: dict[str, _Zygote] = {}
        self._lock = threading.Lock()

    def _zygote(self, kind: str, env: dict[str, str]) -> _Zygote | None:
        with self._lock:
            zygote = self._zygotes.get(kind)
            if kind == "plain" and zygote is None:
                # Any warm interpreter runs a program of the standard library alone: one that
                # is ready already costs nothing, where a new one costs a start.
                zygote = next(
                    (z for z in self._zygotes.values() if z.alive and z.ready.is_set()), None
                )
            if zygote is None or not zygote.alive:
                try:
                    own = {k: v for k, v in env.items() if k not in PER_RUN_ENV}
                    zygote = self._zygotes[kind] = _Zygote(kind, own)
                except OSError as exc:
                    log.warning("no warm interpreter (%s): programs start fresh", exc)
                    return None
            return zygote

    def prestart(self, kind: str, env: dict[str, str]) -> None:
        """Start the ``kind`` zygote now, so its imports overlap with other work."""
        self._zygote(kind, env)

    def spawn(self, kind: str, env: dict[str, str], cwd: Path, run: RunRequest) -> WarmChild | None:
        """Fork a child that runs ``run`` in ``cwd`` with ``env``; None: run it fresh instead."""
        zygote = self._zygote(kind, env)
        if zygote is None:
            return None
        read_fd, write_fd = os.pipe()
        child_env = {**env, PARENT_PID_ENV: str(zygote.proc.pid)}
        request = ForkRequest(uuid.uuid4().hex, str(cwd), child_env, run)
        try:
            pid = zygote.spawn(request, write_fd)
        finally:
            os.close(write_fd)
        if pid is None:
            os.close(read_fd)
            return None
        return WarmChild(zygote, request.id, pid, os.fdopen(read_fd, "rb"))

    def close(self) -> None:
        with self._lock:
            for zygote in self._zygotes.values():
                zygote.close()
            self._zygotes.clear()
