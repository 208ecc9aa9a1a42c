"""What labreport and the processes it starts say to each other: every name, in one place.

Both sides import this module: labreport's runner, warm pool and PDF pool, and, inside the
program's own process, the harness, the matplotlib backend, ``record()`` and the warm
interpreter. So it imports nothing but the standard library, and holds names and the one
safety net every child sets (:func:`die_with_parent`), not logic.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from dataclasses import asdict, dataclass
from typing import Any

# ---- parent → child: environment variables of a program's process
# The run's results folder, where the backend saves figures, record() appends to RECORDS_FILE
# and the harness writes EXIT_REPORT. In the environment because all three run in the
# program's process (or in processes it starts), where nothing else reaches them.
RESULTS_ENV = "LABREPORT_RESULTS"
FIGURE_LIMIT_ENV = "LABREPORT_FIGURE_LIMIT"  # figures captured at most
SEED_ENV = "LABREPORT_SEED"  # the run's seed, for run_seed() (set by the harness itself)
# The key of the exit report's environment under which the harness reports the seed it ran the
# program with: the build report's account of the seed (labreport.report), never recomputed.
SEED_REPORT_KEY = "seed"
PARENT_PID_ENV = "LABREPORT_PARENT_PID"  # whose death the child must not outlive
RUN_TOKEN_ENV = "LABREPORT_RUN"  # marks every process of one run, to kill the whole tree
# Set per run; a warm interpreter must not carry them (a kill-by-token scan would find it).
PER_RUN_ENV = (RUN_TOKEN_ENV, RESULTS_ENV, "TMPDIR")
# The matplotlib backend a program's process draws with.
MPL_BACKEND_MODULE = "labreport.child.mpl_backend"
MPL_BACKEND = f"module://{MPL_BACKEND_MODULE}"

# ---- child → parent: files in a run's results folder
EXIT_REPORT = "exit.json"  # the harness's report: exit code, error, traceback, environment
RECORDS_FILE = "records.jsonl"  # one {"name", "value"} per record() call
FIGURE_INDEX = "figures.jsonl"  # one {"number", "file", "title"} (or "dropped") per figure

# ---- how large one captured figure may be. Measured on the course's 2-core machines, WeasyPrint
# lays out ~1,500 markers (or bars, mesh cells: separate shapes) a second but ~70,000 vertices of
# a line a second, and a shape takes ~140 bytes of SVG, a vertex ~25: a 200,000-point scatter
# was 28 MB of SVG and two minutes of PDF. So the child draws the heaviest of a figure's lines,
# markers and shapes as a picture (PNG inside the SVG; axes and text stay vector) until what is
# left is at most FIGURE_VECTOR_POINTS: ~2-3 MB of SVG and ~2 s of PDF at worst (100 random
# walks of 990 points: 2.1 MB; a 2,400-point scatter: 0.3 MB).
FIGURE_VECTOR_POINTS = 100_000  # vertices drawn as vectors in one figure
MARKER_POINTS = 40  # a marker, bar or mesh cell counts as this many vertices (its layout time)
# One figure's SVG file at most: a figure still larger is drawn whole as one picture by the
# child, and labreport reads no figure file over it (records are mailed around).
FIGURE_MAX_BYTES = 4 * 1024 * 1024


# ---- parent → harness: what to run
@dataclass(frozen=True)
class RunRequest:
    """One program run, as the harness receives it.

    The same JSON object whichever way the program starts: as the harness's only argument in a
    fresh interpreter (``python -m labreport.child.harness '{...}'``), or inside a warm
    interpreter's :class:`ForkRequest`. So the seed stays a number and no field is spelled twice.
    """

    program: str  # relative to the working directory
    args: tuple[str, ...] = ()
    seed: int = 0
    threads: int = 1  # torch's intra-op threads (BLAS reads its own from the environment)
    # The folders the program may write in (its working folder, results and temp folders);
    # the harness confines it to them before it starts (labreport.child.confine).
    writable: tuple[str, ...] = ()
    # Bytes of the private /dev/shm the program gets (its memory limit; 0: no size), or None
    # where labreport found that this machine cannot give one (labreport.sandbox).
    private_shm: int | None = None
    # The global variables recorded when the program ends (the spec's record:), as
    # (name, variable) pairs: the harness records each variable's value under its name.
    recorded_globals: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> RunRequest:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRequest:
        return cls(
            program=str(data["program"]),
            args=tuple(str(arg) for arg in data.get("args", ())),
            seed=int(data.get("seed", 0)),
            threads=int(data.get("threads", 1)),
            writable=tuple(str(path) for path in data.get("writable", ())),
            private_shm=None if data.get("private_shm") is None else int(data["private_shm"]),
            recorded_globals=tuple(cls._pair(item) for item in data.get("recorded_globals", ())),
        )

    @staticmethod
    def _pair(item: Any) -> tuple[str, str]:
        """A ``(name, variable)`` pair of ``recorded_globals``; a lone name stands for both."""
        if isinstance(item, str):
            return item, item
        name, variable = item
        return str(name), str(variable)


# ---- labreport ↔ warm interpreter (labreport.warm, labreport.child.zygote): one JSON object per
# socket message. Requests carry the program's output pipe as an attached descriptor; replies
# are newline-terminated, as several may arrive in one message.
@dataclass(frozen=True)
class ForkRequest:
    """Fork a child that becomes a fresh run of ``run`` in ``cwd`` with exactly ``env``."""

    id: str
    cwd: str
    env: dict[str, str]
    run: RunRequest

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_bytes(cls, message: bytes) -> ForkRequest:
        data = json.loads(message)
        env = {str(k): str(v) for k, v in data["env"].items()}
        return cls(str(data["id"]), str(data["cwd"]), env, RunRequest.from_dict(data["run"]))


@dataclass(frozen=True)
class ForkReply:
    """The warm interpreter's news: it is ``ready`` (imports done), or request ``id``'s child
    has ``pid``, or it ended with wait ``status`` (as ``os.waitpid`` gives it)."""

    ready: bool = False
    id: str | None = None
    pid: int | None = None
    status: int | None = None

    def to_bytes(self) -> bytes:
        # "is", not "in (None, False)": a wait status of 0 equals False and must be sent.
        fields = {k: v for k, v in asdict(self).items() if v is not None and v is not False}
        return json.dumps(fields).encode() + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> ForkReply:
        data = json.loads(line)
        return cls(
            ready=bool(data.get("ready", False)),
            id=None if data.get("id") is None else str(data["id"]),
            pid=None if data.get("pid") is None else int(data["pid"]),
            status=None if data.get("status") is None else int(data["status"]),
        )


def die_with_parent(parent: int | None = None) -> None:
    """Ask Linux to SIGKILL this process when the process that started it dies: labreport
    (named by :data:`PARENT_PID_ENV`) or ``parent``, so nothing runs on with nobody enforcing
    its limits."""
    if parent is None:
        named = os.environ.get(PARENT_PID_ENV)
        parent = int(named) if named else None
    if parent is None or not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request was made
            os._exit(1)
