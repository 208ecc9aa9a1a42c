"""The speed benchmark of issue 7: labreport against the raw runs of its programs.

    python bench/run.py                 # 5 repetitions of every row, writes bench/RESULTS.md
    python bench/run.py --quick         # 1 repetition: checks the script (a few minutes)
    python bench/run.py --only b g      # some rows (keys, patterns or items a–g); --list shows them

Every command runs as its own process against a private copy of the project (``labreport.toml``
and ``experiments/`` in a temporary folder), so the edits never touch the repository. Rows are
interleaved: each repetition runs every row once, starting one step further along the list, so
the machine's noise falls on all of them alike. Timing lives here, never in the tests.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from plan import Context, Row, build_rows, select
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
from timing import POLL_INTERVAL, measure
from workspace import Workspace, WorkspaceError

REPO = Path(__file__).resolve().parent.parent
PEAK_LIMIT_MIB = 150.0
#: "Summary: 2 built (...)" in labreport's output: a build that re-rendered something.
_BUILT = re.compile(r"\b[1-9][0-9]* built\b")
METHOD = [
    "Times are whole-process wall clock, from start to exit, with `MPLBACKEND=Agg`.",
    "A floor is summed within each repetition, then its median taken; ratio = median / floor.",
    "`cold` = `--force`: every program re-runs; the run cache folder exists (a warm-up "
    "`build --all` fills it before the first repetition).",
    "Edit rows change the copy's spec or its ejected theme's CSS before each run (untimed); a run "
    "that does not rewrite the record, or a no-op that writes one, is counted as failed.",
    f"Peak MiB is the process's own VmHWM (/proc/PID/status), polled every "
    f"{POLL_INTERVAL * 1000:.0f} ms; for a build it excludes the programs and the warm "
    "interpreter, which are other processes.",
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
        help="rows to run: keys, shell patterns (cold-*) or items a-g; floors come along",
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
    """Untimed: eject the themes the edit rows change into the copy, and fill the run cache once,
    so the edit rows rebuild from it (and the first repetition does not meet cold disk caches)."""
    for theme in sorted({row.theme for row in rows if row.theme}):
        if not (ctx.workspace.templates / theme).is_dir():
            _try_settle(ctx, "templates", "eject", theme)
    if any(row.needs_cache for row in rows):
        print("warm-up: labreport build --all (untimed)", file=sys.stderr, flush=True)
        _try_settle(ctx, "build", "--all", "-q")


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


def run_row(ctx: Context, row: Row, revision: int) -> Sample:
    """Prepare (untimed), run and measure one row once, and check it did what it stands for."""
    try:
        cwd = row.prepare(revision)
    except (OSError, WorkspaceError) as exc:
        return Sample(None, f"prepare: {exc}")
    paths = row.expect.paths() if row.expect else []
    before = _stamp(paths)
    env = row.env or ctx.env
    measurement = measure(row.argv, cwd, env, ctx.timeout)
    if ctx.log_dir is not None:
        log = ctx.log_dir / f"{revision:03d}-{row.key.replace('/', '_').replace(':', '_')}.log"
        log.write_text(measurement.output_tail, encoding="utf-8")
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
        rows = select(build_rows(ctx, nbconvert), args.only)
        if not rows:
            print(f"error: no row matches {' '.join(args.only)} (see --list)", file=sys.stderr)
            return 2
        if args.list:
            for row in rows:
                print(f"{row.group}  {row.key:<36} {row.label}")
            return 0
        load_start = os.getloadavg()[0]
        setup(ctx, rows)
        samples = run_all(ctx, rows, args.repeat)
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
