"""The speed benchmark of issue 7: labreport against the raw runs of its programs.

    python bench/run.py                 # 5 repetitions of every row, writes bench/RESULTS.md
    python bench/run.py --quick         # 1 repetition: checks the script (a few minutes)
    python bench/run.py --only b g      # some rows (keys, patterns or items a–h); --list shows them

Every command runs as its own process against a private copy of the project (``labreport.toml``
and ``experiments/`` in a temporary folder), so the edits never touch the repository. Rows are
interleaved: each repetition runs every row once, starting one step further along the list, so
the machine's noise falls on all of them alike. Timing lives here, never in the tests.

Item (h) of issue 7, point 4, is the one row that is not a command run to its end: one
``labreport serve`` process lives across its repetitions (:class:`ServeSession`), and each run
times a code edit until serve reports the rebuilt record. It is defined here rather than in
``plan.py``, with the code that drives the server.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import importlib.util
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any

from plan import Context, Floor, Row, Target, build_rows, select
from results import (
    Report,
    Sample,
    Samples,
    build_lines,
    describe_environment,
    kept_notes,
    render_failures,
    render_missed,
    render_results,
    render_table,
)
from timing import POLL_INTERVAL, Measurement, measure, read_vm_hwm_kib
from workspace import Program, Workspace, WorkspaceError

REPO = Path(__file__).resolve().parent.parent
PEAK_LIMIT_MIB = 150.0
#: "Summary: 2 built (...)" in labreport's output: a build that re-rendered something.
_BUILT = re.compile(r"\b[1-9][0-9]* built\b")
METHOD = [
    "Times are whole-process wall clock, from start to exit, with `MPLBACKEND=Agg`.",
    "A floor is summed within each repetition, then its median taken; ratio = median / floor.",
    "`cold` = `--force`: every program re-runs; the project was built once before (an untimed "
    "warm-up `build --all`), so its run cache exists and its formulas are already drawn "
    "(`.labreport/formulas`), as after any first build (see the notes for a first-ever build).",
    "Edit rows change the copy's spec or its ejected theme's CSS before each run (untimed); a run "
    "that does not rewrite the record, or a no-op that writes one, is counted as failed.",
    f"Peak MiB is the process's own VmHWM (/proc/PID/status), polled every "
    f"{POLL_INTERVAL * 1000:.0f} ms; for a build it excludes the programs, the warm "
    "interpreter and the PDF workers, which are other processes (see the notes for a worker's).",
]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python bench/run.py",
        description="Measure labreport against the raw runs of its programs (issue 7).",
    )
    parser.add_argument("--repeat", type=int, default=5, metavar="N", help="repetitions (5)")
    parser.add_argument("--quick", action="store_true", help="one repetition, to check the script")
    parser.add_argument(
        "--only", nargs="+", default=[], metavar="NAME",
        help="rows to run: keys, shell patterns (cold-*) or items a-h; floors come along",
    )  # fmt: skip
    parser.add_argument("--list", action="store_true", help="list the rows and exit")
    parser.add_argument(
        "--timeout", type=float, default=1800.0, metavar="S",
        help="seconds before one command is stopped and counted as failed (1800)",
    )  # fmt: skip
    parser.add_argument(
        "--output", type=Path, default=REPO / "bench" / "RESULTS.md", metavar="PATH",
        help="where to write the results (bench/RESULTS.md)",
    )  # fmt: skip
    parser.add_argument(
        "--source", type=Path, metavar="DIR",
        help="measure the labreport package in DIR (put first on PYTHONPATH), e.g. an older "
        "checkout to compare with; default: the installed one",
    )  # fmt: skip
    parser.add_argument(
        "--raw-threads", type=int, metavar="N",
        help="run the raw programs with N BLAS/OpenMP threads, as labreport runs them with 1 "
        "(default: the libraries' own default, i.e. the plain `python prog.py` of issue 7)",
    )  # fmt: skip
    parser.add_argument(
        "--keep", action="store_true",
        help="keep the project copy, and the end of each command's output in its logs/ folder",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat = 1
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.raw_threads is not None and args.raw_threads < 1:
        parser.error("--raw-threads must be at least 1")
    return args


def labreport_command() -> tuple[str, ...]:
    """The ``labreport`` script a user runs, from this Python's environment; else ``-m``."""
    script = Path(sys.executable).parent / "labreport"
    return (str(script),) if script.is_file() else (sys.executable, "-m", "labreport")


