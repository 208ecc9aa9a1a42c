"""The warm interpreter: imports the heavy libraries once, then forks a fresh child per program.

``import torch`` costs ~2 s and its first optimiser another second (``torch._dynamo``); a
course's programs each pay it again when each runs in a new interpreter. This process pays it
once per build: it imports NumPy, matplotlib and (for the ``torch`` kind) PyTorch, or for the
``plain`` kind (programs of the standard library alone) only the harness; it runs no user code
and no torch operation (so no thread pool exists to be inherited), and then, for each request,
forks. The child is as isolated as a new interpreter where it matters: it gets its own
session, working directory, environment, stdout/stderr, and runs the ordinary harness, which
seeds ``random``, NumPy and PyTorch afresh. Nothing a program does can reach the next one: each
starts from this untouched parent, never from a sibling.

Protocol on the Unix socket given as ``fd``: the client sends one
:class:`~labreport.protocol.ForkRequest` per message with the program's output pipe attached
(SCM_RIGHTS); this process answers with :class:`~labreport.protocol.ForkReply` lines: ready
once, then a pid when a child started and a wait status when it ended.
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import signal
import socket
import sys

from labreport.protocol import MPL_BACKEND_MODULE, ForkReply, ForkRequest, die_with_parent

#: What each kind preloads; the child imports anything else itself, as a fresh interpreter would.
PRELOAD = {
    "plain": (),  # the standard library only: matplotlib, if imported, loads as in a new process
    "numpy": ("numpy", "matplotlib", "matplotlib.pyplot", MPL_BACKEND_MODULE),
    "torch": (
        "numpy", "matplotlib", "matplotlib.pyplot", MPL_BACKEND_MODULE,
        "torch", "torch.nn", "torch.optim", "torch._dynamo",
    ),
}  # fmt: skip


def _preload(kind: str) -> None:
    import importlib

    for name in PRELOAD[kind]:
        with contextlib.suppress(ImportError):  # a missing library fails in the child, as usual
            importlib.import_module(name)
    import labreport.child.harness  # noqa: F401 - the code every child runs
    import labreport.record  # noqa: F401


def _child(request: ForkRequest, out_fd: int, sock: socket.socket, siblings: list[int]) -> None:
    """In the forked child: become a fresh program run, then never return."""
    code = 70
    try:
        sock.close()
        for fd in siblings:  # the pidfds of the other programs: none of this one's business
            os.close(fd)
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(devnull)
        os.close(out_fd)
        os.chdir(request.cwd)
        os.environ.clear()
        os.environ.update(request.env)
        # Unbuffered, like PYTHONUNBUFFERED in a new interpreter: stdout and stderr interleave
        # in the order written.
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
        sys.stdout = io.TextIOWrapper(
            io.FileIO(1, "w", closefd=False), encoding="utf-8", write_through=True
        )
        sys.stderr = io.TextIOWrapper(
            io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace",
            write_through=True,
        )  # fmt: skip
        from labreport.child import harness

        code = harness.run(request.run)
    except BaseException:  # noqa: BLE001 - report and leave: this is a child, never the server
        with contextlib.suppress(Exception):
            import traceback

            traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            import atexit

            atexit._run_exitfuncs()  # what a new interpreter would run on its way out
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when ``pid`` ends (Linux 5.3+); None: poll instead."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def serve(sock: socket.socket) -> None:
    """Fork a child per request; report starts and ends; stop when the client goes away.

    A child's end wakes the loop through its pidfd, so the end is reported at once; where pidfds
    do not exist, the loop looks every 50 ms.
    """
    children: dict[int, str] = {}  # pid -> request id
    pidfds: dict[int, int] = {}  # pid -> pidfd
    while True:
        watched: list[int] = [sock.fileno(), *pidfds.values()]
        ready, _, _ = select.select(watched, [], [], 0.05)
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            fd = pidfds.pop(pid, None)
            if fd is not None:
                os.close(fd)
            request_id = children.pop(pid, None)
            if request_id is not None:
                sock.sendall(ForkReply(id=request_id, status=status).to_bytes())
        if sock.fileno() not in ready:
            continue
        try:
            message, fds, _, _ = socket.recv_fds(sock, 1 << 20, 1)
        except OSError:
            return
        if not message:
            return  # the client closed: labreport is done with us
        request = ForkRequest.from_bytes(message)
        pid = os.fork()
        if pid == 0:
            _child(request, fds[0], sock, list(pidfds.values()))
        os.close(fds[0])
        children[pid] = request.id
        fd = _pidfd(pid)
        if fd is not None:
            pidfds[pid] = fd
        sock.sendall(ForkReply(id=request.id, pid=pid).to_bytes())


def main(argv: list[str]) -> int:
    kind, fd = argv[0], int(argv[1])
    sock = socket.socket(fileno=fd)
    die_with_parent()
    _preload(kind)
    sock.sendall(ForkReply(ready=True).to_bytes())
    serve(sock)
    return 0


if __name__ == "__main__":
    main(sys.argv[1:])
    # No interpreter teardown: it only frees what the process is about to lose, and with torch
    # loaded it takes a noticeable part of a second that every build would wait for.
    os._exit(0)
