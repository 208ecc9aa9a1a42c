"""The class row of the benchmark (issue 17, point 6): a whole class built by `labreport class`.

``python bench/class_bench.py`` generates N student projects (default 30) from the course's
experiments named by ``--experiments`` (default exp5, the course's cheapest record: one NumPy
program), each with its own name and ID and ``[student] seeds = "student"``, so that every
student's program runs with a seed of its own. It then times, interleaved over ``--reps``
repetitions:

- ``raw``: every student's programs run directly (``python PROG --seed S`` with the seed the
  student's build derives, in a fresh copy of the experiment folder), one after another. Their
  sum is the floor of the two rows below;
- ``class-local``: ``labreport class SUBMISSIONS --format html -j JOBS`` with local processes;
- ``class-dask``: the same with ``--executor dask://...`` on a ``distributed.LocalCluster`` of two
  worker processes of one thread each, started (untimed) by this script.

It prints one table (median wall seconds, records per minute, ratio to the raw sum) and writes
it to ``bench/CLASS.md``. HTML records only (``--format html``): the PDF layouts and the books are
the same work with or without a class and are measured by ``bench/run.py``. Nothing here is a
test: these are measurements on a shared machine, and the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LABREPORT = Path(sys.executable).with_name("labreport")
TOML = """\
[course]
title = "DEEP LEARNING"
codes = "23AD2205R/A"
academic_year = "2024-25"

[student]
name = "Student {n:02d}"
id = "2100{n:06d}"
section = "S{section}"
seeds = "student"
"""


@dataclass(frozen=True)
class RawRun:
    """One program of one student, run directly: the floor."""

    folder: Path  # the experiment folder of the student's project
    code: str
    args: tuple[str, ...]


def make_class(root: Path, students: int, experiments: list[str]) -> list[RawRun]:
    """``students`` projects under ``root`` and the raw run of each of their programs, with the
    seeds their builds will use (labreport's own resolver, so the floor runs the same work)."""
    from labreport.seeds import STUDENT, resolve_seeds
    from labreport.spec import load_experiment

    runs = []
    for n in range(1, students + 1):
        project = root / f"student{n:02d}"
        (project / "experiments").mkdir(parents=True)
        (project / "labreport.toml").write_text(TOML.format(n=n, section=n % 3 + 1))
        for exp in experiments:
            folder = project / "experiments" / exp
            shutil.copytree(
                REPO / "experiments" / exp, folder, ignore=shutil.ignore_patterns("__pycache__")
            )
            source = resolve_seeds(load_experiment(folder), f"2100{n:06d}", STUDENT)
            runs += [RawRun(folder, p.code, tuple(p.run_args)) for p in source.spec.programs]
    return runs


def time_raw(runs: list[RawRun], scratch: Path) -> float:
    """The sum of the raw runs' wall times, each in a fresh copy of its experiment folder."""
    total = 0.0
    env = {**os.environ, "MPLBACKEND": "Agg"}
    for i, run in enumerate(runs):
        work = scratch / f"raw{i}"
        shutil.copytree(run.folder, work)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, run.code, *run.args], cwd=work, env=env, check=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        total += time.perf_counter() - start
        shutil.rmtree(work)
    return total


def time_class(subs: Path, out: Path, jobs: int, executor: str | None) -> float:
    """One cold `labreport class` (a fresh output folder; each student builds in a fresh scratch
    copy with its own empty run cache, so every program runs)."""
    shutil.rmtree(out, ignore_errors=True)
    command = [str(LABREPORT), "class", str(subs), "--out", str(out), "--format", "html"]
    command += ["-j", str(jobs)] + (["--executor", executor] if executor else [])
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"class build failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--experiments", nargs="+", default=["exp5"])
    parser.add_argument("--reps", type=int, default=1, help="repetitions (medians are shown)")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask row")
    args = parser.parse_args()

    load_start = os.getloadavg()[0]
    times: dict[str, list[float]] = {"raw": [], "class-local": [], "class-dask": []}
    with tempfile.TemporaryDirectory(prefix="labreport-class-bench-") as tmp:
        root = Path(tmp)
        runs = make_class(root / "subs", args.students, args.experiments)
        cluster = None
        rows: list[tuple[str, Callable[[], float]]] = [
            ("raw", lambda: time_raw(runs, root)),
            ("class-local", lambda: time_class(root / "subs", root / "out", args.jobs, None)),
        ]
        if not args.no_dask:
            import distributed

            cluster = distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                protocol="tcp", host="127.0.0.1",
            )  # fmt: skip
            address = cluster.scheduler_address.replace("tcp://", "dask://")
            rows.append(
                ("class-dask", lambda: time_class(root / "subs", root / "out", args.jobs, address))
            )
        try:
            for rep in range(args.reps):
                for key, measure in rows:
                    seconds = measure()
                    times[key].append(seconds)
                    print(f"rep {rep + 1}: {key} {seconds:.1f} s", file=sys.stderr)
        finally:
            if cluster is not None:
                cluster.close()
    load_end = os.getloadavg()[0]
    records = args.students * len(args.experiments)
    raw = times["raw"]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        "# Class benchmark (issue 17, point 6)",
        "",
        f"Written by `python bench/class_bench.py` on {when}: "
        f"{args.students} generated student projects of {', '.join(args.experiments)} "
        f'(`[student] seeds = "student"`: every student\'s own seed), {records} HTML records, '
        f"{args.reps} repetition(s), rows interleaved within each, `-j {args.jobs}`.",
        "",
        f"- machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}",
        f"- load average (1 min) at start / end: {load_start:.2f} / {load_end:.2f}",
        "- ratio: each repetition's time over the raw sum of the *same* repetition (so both saw "
        "the same load), then the median of those ratios; seconds are medians.",
        "",
        "| row | what | each repetition, s | median s | records / min | ratio to raw sum |",
        "|---|---|---|---:|---:|---:|",
    ]
    what = {
        "raw": "every student's programs run directly, one after another (the floor)",
        "class-local": "`labreport class --format html`, local processes",
        "class-dask": "the same, `--executor dask://…`, a 2-worker `LocalCluster` (processes)",
    }
    for key in ("raw", "class-local", "class-dask"):
        if not times[key]:
            continue
        median = statistics.median(times[key])
        ratio = statistics.median(s / r for s, r in zip(times[key], raw, strict=True))
        each = ", ".join(f"{s:.1f}" for s in times[key])
        lines.append(
            f"| {key} | {what[key]} | {each} | {median:.1f} | {records / median * 60:.1f} "
            f"| {ratio:.2f}× |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    (REPO / "bench" / "CLASS.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