def command_env(source: Path | None) -> dict[str, str]:
    env = dict(os.environ, MPLBACKEND="Agg")
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(source.resolve()), env.get("PYTHONPATH", "")) if p
        )
    return env


def labreport_version(ctx: Context) -> str:
    try:
        done = subprocess.run(
            ctx.lr("--version"), env=ctx.env, capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    words = done.stdout.split()
    return words[-1] if done.returncode == 0 and words else "unknown"


def setup(ctx: Context, rows: Sequence[Row]) -> None:
    """Untimed: eject the themes the edit rows change into the copy, fill the run cache once,
    so the edit rows rebuild from it (and the first repetition does not meet cold disk caches),
    and start the serve process of row (h)."""
    for theme in sorted({row.theme for row in rows if row.theme}):
        if not (ctx.workspace.templates / theme).is_dir():
            _try_settle(ctx, "templates", "eject", theme)
    if any(row.needs_cache for row in rows):
        print("warm-up: labreport build --all (untimed)", file=sys.stderr, flush=True)
        _try_settle(ctx, "build", "--all", "-q")
    for session in sessions_of(rows):  # after the warm-up: serve's first build reads its cache
        try:
            session.start()
            session.pause()
        except (OSError, WorkspaceError) as exc:
            session.stop()
            print(f"warning: {exc}; row (h) tries again at each repetition", file=sys.stderr)


def _try_settle(ctx: Context, *args: str) -> None:
    try:
        ctx.settle(*args)
    except WorkspaceError as exc:
        print(f"warning: {exc}; the rows that need it will fail", file=sys.stderr)


def _stamp(paths: Sequence[Path]) -> dict[Path, tuple[int, int] | None]:
    """Identity of each output file: an atomic replace gives a new inode and mtime."""
    stamps: dict[Path, tuple[int, int] | None] = {}
    for path in paths:
        try:
            st = path.stat()
            stamps[path] = (st.st_ino, st.st_mtime_ns)
        except OSError:
            stamps[path] = None
    return stamps


# -- (h): a code edit under `labreport serve` ----------------------------------------------------

#: The program whose code the serve row (h) changes; its raw run is the floor.
SERVED = ("exp10", "rnn_sine.py")
SERVE_KEYS = "serve-edit:*"  # what ``--only h`` stands for
#: Seconds serve gets after publishing a rebuild to take its snapshot of the watched files before
#: it is paused or the next edit is made (it takes it at once; a later edit would go unseen).
_SERVE_SETTLE = 0.5
_SERVE_STOP_GRACE = 15.0  # seconds between Ctrl-C (SIGINT) and SIGKILL when stopping serve
_SERVE_TAIL_CHARS = 2000
_RUNNING = re.compile(r"^(?P<exp>\S+): running (?P<code>.+) \.\.\.$", re.MULTILINE)


class ServeSession:
    """One ``labreport serve EXP`` process in the project copy, kept across the repetitions of
    row (h), and paused (SIGSTOP) while the other rows run, so that it neither takes CPU from them
    nor rebuilds beside them on the experiment lock they share."""

    def __init__(self, ctx: Context, program: Program) -> None:
        ws = ctx.workspace
        self.ctx, self.program = ctx, program
        self.folder = ws.root / "experiments" / program.experiment
        self.path = self.folder / program.code
        self.log_path = ws.tmp / f"serve-{program.experiment}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.paused = False
        self.generation = 0  # serve's generation when it last finished with every change
        self.settled_inputs = ""  # fingerprint of the watched files at that moment
        self.edits = 0
        self.reruns: list[list[str]] = []  # programs each measured rebuild ran, from serve's log
        self._pristine: str | None = None
        self._log: IO[bytes] | None = None

    def argv(self) -> tuple[str, ...]:
        return self.ctx.lr("serve", self.program.experiment, "--port", str(self.port))

    # -- the process -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start serve (untimed), wait for its first build, and make sure its warm interpreter
        holds torch: if the first build came from the run cache, one untimed edit runs it."""
        self.stop()
        with socket.socket() as probe:  # a free port; serve reports a taken one and exits
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._log = self.log_path.open("ab")
        offset = self._log_size()
        print(f"serve: {shlex.join(self.argv())} (untimed start)", file=sys.stderr, flush=True)
        try:
            self.proc = subprocess.Popen(
                list(self.argv()), cwd=self.ctx.workspace.root, env=self.ctx.env,
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            raise WorkspaceError(f"cannot start `labreport serve`: {exc}") from exc
        first = self._await_generation(0, self.ctx.timeout)
        if first is None:
            raise WorkspaceError(f"`labreport serve`: no first build in {self.ctx.timeout:.0f} s")
        if not self._ran_since(offset):
            time.sleep(_SERVE_SETTLE)  # serve snapshots the files it watches: then edit
            self._edit()
            if self._await_generation(_generation(first), self.ctx.timeout) is None:
                raise WorkspaceError("`labreport serve`: no rebuild after the warm-up edit")
        self._settled()

    def prepare(self, _rev: int) -> Path:
        """Before a timed edit: serve running, resumed, and done with the other rows' edits."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
            return self.folder
        if self.paused:
            self._signal(signal.SIGCONT)
            self.paused = False
        if self._inputs() != self.settled_inputs:  # another row edited what serve watches
            if self._await_generation(self.generation, self.ctx.timeout) is None:
                raise WorkspaceError("`labreport serve`: no rebuild after the other rows' edits")
            self._settled()
        return self.folder

    def pause(self) -> None:
        if self.proc is not None and self.proc.poll() is None and not self.paused:
            self._signal(signal.SIGSTOP)
            self.paused = True

    def stop(self) -> None:
        """Stop serve as Ctrl-C does (it closes its warm interpreter); SIGKILL if it hangs."""
        proc, self.proc = self.proc, None
        try:
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGINT)
                    os.killpg(proc.pid, signal.SIGCONT)  # a paused serve gets the SIGINT now
                try:
                    proc.wait(timeout=_SERVE_STOP_GRACE)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        finally:
            self.paused = False
            if self._log is not None:
                self._log.close()
                self._log = None

    def _signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    # -- the timed edit --------------------------------------------------------------------------

    def measure_edit(self) -> tuple[Measurement, str | None]:
        """Change the program, then time until serve publishes a new generation; with the
        problem that makes the run a failure (a failed rebuild, none in time, serve gone)."""
        assert self.proc is not None
        pid, before, offset = self.proc.pid, self.generation, self._log_size()
        self._edit()
        start = time.perf_counter()
        try:
            status = self._await_generation(before, self.ctx.timeout)
        except WorkspaceError as exc:  # serve exited
            seconds = time.perf_counter() - start
            code = self.proc.returncode if self.proc else 1
            self.stop()
            return Measurement(seconds, 0, code or 1, False, self._tail(offset)), str(exc)
        seconds = time.perf_counter() - start
        peak = read_vm_hwm_kib(pid) or 0
        if status is None:
            tail = self._tail(offset)
            self.stop()  # it may be stuck in the rebuild: the next repetition starts a new one
            problem = f"no rebuild within {self.ctx.timeout:.0f} s"
            return Measurement(seconds, peak, 124, True, tail), problem
        tail = self._tail(offset)
        errors = status.get("errors")
        error = errors.get(self.program.experiment) if isinstance(errors, dict) else None
        self._settled()
        if error is not None:
            return Measurement(seconds, peak, 1, False, f"{tail}\n{error}"), "the rebuild failed"
        self.reruns.append(self._ran_since(offset))
        return Measurement(seconds, peak, 0, False, tail), None

    def _edit(self) -> None:
        """A real change to the program's code: a new last line ``# edit N``."""
        if self._pristine is None:
            self._pristine = self.path.read_text(encoding="utf-8")
        self.edits += 1
        self.path.write_text(f"{self._pristine.rstrip()}\n# edit {self.edits}\n", "utf-8")

    def _settled(self) -> None:
        """Serve published a rebuild: give it time to snapshot, then remember where it stands."""
        time.sleep(_SERVE_SETTLE)
        status = self._status()
        self.generation = _generation(status) if status else self.generation
        self.settled_inputs = self._inputs()

    # -- what serve says -------------------------------------------------------------------------

    def _status(self) -> dict[str, Any] | None:
        """``/__labreport__/status``: ``{"generation", "experiments", "errors"}``; None while
        serve does not answer yet."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", "/__labreport__/status")
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                return None
            data = json.loads(body)
        except (OSError, http.client.HTTPException, ValueError):
            return None
        finally:
            conn.close()
        return data if isinstance(data, dict) else None

    def _await_generation(self, above: int, timeout: float) -> dict[str, Any] | None:
        """Poll the status every POLL_INTERVAL until its generation passes ``above``; None after
        ``timeout``; WorkspaceError when serve has exited."""
        deadline = time.perf_counter() + timeout
        while True:
            if self.proc is None or self.proc.poll() is not None:
                code = self.proc.returncode if self.proc else None
                last = " / ".join(self._tail(0).strip().splitlines()[-3:])
                raise WorkspaceError(f"`labreport serve` exited ({code}): {last}")
            status = self._status()
            if status is not None and _generation(status) > above:
                return status
            if time.perf_counter() > deadline:
                return None
            time.sleep(POLL_INTERVAL)

    def _log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def _log_text(self, offset: int) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                return log.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def _tail(self, offset: int) -> str:
        return self._log_text(offset)[-_SERVE_TAIL_CHARS:]

    def _ran_since(self, offset: int) -> list[str]:
        """The programs serve started since ``offset`` of its log (its "running X ..." lines)."""
        text = self._log_text(offset)
        exp = self.program.experiment
        return [m.group("code") for m in _RUNNING.finditer(text) if m.group("exp") == exp]

    def _inputs(self) -> str:
        """A hash of what serve watches and the record is made from: the experiment folder (as
        serve walks it: no hidden folders, no __pycache__), labreport.toml, the project's
        templates. A change here always changes the record's inputs, so serve rebuilds."""
        ws, digest = self.ctx.workspace, hashlib.sha256()
        for root in (self.folder, ws.root / "labreport.toml", ws.templates):
            if root.is_file():
                files = [root]
            elif root.is_dir():
                files = sorted(
                    p for p in root.rglob("*")
                    if p.is_file() and not any(
                        part.startswith(".") or part == "__pycache__"
                        for part in p.relative_to(root).parts[:-1]
                    )
                )  # fmt: skip
            else:
                files = []
            for path in files:
                digest.update(str(path).encode() + b"\0")
                with contextlib.suppress(OSError):
                    digest.update(hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()


def _generation(status: dict[str, Any]) -> int:
    value = status.get("generation")
    return value if isinstance(value, int) else 0


@dataclass(frozen=True)
class ServeRow(Row):
    """Row (h): its runs are edits timed against a live ``labreport serve``, not commands."""

    session: ServeSession | None = None


def serve_rows(ctx: Context, rows: Sequence[Row]) -> list[Row]:
    """(h): a change to a torch program's code under ``labreport serve``, against its raw run;
    left out when the project has no such program (or no raw row for it)."""
    experiment, code = SERVED
    ws = ctx.workspace
    if experiment not in ws.experiments():
        return []
    program = next((p for p in ws.programs(experiment) if p.code == code), None)
    if program is None or f"raw:{program.key}" not in {r.key for r in rows}:
        return []
    session = ServeSession(ctx, program)
    return [
        ServeRow(
            key=f"serve-edit:{program.key}",
            group="h",
            label=f"`labreport serve {experiment}`: rebuilt and served after a change to {code}",
            argv=ctx.lr("serve", experiment),
            prepare=session.prepare,
            floor=Floor((f"raw:{program.key}",), f"raw {program.key}"),
            target=Target(0.5, "x"),
            session=session,
        )
    ]


def select_rows(rows: Sequence[Row], patterns: Sequence[str]) -> list[Row]:
    """:func:`plan.select`, with ``h`` standing for the serve rows."""
    return select(rows, [SERVE_KEYS if p == "h" else p for p in patterns])


def sessions_of(rows: Sequence[Row]) -> list[ServeSession]:
    return [r.session for r in rows if isinstance(r, ServeRow) and r.session is not None]


def run_serve_row(ctx: Context, row: ServeRow, revision: int) -> Sample:
    session = row.session
    assert session is not None
    try:
        row.prepare(revision)
    except (OSError, WorkspaceError) as exc:
        session.stop()
        return Sample(None, f"prepare: {exc}")
    try:
        measurement, problem = session.measure_edit()
    finally:
        session.pause()
    _write_log(ctx, row, revision, measurement)
    return Sample(measurement, problem)


@contextlib.contextmanager
def terminations_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP end the benchmark as Ctrl-C does, so that the ``finally`` blocks stop
    the command being measured and the serve process (in sessions of their own, neither would
    get the signal). Handlers someone else set are kept."""
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            previous[sig] = signal.signal(sig, _interrupt)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def run_row(ctx: Context, row: Row, revision: int) -> Sample:
    """Prepare (untimed), run and measure one row once, and check it did what it stands for."""
    if isinstance(row, ServeRow):
        return run_serve_row(ctx, row, revision)
    try:
        cwd = row.prepare(revision)
    except (OSError, WorkspaceError) as exc:
        return Sample(None, f"prepare: {exc}")
    paths = row.expect.paths() if row.expect else []
    before = _stamp(paths)
    env = row.env or ctx.env
    measurement = measure(row.argv, cwd, env, ctx.timeout)
    _write_log(ctx, row, revision, measurement)
    if row.expect is None or not measurement.ok:
        return Sample(measurement)
    after = _stamp(paths)
    moved = [p.name for p in paths if before[p] != after[p] or after[p] is None]
    if row.expect.changed and len(moved) < len(paths):
        still = sorted({p.name for p in paths} - set(moved))
        return Sample(measurement, f"not rebuilt: {', '.join(still)} unchanged")
    if not row.expect.changed and moved:
        return Sample(measurement, f"not a no-op: rewrote {', '.join(moved)}")
    built = _BUILT.search(measurement.output_tail)
    if not row.expect.changed and built:  # re-rendered, though the bytes came out the same
        return Sample(measurement, f"not a no-op: its summary says {built.group(0)}")
    return Sample(measurement)


def _write_log(ctx: Context, row: Row, revision: int, measurement: Measurement) -> None:
    if ctx.log_dir is not None:
        log = ctx.log_dir / f"{revision:03d}-{row.key.replace('/', '_').replace(':', '_')}.log"
        log.write_text(measurement.output_tail, encoding="utf-8")


def run_all(ctx: Context, rows: Sequence[Row], repetitions: int) -> Samples:
    """Every row once per repetition, each repetition starting further along the list."""
    samples: Samples = {row.key: [] for row in rows}
    revision = 0
    for rep in range(repetitions):
        shift = rep * len(rows) // repetitions
        for row in [*rows[shift:], *rows[:shift]]:
            revision += 1
            sample = run_row(ctx, row, revision)
            samples[row.key].append(sample)
            _progress(rep, repetitions, row, sample)
    return samples


def _progress(rep: int, repetitions: int, row: Row, sample: Sample) -> None:
    m = sample.measurement
    figure = "—" if m is None else f"{m.seconds:7.2f} s {m.peak_kib / 1024:5.0f} MiB"
    status = "" if sample.ok else f"  FAILED: {sample.problem or f'exit {m and m.returncode}'}"
    print(f"[{rep + 1}/{repetitions}] {row.key:<36} {figure}{status}", file=sys.stderr, flush=True)


def write_report(
    args: argparse.Namespace,
    ctx: Context,
    rows: Sequence[Row],
    samples: Samples,
    load: tuple[float, float],
) -> str:
    lines = build_lines(rows, samples, PEAK_LIMIT_MIB)
    table = render_table(lines)
    nbconvert = any(r.key.startswith("nbconvert:") for r in rows)
    method = [*METHOD, _threads_note(ctx.raw_threads), _nbconvert_note(nbconvert)]
    method += [note for session in sessions_of(rows) for note in _serve_notes(ctx, session)]
    environment = describe_environment(REPO, labreport_version(ctx), args.source)
    environment.append(
        f"load average (1 min) at start / end: {load[0]:.2f} / {load[1]:.2f} (other work on the "
        "machine slows multi-threaded raw runs most, which flatters the ratios)"
    )
    report = Report(
        command=shlex.join(["python", "bench/run.py", *sys.argv[1:]]),
        repetitions=args.repeat,
        environment=environment,
        method=method,
        table=table,
        missed=render_missed(lines),
        failures=render_failures(rows, samples),
    )
    text = render_results(report, kept_notes(args.output))
    args.output.write_text(text, encoding="utf-8")
    return table


def _threads_note(threads: int | None) -> str:
    if threads is None:
        return (
            "Raw runs use the libraries' default thread count (torch: one per core); labreport "
            "runs each program with one thread."
        )
    return f"Raw runs use {threads} BLAS/OpenMP thread(s) (`--raw-threads {threads}`)."


def _nbconvert_note(measured: bool) -> str:
    if measured:
        return "The floor of (c) is `jupyter nbconvert --execute` measured on one-cell notebooks."
    return (
        "nbconvert is not installed here, so the floor of (c) is an **estimate**: the raw time × "
        "1.6, the lowest ratio of nbconvert to the raw run measured on this kind of machine "
        "(1.6× exp10-like, 2.4× exp5-like; 3.3 s for an empty notebook)."
    )


def _serve_poll_seconds(ctx: Context) -> tuple[float, float] | None:
    """``POLL_SECONDS`` and ``SETTLE_SECONDS`` of the labreport measured (``--source`` too)."""
    code = (
        "from labreport import serve; "
        "print(serve.POLL_SECONDS, getattr(serve, 'SETTLE_SECONDS', serve.POLL_SECONDS / 2))"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], env=ctx.env, capture_output=True, text=True, timeout=60
        )
        poll, settle = (float(x) for x in done.stdout.split())
        return (poll, settle) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None


def _serve_notes(ctx: Context, session: ServeSession) -> list[str]:
    """How row (h) was measured, with its polling delay and the programs its rebuilds re-ran."""
    program = session.program
    timing = _serve_poll_seconds(ctx)
    if timing is None:
        delay = "serve's polling delay (its poll interval is unknown here)"
    else:
        poll, settle = timing
        delay = (
            f"serve's polling delay: it compares the watched files' modification times every "
            f"{poll:g} s and, on a change, waits {settle:g} s more before building, so "
            f"{settle:g}–{poll + settle:g} s ({poll / 2 + settle:g} s on average) of each time "
            "is that wait"
        )
    every = [p.code for p in ctx.workspace.programs(program.experiment)]
    if not session.reruns:
        ran = "no rebuild succeeded, so which programs it re-runs was not observed"
    else:
        counts = sorted({len(r) for r in session.reruns})
        names = sorted({code for r in session.reruns for code in r})
        ran = (
            f"each rebuild re-ran {' or '.join(map(str, counts))} of {program.experiment}'s "
            f"{len(every)} programs ({', '.join(names) or 'none'}; from serve's log)"
        )
        if counts == [len(every)] and len(every) > 1:
            ran += (
                ": the run cache's key covers every file of the experiment folder, so a change "
                "to one program re-runs all of them"
            )
    return [
        f"(h) `serve-edit`: one `labreport serve {program.experiment} --port P` is started after "
        "the warm-up (untimed, its first build awaited; if that came from the run cache, one "
        "untimed edit makes it run the programs, so its warm interpreter holds torch) and kept "
        "across the repetitions, paused (SIGSTOP) while the other rows run; before its own run "
        "it is resumed and, if another row changed a file it watches, its rebuild for that is "
        "awaited, untimed. Each run rewrites "
        f"`{program.code}` with a new last line `# edit N` and is timed from that write until "
        f"`/__labreport__/status` (polled every {POLL_INTERVAL * 1000:.0f} ms) shows a new "
        f"generation with no error for {program.experiment}; a failed rebuild, or none within "
        "`--timeout`, is a failed run.",
        f"(h) The time includes {delay}; {ran}. Its peak MiB is the serve process's VmHWM since "
        "it started (it renders in-process; the programs run in forks of its warm interpreter, "
        "other processes).",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workspace = Workspace(REPO)
    try:
        env = command_env(args.source)
        ctx = Context(workspace, labreport_command(), env, args.timeout, args.raw_threads)
        if args.keep:
            ctx.log_dir = workspace.tmp / "logs"
            ctx.log_dir.mkdir()
        nbconvert = importlib.util.find_spec("nbconvert") is not None
        planned = build_rows(ctx, nbconvert)
        rows = select_rows([*planned, *serve_rows(ctx, planned)], args.only)
        if not rows:
            print(f"error: no row matches {' '.join(args.only)} (see --list)", file=sys.stderr)
            return 2
        if args.list:
            for row in rows:
                print(f"{row.group}  {row.key:<36} {row.label}")
            return 0
        load_start = os.getloadavg()[0]
        try:
            with terminations_interrupt():
                setup(ctx, rows)
                samples = run_all(ctx, rows, args.repeat)
        finally:
            for session in sessions_of(rows):
                session.stop()
        load = (load_start, os.getloadavg()[0])
        print(write_report(args, ctx, rows, samples, load))
        print(f"written to {args.output}", file=sys.stderr)
        return 0
    except WorkspaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"project copy and logs kept in {workspace.tmp}", file=sys.stderr)
        else:
            workspace.close()


if __name__ == "__main__":
    sys.exit(main())
